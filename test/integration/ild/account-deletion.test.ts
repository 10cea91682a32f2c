import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { deletionRequests, erasures, imageDeletions, oneTimeTokens, securityEvents } from "../../../src/db/schema.ts";
import { sha256 } from "../../../src/lib/encoding.ts";
import { deleteDueAccounts, eraseLeftovers } from "../../../src/services/account-deletion.ts";
import { NO_REQUEST } from "../../../src/services/deps.ts";
import { issueOneTimeToken } from "../../../src/services/one-time-tokens.ts";
import { objectKeyOf, storeImage } from "../../../src/services/profile-images.ts";
import { limiterObjectName } from "../../../src/services/rate-limits.ts";
import { IMAGES } from "../../fixtures/images.ts";
import { db, userRow } from "../../helpers/d1.ts";
import { createUser, ildLogin, kc7Login, PASSWORD, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson } from "../../helpers/http.ts";
import { mailFor, tokenFromMail } from "../../helpers/mail.ts";
import { deviceSession, eventsAbout, eventsAt, ildRefresh } from "../../helpers/requests.ts";
import { uniqueIp } from "../../helpers/unique.ts";

/** DELETE /user/account, POST /sign/account/cancel-deletion, the cron's deletion, DELETE /user/{userId}. */

const DAY = 24 * 60 * 60 * 1000;

const requestDeletion = (token: string, body: unknown) =>
	send("/user/account", {
		method: "DELETE",
		headers: { ...bearer(token), "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});

let admin: { id: number; token: string };
beforeAll(async () => {
	const { user, token } = await userWithToken(["Admin"]);
	admin = { id: user.id, token };
});

/** A user who asked for deletion: their (now dead) access token and the cancel token from the mail. */
async function scheduled() {
	const user = await createUser();
	const { token } = await ildLogin(user.email);
	const res = await requestDeletion(token, { password: PASSWORD });
	expect(res.status).toBe(202);
	const { deletionScheduledFor } = (await res.json()) as { deletionScheduledFor: string };
	const mail = await mailFor(user.email, /Your account will be deleted/);
	return { user, token, deletionScheduledFor, cancelToken: tokenFromMail(mail.text) };
}

const requestRow = (userId: number) =>
	db().select().from(deletionRequests).where(eq(deletionRequests.userId, userId)).get();

/** Makes the user's deletion due now (the grace is over). */
const makeDue = (userId: number) =>
	db()
		.update(deletionRequests)
		.set({ scheduledFor: Date.now() - 1000 })
		.where(eq(deletionRequests.userId, userId));

const cronDeps = (overrides: Partial<Env> = {}) => ({ db: db(), env: { ...env, ...overrides }, request: NO_REQUEST });

describe("DELETE /user/account", () => {
	it("202 with the date 7 days ahead; every session ends; a mail with a cancel link; the event", async () => {
		const user = await createUser();
		const other = await deviceSession(user.id);
		const { token } = await ildLogin(user.email);
		const before = Date.now();
		const res = await requestDeletion(token, { password: PASSWORD });
		expect(res.status).toBe(202);
		const { deletionScheduledFor } = (await res.json()) as { deletionScheduledFor: string };
		const at = Date.parse(deletionScheduledFor);
		expect(at).toBeGreaterThanOrEqual(before + 7 * DAY);
		expect(at).toBeLessThanOrEqual(Date.now() + 7 * DAY);
		for (const t of [token, other.token]) await expectError(await send("/user/profile", { headers: bearer(t) }), 401);
		await expectError(await ildRefresh(other.refresh), 401);
		const mail = await mailFor(user.email, /Your account will be deleted/);
		expect(mail.text).toContain("/cancel-deletion?token=");
		expect(mail.text).toContain(deletionScheduledFor);
		expect(await requestRow(user.id)).toMatchObject({ scheduledFor: at });
		const [event] = await eventsAbout(admin.token, user.id, "account.deletion_requested");
		expect(event?.detail).toMatchObject({ scheduledFor: deletionScheduledFor });
		// The account still exists during the grace.
		expect(await userRow(user.id)).toBeDefined();
	});

	it('refuses a wrong password with 400 "Password is incorrect" and changes nothing', async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		await expectError(await requestDeletion(token, { password: "wrong-password" }), 400, "Password is incorrect");
		expect(await requestRow(user.id)).toBeUndefined();
		expect((await send("/user/profile", { headers: bearer(token) })).status).toBe(200);
	});

	it("an account without a password (provisioned) cannot delete itself: only an Admin can", async () => {
		const user = await createUser({ password: null });
		const { token } = await deviceSession(user.id);
		await expectError(await requestDeletion(token, { password: PASSWORD }), 400, "Password is incorrect");
		expect(await requestRow(user.id)).toBeUndefined();
	});

	it("refuses malformed bodies (400) and missing or dead tokens (401)", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		await expectError(await requestDeletion(token, {}), 400);
		await expectError(await requestDeletion(token, { password: PASSWORD, now: true }), 400);
		await expectError(await requestDeletion("a.b.c", { password: PASSWORD }), 401);
		const res = await send("/user/account", {
			method: "DELETE",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ password: PASSWORD }),
		});
		await expectError(res, 401);
		expect(await requestRow(user.id)).toBeUndefined();
	});
});

describe("cancelling during the grace", () => {
	it("by the mailed link: 200, the account is kept, the link is single use", async () => {
		const { user, cancelToken } = await scheduled();
		const res = await sendJson("/sign/account/cancel-deletion", { token: cancelToken });
		expect(res.status).toBe(200);
		expect(await requestRow(user.id)).toBeUndefined();
		const [event] = await eventsAbout(admin.token, user.id, "account.deletion_cancelled");
		expect(event?.detail).toMatchObject({ by: "link" });
		await expectError(
			await sendJson("/sign/account/cancel-deletion", { token: cancelToken }),
			400,
			"Invalid or expired token",
		);
		// A cancelled deletion is never carried out.
		await deleteDueAccounts(cronDeps(), Date.now() + 8 * DAY);
		expect(await userRow(user.id)).toBeDefined();
	});

	it("refuses unknown and malformed tokens with 400", async () => {
		await expectError(
			await sendJson("/sign/account/cancel-deletion", { token: "C".repeat(43) }),
			400,
			"Invalid or expired token",
		);
		await expectError(await sendJson("/sign/account/cancel-deletion", { token: "" }), 400);
		await expectError(await sendJson("/sign/account/cancel-deletion", {}), 400);
	});

	for (const surface of ["POST /sign/login", "POST /api/auth"] as const) {
		it(`by a password sign-in (${surface}): cancelled with detail.by "sign_in", and the link closes`, async () => {
			const { user, cancelToken } = await scheduled();
			if (surface === "POST /sign/login") await ildLogin(user.email);
			else await kc7Login(user.username as string);
			expect(await requestRow(user.id)).toBeUndefined();
			const events = await eventsAbout(admin.token, user.id, "account.deletion_cancelled");
			expect(events.map((e) => e.detail.by)).toEqual(["sign_in"]);
			await expectError(await sendJson("/sign/account/cancel-deletion", { token: cancelToken }), 400);
		});
	}

	it("a wrong password cancels nothing, and a login link signs in without cancelling", async () => {
		const { user } = await scheduled();
		const wrong = await sendJson("/sign/login", { email: user.email, password: "not-the-password" });
		expect(wrong.status).toBe(401);
		const link = await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId: user.id });
		expect((await send(`/auth/token-login?token=${link.token}`)).status).toBe(200);
		expect(await requestRow(user.id)).toBeDefined();
		expect(await eventsAbout(admin.token, user.id, "account.deletion_cancelled")).toEqual([]);
	});
});

/** A user with everything an account can own, scheduled for deletion and due. */
async function fullAccount() {
	const user = await createUser();
	const { token } = await ildLogin(user.email, PASSWORD);
	const imageKey = await storeImage(env.PROFILE_IMAGES, IMAGES["image/png"], "image/png", user.id);
	await db().run(sql`update users set profile_image_key = ${imageKey} where id = ${user.id}`);
	const reset = await issueOneTimeToken({ db: db(), env }, { purpose: "password-reset", userId: user.id });
	// A failed sign-in leaves state in the account's limiter.
	await sendJson(
		"/sign/login",
		{ email: user.email, password: "not-the-password" },
		{ headers: { "CF-Connecting-IP": uniqueIp() } },
	);
	expect((await requestDeletion(token, { password: PASSWORD })).status).toBe(202);
	await makeDue(user.id);
	const limiter = await limiterObjectName({ name: "loginAccount", key: `user:${user.id}` });
	return { user, imageKey, resetHash: await sha256(reset.token), limiter };
}

async function limiterHits(name: string) {
	return runInDurableObject(env.RATE_LIMITER.getByName(name), async (_, state) =>
		state.storage.kv.get<number[]>("hits"),
	);
}

/** Columns that hold a user id. */
const USER_ID_COLUMN = /^(user_id|owner_user_id|provisioned_by|created_by|actor_id)$/;

/** Every row anywhere in D1 that still names the user (by id or email), as `table.column`. */
async function rowsNaming(userId: number, email: string) {
	const tables = await env.DB.prepare(
		"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'",
	).all<{ name: string }>();
	const found: string[] = [];
	for (const { name: table } of tables.results) {
		const columns = await env.DB.prepare(`SELECT name FROM pragma_table_info('${table}')`).all<{ name: string }>();
		for (const { name: column } of columns.results) {
			// Events about the account stay, by the contract (their personal fields are checked apart).
			if (table === "security_events" && (column === "user_id" || column === "actor_id")) continue;
			const byId = USER_ID_COLUMN.test(column) || (table === "users" && column === "id");
			const value = byId ? userId : email;
			const hit = await env.DB.prepare(`SELECT count(*) AS n FROM "${table}" WHERE "${column}" = ?1`)
				.bind(value)
				.first<{ n: number }>();
			if (hit && hit.n > 0) found.push(`${table}.${column}`);
		}
	}
	return found;
}

describe("when the grace ends (the daily cron)", () => {
	it("deletes the account everywhere: D1 rows, the R2 image, KV copies, limiter state; events stay without personal fields", async () => {
		const { user, imageKey, resetHash, limiter } = await fullAccount();
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(imageKey))).not.toBeNull();
		expect(await env.TOKENS.get(`ott:${resetHash}`)).not.toBeNull();
		expect(await limiterHits(limiter)).toBeDefined();

		expect(await deleteDueAccounts(cronDeps())).toBeGreaterThanOrEqual(1);

		expect(await userRow(user.id)).toBeUndefined();
		expect(await rowsNaming(user.id, user.email)).toEqual([]);
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(imageKey))).toBeNull();
		expect(await env.TOKENS.get(`ott:${resetHash}`)).toBeNull();
		expect(await limiterHits(limiter)).toBeUndefined();
		expect(await db().select().from(erasures)).toEqual([]);
		const events = await db().select().from(securityEvents).where(eq(securityEvents.userId, user.id));
		expect(events.map((e) => e.type)).toContain("login.succeeded");
		expect(events.map((e) => e.type)).toContain("account.deleted");
		for (const e of events) {
			expect([e.ip, e.userAgent, e.country]).toEqual([null, null, null]);
			expect(e.detail).not.toContain(user.email);
		}
		const deleted = events.find((e) => e.type === "account.deleted");
		expect(deleted).toMatchObject({ actorType: "system", outcome: "success" });
		expect(JSON.parse(deleted?.detail ?? "{}")).toEqual({ by: "schedule" });
		// The address is free again.
		const res = await sendJson("/sign/register", {
			email: user.email,
			password: "a-new-long-passphrase",
			firstName: "A",
			lastName: "B",
		});
		expect(res.status).toBe(201);
	});

	it("leaves accounts whose grace has not ended", async () => {
		const { user } = await scheduled();
		await deleteDueAccounts(cronDeps());
		expect(await userRow(user.id)).toBeDefined();
		expect(await requestRow(user.id)).toBeDefined();
	});

	it("runs from the Worker's scheduled handler", async () => {
		const { user } = await fullAccount();
		const { createExecutionContext, createScheduledController, waitOnExecutionContext } = await import(
			"cloudflare:test"
		);
		const worker = (await import("../../../src/index.ts")).default;
		const ctx = createExecutionContext();
		await worker.scheduled(createScheduledController({ cron: "17 3 * * *" }), env, ctx);
		await waitOnExecutionContext(ctx);
		expect(await userRow(user.id)).toBeUndefined();
	});
});

describe("a deletion interrupted at any step and run again", () => {
	/** The state a client can reach: the user row (sign-in, tokens, profile), the image, the token's KV copy. */
	async function reachable(f: Awaited<ReturnType<typeof fullAccount>>) {
		return {
			user: (await userRow(f.user.id)) !== undefined,
			image: (await env.PROFILE_IMAGES.head(objectKeyOf(f.imageKey))) !== null,
		};
	}

	const failing = <T extends object>(target: T, method: string): T =>
		new Proxy(target, {
			get(t, prop) {
				if (prop === method) return () => Promise.reject(new Error(`injected ${method} failure`));
				const value = Reflect.get(t, prop, t);
				return typeof value === "function" ? value.bind(t) : value;
			},
		});

	const STEPS: { name: string; env: () => Partial<Env>; whole: boolean }[] = [
		{ name: "the D1 batch", env: () => ({ DB: failing(env.DB, "batch") }), whole: true },
		{
			name: "the R2 image delete",
			env: () => ({ PROFILE_IMAGES: failing(env.PROFILE_IMAGES, "delete") }),
			whole: false,
		},
		{ name: "the KV copy delete", env: () => ({ TOKENS: failing(env.TOKENS, "delete") }), whole: false },
		{
			name: "the limiter erase",
			env: () => ({
				RATE_LIMITER: new Proxy(env.RATE_LIMITER, {
					get(target, prop) {
						if (prop === "getByName") return (name: string) => failing(target.getByName(name), "forget");
						const value = Reflect.get(target, prop, target);
						return typeof value === "function" ? value.bind(target) : value;
					},
				}),
			}),
			whole: false,
		},
	];

	for (const step of STEPS) {
		it(`failing at ${step.name}: ${step.whole ? "the whole account stays" : "nothing is reachable"}, and a re-run finishes exactly once`, async () => {
			const f = await fullAccount();
			const broken = step.env();
			const deps = {
				...cronDeps(broken),
				db: broken.DB ? (await import("../../../src/db/client.ts")).createDb(broken.DB) : db(),
			};
			await expect(deleteDueAccounts(deps)).rejects.toThrow(/injected/);
			if (step.whole) {
				expect(await reachable(f)).toEqual({ user: true, image: true });
				expect(await requestRow(f.user.id)).toBeDefined();
				expect(
					await db()
						.select()
						.from(securityEvents)
						.where(and(eq(securityEvents.type, "account.deleted"), eq(securityEvents.userId, f.user.id))),
				).toEqual([]);
				await ildLogin(f.user.email); // still a working account (and this sign-in would cancel: re-schedule)
				await db()
					.insert(deletionRequests)
					.values({ userId: f.user.id, requestedAt: Date.now(), scheduledFor: Date.now() - 1 })
					.onConflictDoNothing();
			} else {
				expect((await reachable(f)).user).toBe(false);
				await expectError(await sendJson("/sign/login", { email: f.user.email, password: PASSWORD }), 401);
			}
			// The next run (all stores working) finishes; nothing is done twice.
			await deleteDueAccounts(cronDeps());
			await eraseLeftovers(cronDeps());
			expect(await reachable(f)).toEqual({ user: false, image: false });
			expect(await env.TOKENS.get(`ott:${f.resetHash}`)).toBeNull();
			expect(await limiterHits(f.limiter)).toBeUndefined();
			expect(await db().select().from(erasures)).toEqual([]);
			expect(await db().select().from(imageDeletions).where(eq(imageDeletions.reason, "deleted"))).toEqual([]);
			const deleted = await db()
				.select()
				.from(securityEvents)
				.where(sql`${securityEvents.userId} = ${f.user.id} and ${securityEvents.type} = 'account.deleted'`);
			expect(deleted).toHaveLength(1);
			expect(await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.userId, f.user.id))).toEqual([]);
		});
	}
});

describe("DELETE /user/{userId} (Admin)", () => {
	it("204: deleted at once, its tokens stop, its address is free, account.deleted by the admin", async () => {
		const user = await createUser({ password: null }); // provisioned: only an Admin can delete it
		const session = await deviceSession(user.id);
		const res = await send(`/user/${user.id}`, { method: "DELETE", headers: bearer(admin.token) });
		expect(res.status).toBe(204);
		expect(await res.text()).toBe("");
		expect(await userRow(user.id)).toBeUndefined();
		await expectError(await send("/user/profile", { headers: bearer(session.token) }), 401);
		// Events about a deleted account are read from the whole log (the account's own path is 404 now).
		const events = await eventsAt(admin.token, "/security-events?type=account.deleted");
		expect(events.find((e) => e.userId === user.id)).toMatchObject({
			actor: { type: "admin", id: admin.id },
			detail: { by: "admin" },
		});
		await createUser({ email: user.email });
		await expectError(
			await send(`/user/${user.id}`, { method: "DELETE", headers: bearer(admin.token) }),
			404,
			"User not found",
		);
	});

	it("403 for oneself and for non-Admins, 401 without a token, 404 for unknown ids", async () => {
		await expectError(
			await send(`/user/${admin.id}`, { method: "DELETE", headers: bearer(admin.token) }),
			403,
			"Admins cannot delete themselves",
		);
		expect(await userRow(admin.id)).toBeDefined();
		const target = await createUser();
		for (const roles of [[], ["Manager"], ["API"]] as const) {
			const { token } = await userWithToken([...roles]);
			await expectError(await send(`/user/${target.id}`, { method: "DELETE", headers: bearer(token) }), 403);
		}
		await expectError(await send(`/user/${target.id}`, { method: "DELETE" }), 401);
		await expectError(await send("/user/999999999", { method: "DELETE", headers: bearer(admin.token) }), 404);
		expect(await userRow(target.id)).toBeDefined();
	});
});

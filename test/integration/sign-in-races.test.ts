import { env } from "cloudflare:workers";
import { and, eq, isNull } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { securityEvents, sessions, userRoles, users } from "../../src/db/schema.ts";
import { banUser } from "../../src/services/bans.ts";
import { createIntegrationKey } from "../../src/services/integration-keys.ts";
import fixtureFile from "../fixtures/werkzeug/fixtures.json";
import { db, serviceDeps, userRow } from "../helpers/d1.ts";
import { createUser, loginLinkToken, PASSWORD, sessionToken } from "../helpers/factories.ts";
import { bearer, refreshCookieOf, send, sendJson, sendWith, withCookie } from "../helpers/http.ts";
import { mailFor, tokenFromMail } from "../helpers/mail.ts";
import { uniqueIp } from "../helpers/unique.ts";

/**
 * A change that lands while a sign-in is between its checks and its write: a D1 wrapper runs the competing change
 * right before the first batch that inserts a session (a password sign-in's first batch; a login link's claim and
 * session), or whatever `before` matches, deterministically.
 */
function withChangeBeforeFirstBatch(change: () => Promise<unknown>, before = /^insert into "sessions"/i): D1Database {
	let done = false;
	const sqlOf = new WeakMap<object, string>();
	// The binding and the D1 sessions it opens (every request reads through one): prepare records each statement's
	// SQL (bind returns a new statement: it inherits it), batch waits for the change once.
	const hooked = <T extends object>(db: T): T =>
		new Proxy(db, {
			get(target, prop) {
				// biome-ignore lint/suspicious/noExplicitAny: the binding's or session's own methods, forwarded
				const value: any = Reflect.get(target, prop);
				if (prop === "withSession") return (start: string) => hooked(value.call(target, start));
				if (prop === "prepare")
					return (query: string) => {
						const statement = value.call(target, query) as D1PreparedStatement;
						const bind = statement.bind.bind(statement);
						statement.bind = (...values: unknown[]) => {
							const bound = bind(...values);
							sqlOf.set(bound, query);
							return bound;
						};
						sqlOf.set(statement, query);
						return statement;
					};
				if (prop === "batch")
					return async (statements: D1PreparedStatement[]) => {
						if (!done && statements.some((st) => before.test(sqlOf.get(st) ?? ""))) {
							done = true;
							await change();
						}
						return value.call(target, statements);
					};
				return typeof value === "function" ? value.bind(target) : value;
			},
		});
	return hooked(env.DB);
}

/** An account as the KC7 import leaves it: a Werkzeug hash (test/fixtures/werkzeug) and its password. */
async function legacyAccount(fixtureId: string) {
	const legacy = (fixtureFile as { fixtures: { id: string; password: string; hash: string }[] }).fixtures.find(
		(f) => f.id === fixtureId,
	) as { password: string; hash: string };
	const user = await createUser({ password: null });
	await db().update(users).set({ passwordHash: legacy.hash }).where(eq(users.id, user.id));
	return { user, legacy };
}

const signIn = (email: string, password: string, DB: D1Database, path = "/sign/login") =>
	sendWith({ DB }, path, {
		method: "POST",
		headers: { "Content-Type": "application/json", "CF-Connecting-IP": uniqueIp() },
		body: JSON.stringify(path === "/sign/login" ? { email, password } : { username: email, password }),
	});

const liveSessions = async (userId: number) =>
	db()
		.select({ id: sessions.id })
		.from(sessions)
		.where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)));

describe("a change between a sign-in's password check and its write wins", () => {
	it.each(["/sign/login", "/api/auth"])(
		"a password reset: %s opens no session and writes no login event",
		async (path) => {
			const user = await createUser();
			const reset = withChangeBeforeFirstBatch(() =>
				db()
					.update(users)
					.set({ passwordHash: "pbkdf2-sha256$i=100000$p=t2$new$new", updatedAt: Date.now() })
					.where(eq(users.id, user.id)),
			);
			const res = await signIn(path === "/sign/login" ? user.email : (user.username as string), PASSWORD, reset, path);
			expect(res.status).toBe(401);
			expect(refreshCookieOf(res)).toBeNull();
			expect(await liveSessions(user.id)).toEqual([]);
			const events = await db().select().from(securityEvents).where(eq(securityEvents.userId, user.id));
			expect(events.map((e) => e.type)).not.toContain("login.succeeded");
		},
	);

	it("a ban: the sign-in opens no session, so none survives the ban to come back after an unban", async () => {
		const user = await createUser();
		const ban = withChangeBeforeFirstBatch(() =>
			db().update(users).set({ bannedAt: Date.now(), bannedUntil: null }).where(eq(users.id, user.id)),
		);
		const res = await signIn(user.email, PASSWORD, ban);
		expect(res.status).toBe(401);
		expect(await liveSessions(user.id)).toEqual([]);
	});

	it("a KC7 account's first sign-in does not put its old password back over a reset", async () => {
		const { user, legacy } = await legacyAccount("pbkdf2-sha256-260000");
		// The victim's reset stores a new (current-format) hash while the attacker's old-password sign-in is in flight.
		const resetHash = (await userRow((await createUser()).id))?.passwordHash as string; // PASSWORD, current format
		const reset = withChangeBeforeFirstBatch(() =>
			db().update(users).set({ passwordHash: resetHash }).where(eq(users.id, user.id)),
		);
		expect((await signIn(user.email, legacy.password, reset)).status).toBe(401);
		expect((await userRow(user.id))?.passwordHash).toBe(resetHash);
		// The new password works, the old one does not.
		const ok = await signIn(user.email, PASSWORD, env.DB);
		expect(ok.status).toBe(200);
		expect((await sendWith({}, "/sign/refresh", { headers: withCookie(refreshCookieOf(ok) as string) })).status).toBe(
			200,
		);
		expect((await signIn(user.email, legacy.password, env.DB)).status).toBe(401);
	});

	it("a ban: a KC7 account's sign-in opens no session, so its legacy hash stays as imported", async () => {
		const { user, legacy } = await legacyAccount("sha256-legacy");
		const ban = withChangeBeforeFirstBatch(() =>
			db().update(users).set({ bannedAt: Date.now(), bannedUntil: null }).where(eq(users.id, user.id)),
		);
		expect((await signIn(user.email, legacy.password, ban)).status).toBe(401);
		expect(await liveSessions(user.id)).toEqual([]);
		// Contract (KC7 import): "Only a sign-in that opens a session replaces a legacy hash."
		expect((await userRow(user.id))?.passwordHash).toBe(legacy.hash);
	});

	it("a concurrent re-encoding of the same password (another sign-in's upgrade) still lets the sign-in through", async () => {
		const { user, legacy } = await legacyAccount("sha256-legacy");
		// Another sign-in with the same password upgrades the hash first.
		const upgradeFirst = withChangeBeforeFirstBatch(async () => {
			const res = await signIn(user.email, legacy.password, env.DB);
			expect(res.status).toBe(200);
		});
		expect((await signIn(user.email, legacy.password, upgradeFirst)).status).toBe(200);
		expect(await liveSessions(user.id)).toHaveLength(2);
	});
});

describe("a change between a login link's checks and its session wins", () => {
	// The link is read (its target, the target's roles) before the write that spends it and opens the session: a
	// change landing in between must either close the link first or find the session and end it.
	const redeem = (token: string, DB: D1Database) => sendWith({ DB }, `/auth/token-login?token=${token}`);

	it.each([
		["a password reset (ends every session, closes the link)", "reset"],
		["a deletion request (ends every session, closes the link)", "deletion"],
		["a role granted to the target of a non-Admin's link", "role"],
	] as const)("%s: no live session, no link.redeemed", async (_name, change) => {
		const user = await createUser();
		const token = await loginLinkToken(user.id);
		expect((await sendJson("/sign/reset", { email: user.email })).status).toBe(200);
		const resetToken = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		const changes = {
			reset: async () =>
				expect((await sendJson(`/sign/reset/${resetToken}`, { password: "a-brand-new-passphrase-77" })).status).toBe(
					200,
				),
			deletion: async () => {
				const access = await sessionToken(user.id, []);
				const res = await send("/user/account", {
					method: "DELETE",
					headers: { ...bearer(access), "Content-Type": "application/json" },
					body: JSON.stringify({ password: PASSWORD }),
				});
				expect(res.status).toBe(202);
			},
			role: () => db().insert(userRoles).values({ userId: user.id, role: "Manager" }),
		};
		const res = await redeem(token, withChangeBeforeFirstBatch(changes[change]));
		expect(res.status).toBe(401);
		expect(refreshCookieOf(res)).toBeNull();
		expect(await liveSessions(user.id)).toEqual([]);
		const events = await db().select().from(securityEvents).where(eq(securityEvents.userId, user.id));
		expect(events.map((e) => e.type)).not.toContain("link.redeemed");
	});
});

describe("a ban while a login link is minted: the link does not outlive it", () => {
	let admin: { id: number; token: string };
	let key: string;
	beforeAll(async () => {
		const user = await createUser({ roles: ["Admin"], password: null });
		admin = { id: user.id, token: await sessionToken(user.id, ["Admin"]) };
		key = (await createIntegrationKey(serviceDeps(), { name: "mint races" }, user.id)).key;
	});
	const mintWith = async (DB: D1Database, userId: number, token: string) => {
		const res = await sendWith({ DB }, `/api/users/${userId}/magic-link`, {
			method: "POST",
			headers: { ...bearer(token), "X-Integration-Key": key },
		});
		expect(res.status).toBe(200);
		return new URL(((await res.json()) as { login_link: string }).login_link).searchParams.get("token") as string;
	};
	const beforeMint = /^insert into "one_time_tokens"/i;

	it("the minter banned between the mint's checks and its write: the link opens no session", async () => {
		const partner = await createUser({ roles: ["API"], password: null });
		const target = await createUser({ password: null });
		const DB = withChangeBeforeFirstBatch(
			() => banUser(serviceDeps(), admin.id, partner.id, { reason: null, until: null }),
			beforeMint,
		);
		const token = await mintWith(DB, target.id, await sessionToken(partner.id, ["API"]));
		expect((await sendWith({}, `/auth/token-login?token=${token}`)).status).toBe(401);
		expect(await liveSessions(target.id)).toEqual([]);
	});

	it("the target banned meanwhile: refused and spent, so lifting the ban does not bring the link back", async () => {
		const target = await createUser({ password: null });
		const DB = withChangeBeforeFirstBatch(
			() => banUser(serviceDeps(), admin.id, target.id, { reason: null, until: Date.now() + 3_600_000 }),
			beforeMint,
		);
		const token = await mintWith(DB, target.id, admin.token);
		expect((await sendWith({}, `/auth/token-login?token=${token}`)).status).toBe(401);
		await db().update(users).set({ bannedAt: null, bannedUntil: null }).where(eq(users.id, target.id));
		expect((await sendWith({}, `/auth/token-login?token=${token}`)).status).toBe(401);
		expect(await liveSessions(target.id)).toEqual([]);
	});
});

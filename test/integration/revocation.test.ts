import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS } from "../../src/config.ts";
import { type Role, sessions } from "../../src/db/schema.ts";
import { sha256 } from "../../src/lib/encoding.ts";
import { createCommunity } from "../../src/services/communities.ts";
import { createIntegrationKey } from "../../src/services/integration-keys.ts";
import { issueOneTimeToken } from "../../src/services/one-time-tokens.ts";
import { storeImage } from "../../src/services/profile-images.ts";
import { IMAGES } from "../fixtures/images.ts";
import { countingD1, db, serviceDeps, userRow } from "../helpers/d1.ts";
import { createModule, createUser, NEW_PASSWORD, PASSWORD } from "../helpers/factories.ts";
import { bearer, expectError, send, sendJson, sendWith } from "../helpers/http.ts";
import { loadOperations, needsBearer, type Operation, validRequest } from "../helpers/openapi-walk.ts";
import { deviceSession, eventsAbout, putBan } from "../helpers/requests.ts";
import { uniqueIp } from "../helpers/unique.ts";

/**
 * "Revoked means revoked", walked over the OpenAPI document: every Bearer operation refuses (401) the access token
 * of a session that logout, a session revoke, a ban, a password change, a reset, a deletion (requested or by an
 * Admin) or an undone email change has ended, from the next request
 * on, and a refused write leaves D1 as it was. GET /sign/check alone still answers from the token. The liveness
 * check costs no extra D1 round trip.
 */

const ALL_ROLES: Role[] = ["Admin", "Manager", "API"];
const ROOMY = {
	RATE_LIMITS: JSON.stringify(
		Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((n) => [n, { limit: 1_000_000, windowSeconds: 60 }])),
	),
};

/** Decided from the access token alone, by the contract: still 200 for a revoked session's token. */
const TOKEN_ONLY = "ildCheck";
/** Operations exempt from the table (none: GET /sign/check is the contract's one exception, checked apart). */
const LEFT_OUT: Record<string, string> = {};

let operations: Operation[];
let admin: { id: number; token: string };
let fixtures: { module: number; community: number; key: string; imageKey: string };

beforeAll(async () => {
	operations = (await loadOperations()).filter(needsBearer);
	const adminUser = await createUser({ roles: ["Admin"], password: null });
	admin = { id: adminUser.id, token: (await deviceSession(adminUser.id, ["Admin"])).token };
	const owner = await createUser({ password: null });
	fixtures = {
		module: (await createModule()).id,
		community: (await createCommunity({ db: db() }, { name: "Revocation", categories: ["r"] })).id,
		key: (await createIntegrationKey(serviceDeps(), { name: "revocation" }, admin.id)).key,
		imageKey: await storeImage(env.PROFILE_IMAGES, IMAGES["image/gif"], "image/gif", owner.id),
	};
});

interface Caller {
	id: number;
	roles: Role[];
}

/**
 * The request a client with a valid body would send to `op` with `token` (as generated-access.test.ts builds them):
 * every path parameter filled (a fresh target user, a live session of the caller for `sessionId`, a fresh key id),
 * the integration key where the operation needs one.
 */
async function requestFor(op: Operation, caller: Caller, token: string): Promise<{ path: string; init: RequestInit }> {
	const target = await createUser({ password: null });
	const values: Record<string, string> = {
		user_id: String(target.id),
		userId: String(target.id),
		user: String(target.id),
		email: target.email,
		module_id: String(fixtures.module),
		communityId: String(fixtures.community),
		id: op.path.includes("integration-keys")
			? String((await createIntegrationKey(serviceDeps(), { name: `revocation-${Math.random()}` }, admin.id)).id)
			: "1",
		key: fixtures.imageKey,
		// A deleted caller can hold no new session: any id does, the request is refused before it is looked at.
		sessionId: await deviceSession(caller.id, caller.roles).then(
			(s) => s.sessionId,
			() => "a-session-of-a-deleted-account",
		),
		token: "A".repeat(43),
	};
	return validRequest(op, values, { ...bearer(token), "CF-Connecting-IP": uniqueIp() }, fixtures.key);
}

/** Every row of every table, hashed: equal before and after a request means it wrote nothing to D1. */
async function fingerprint(): Promise<string> {
	const tables = await env.DB.prepare(
		"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name",
	).all<{ name: string }>();
	const rows: string[] = [];
	for (const { name } of tables.results)
		rows.push(JSON.stringify((await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results));
	return sha256(rows.join("\n"));
}

/** A caller holding every role (so no operation refuses it by role) and a way to end its sessions. */
interface Ending {
	name: string;
	/** Creates the caller and `count` access tokens whose sessions have ended. */
	prepare(count: number): Promise<{ caller: Caller; tokens: string[] }>;
}

const newCaller = async (password: string | null = null): Promise<Caller> => ({
	id: (await createUser({ roles: ALL_ROLES, password })).id,
	roles: ALL_ROLES,
});
const sessionsOf = (caller: Caller, count: number) =>
	Promise.all(Array.from({ length: count }, () => deviceSession(caller.id, caller.roles)));

/** Writes `values` onto the rows of these sessions directly in D1 (an ending no route produces). */
const setOnSessions = (ended: { sessionId: string }[], values: Partial<typeof sessions.$inferInsert>) =>
	db()
		.update(sessions)
		.set(values)
		.where(
			inArray(
				sessions.id,
				ended.map((s) => s.sessionId),
			),
		);

const ENDINGS: Ending[] = [
	{
		name: "DELETE /user/sessions/{sessionId} from another session",
		async prepare(count) {
			const caller = await newCaller();
			const manager = await deviceSession(caller.id, caller.roles);
			const ended = await sessionsOf(caller, count);
			for (const s of ended) {
				const res = await send(`/user/sessions/${s.sessionId}`, { method: "DELETE", headers: bearer(manager.token) });
				expect(res.status).toBe(204);
			}
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
	{
		name: "GET /sign/logout with the token",
		async prepare(count) {
			const caller = await newCaller();
			const ended = await sessionsOf(caller, count);
			for (const s of ended) expect((await send("/sign/logout", { headers: bearer(s.token) })).status).toBe(200);
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
	{
		name: "revoked_at set in D1",
		async prepare(count) {
			const caller = await newCaller();
			const ended = await sessionsOf(caller, count);
			await setOnSessions(ended, { revokedAt: Date.now() });
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
	{
		// Not reachable with a real token (15 minutes, minted only by a sign-in or a refresh, which set last_used_at),
		// but the guard's "live" must be the device list's and refresh's: idle past 14 days is over.
		name: "idle past the idle lifetime (last_used_at 15 days ago)",
		async prepare(count) {
			const caller = await newCaller();
			const ended = await sessionsOf(caller, count);
			await setOnSessions(ended, { lastUsedAt: Date.now() - 15 * 24 * 60 * 60 * 1000 });
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
	{
		name: "a ban (PUT /user/{userId}/ban)",
		async prepare(count) {
			const caller = await newCaller();
			const ended = await sessionsOf(caller, count);
			expect((await putBan(admin.token, caller.id, { reason: "revocation table" })).status).toBe(200);
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
	{
		name: "a ban, for sessions whose rows were written after it (not revoked)",
		async prepare(count) {
			const caller = await newCaller();
			expect((await putBan(admin.token, caller.id, {})).status).toBe(200);
			return { caller, tokens: (await sessionsOf(caller, count)).map((s) => s.token) };
		},
	},
	{
		name: "a password change in another session (PUT /user/changepassword)",
		async prepare(count) {
			const caller = await newCaller(PASSWORD);
			const changer = await deviceSession(caller.id, caller.roles);
			const ended = await sessionsOf(caller, count);
			const res = await send("/user/changepassword", {
				method: "PUT",
				headers: { ...bearer(changer.token), "Content-Type": "application/json" },
				body: JSON.stringify({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
			});
			expect(res.status).toBe(200);
			// The session that changed it goes on.
			expect((await send("/user/profile", { headers: bearer(changer.token) })).status).toBe(200);
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
	{
		name: "a password reset (POST /sign/reset/{token})",
		async prepare(count) {
			const caller = await newCaller();
			const ended = await sessionsOf(caller, count);
			const { token } = await issueOneTimeToken({ db: db(), env }, { purpose: "password-reset", userId: caller.id });
			expect((await sendJson(`/sign/reset/${token}`, { password: NEW_PASSWORD })).status).toBe(200);
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
	{
		name: "a deletion request from another session (DELETE /user/account)",
		async prepare(count) {
			const caller = await newCaller(PASSWORD);
			const requester = await deviceSession(caller.id, caller.roles);
			const ended = await sessionsOf(caller, count);
			const res = await send("/user/account", {
				method: "DELETE",
				headers: { ...bearer(requester.token), "Content-Type": "application/json" },
				body: JSON.stringify({ password: PASSWORD }),
			});
			expect(res.status).toBe(202);
			// Every session, the requester's included.
			return { caller, tokens: [requester.token, ...ended.map((s) => s.token)].slice(0, count) };
		},
	},
	{
		name: "an Admin's deletion (DELETE /user/{userId})",
		async prepare(count) {
			const caller = await newCaller();
			const ended = await sessionsOf(caller, count);
			expect((await send(`/user/${caller.id}`, { method: "DELETE", headers: bearer(admin.token) })).status).toBe(204);
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
	{
		name: "an undone email change (POST /sign/email/undo)",
		async prepare(count) {
			const caller = await newCaller();
			const ended = await sessionsOf(caller, count);
			const email = (await userRow(caller.id))?.email;
			const { token } = await issueOneTimeToken(
				{ db: db(), env },
				{ purpose: "email-undo", userId: caller.id, meta: { previousEmail: email, newEmail: "x@example.com" } },
			);
			expect((await sendJson("/sign/email/undo", { token })).status).toBe(200);
			return { caller, tokens: ended.map((s) => s.token) };
		},
	},
];

describe("revoked means revoked, on every Bearer operation of the document", () => {
	it("the table covers every Bearer operation but GET /sign/check", () => {
		expect(operations.length).toBeGreaterThanOrEqual(35);
		const ids = operations.map((o) => o.operationId);
		expect(ids).toContain(TOKEN_ONLY);
		for (const id of Object.keys(LEFT_OUT)) expect(ids).toContain(id);
	});

	it("a live session of the same kind of caller reaches every operation (neither 401 nor 403)", async () => {
		const caller = await newCaller();
		const failures: string[] = [];
		for (const op of operations) {
			const { token } = await deviceSession(caller.id, caller.roles);
			const { path, init } = await requestFor(op, caller, token);
			const res = await sendWith(ROOMY, path, init);
			if (res.status === 401 || res.status === 403 || res.status >= 500)
				failures.push(`${op.method} ${op.path} → ${res.status} ${await res.text()}`);
		}
		expect(failures, failures.join("\n")).toEqual([]);
	}, 120_000);

	for (const ending of ENDINGS) {
		it(`after ${ending.name}: 401 on the next request, and a refused write lands nowhere`, async () => {
			const covered = operations.filter((o) => !(o.operationId in LEFT_OUT));
			const { caller, tokens } = await ending.prepare(covered.length);
			const failures: string[] = [];
			for (const [i, op] of covered.entries()) {
				const { path, init } = await requestFor(op, caller, tokens[i] as string);
				const before = op.method === "GET" ? null : await fingerprint();
				const res = await sendWith(ROOMY, path, init);
				const where = `${op.method} ${op.path} → ${res.status}`;
				if (op.operationId === TOKEN_ONLY) {
					if (res.status !== 200) failures.push(`${where} (expected 200: decided from the token alone)`);
					continue;
				}
				if (res.status !== 401) {
					failures.push(`${where} (expected 401)`);
					continue;
				}
				const body = (await res.json()) as { error?: unknown; message?: unknown };
				if (body.error !== "Unauthorized" || typeof body.message !== "string")
					failures.push(`${where} (not the error envelope: ${JSON.stringify(body)})`);
				// Nothing of the answer it replaced (an image's ETag, a year of caching) rides on the 401.
				const headers = ["Cache-Control", "ETag", "Content-Disposition", "Content-Type"].map(
					(name) => `${name}: ${res.headers.get(name)}`,
				);
				const expected = [
					"Cache-Control: no-store",
					"ETag: null",
					"Content-Disposition: null",
					"Content-Type: application/json; charset=utf-8",
				];
				if (headers.join("; ") !== expected.join("; ")) failures.push(`${where} (headers ${headers.join("; ")})`);
				if (before !== null && (await fingerprint()) !== before) failures.push(`${where} (but D1 changed)`);
			}
			expect(failures, failures.join("\n")).toEqual([]);
		}, 120_000);
	}
});

describe("what a refused request leaves behind", () => {
	it("PUT /user/profile with a revoked session's token leaves the profile unchanged", async () => {
		const user = await createUser({ password: null, firstName: "Before" });
		const session = await deviceSession(user.id);
		await db().update(sessions).set({ revokedAt: Date.now() }).where(eq(sessions.id, session.sessionId));
		const res = await send("/user/profile", {
			method: "PUT",
			headers: { ...bearer(session.token), "Content-Type": "application/json" },
			body: JSON.stringify({ firstName: "After", lastName: "Changed" }),
		});
		await expectError(res, 401);
		const row = await userRow(user.id);
		expect([row?.firstName, row?.lastName]).toEqual(["Before", "User"]);
	});

	it("GET /sign/logout with a revoked session's token ends no other session and records nothing", async () => {
		const user = await createUser({ password: null });
		const revoked = await deviceSession(user.id);
		const other = await deviceSession(user.id);
		expect((await send("/sign/logout", { headers: bearer(revoked.token) })).status).toBe(200);
		const logouts = await eventsAbout(admin.token, user.id, "logout");
		expect(logouts).toHaveLength(1);
		// Presented again after its session ended: refused like on every Bearer route.
		expect((await send("/sign/logout", { headers: bearer(revoked.token) })).status).toBe(401);
		expect(await eventsAbout(admin.token, user.id, "logout")).toHaveLength(1);
		expect((await send("/user/profile", { headers: bearer(other.token) })).status).toBe(200);
	});
});

describe("the liveness check costs no D1 round trip", () => {
	async function roundTrips(path: string, token: string) {
		const { d1, counter } = countingD1(env.DB);
		const res = await sendWith({ DB: d1 }, path, { headers: bearer(token) });
		return { status: res.status, count: counter.count };
	}

	it("GET /api/users/me and GET /user/profile: one round trip each with the check riding along", async () => {
		const user = await createUser({ password: null });
		const live = await deviceSession(user.id);
		expect(await roundTrips("/api/users/me", live.token)).toEqual({ status: 200, count: 1 });
		expect(await roundTrips("/user/profile", live.token)).toEqual({ status: 200, count: 1 });
		await db().update(sessions).set({ revokedAt: Date.now() }).where(eq(sessions.id, live.sessionId));
		expect((await roundTrips("/api/users/me", live.token)).status).toBe(401);
		expect((await roundTrips("/user/profile", live.token)).status).toBe(401);
		// /sign/check reads nothing at all.
		expect(await roundTrips("/sign/check", live.token)).toEqual({ status: 200, count: 0 });
	});
});

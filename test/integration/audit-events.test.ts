import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { oneTimeTokens, securityEvents, sessions } from "../../src/db/schema.ts";
import { createIntegrationKey } from "../../src/services/integration-keys.ts";
import { issueOneTimeToken } from "../../src/services/one-time-tokens.ts";
import { REFRESH_GRACE_MS } from "../../src/services/sessions.ts";
import { db, serviceDeps, userRow } from "../helpers/d1.ts";
import { createUser, NEW_PASSWORD, PASSWORD } from "../helpers/factories.ts";
import { bearer, expectError, refreshCookieOf, send, sendJson, withCookie } from "../helpers/http.ts";
import { eventually } from "../helpers/mail.ts";
import {
	deviceSession,
	eventsAbout,
	eventsAt,
	ildRefresh,
	linkFor,
	putBan,
	rotate,
	type WireEvent,
} from "../helpers/requests.ts";
import { unique, uniqueEmail } from "../helpers/unique.ts";

/**
 * The audit log's write side, as clients read it back: each security-relevant change writes its event in the same
 * D1 write (no change, no event; a failed write, neither), once per change even under concurrency, with the
 * request's facts (IP, country, user agent, request id) and the contract's actor, session and integration key.
 */

let admin: { id: number; token: string };
beforeAll(async () => {
	const user = await createUser({ roles: ["Admin"], password: null });
	admin = { id: user.id, token: (await deviceSession(user.id, ["Admin"])).token };
});

/** The access token's session id (`sid`), read, not verified. */
function sidOf(token: string): string {
	const payload = token.split(".")[1] ?? "";
	return (JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { sid: string }).sid;
}

/** The rows of one type about one user, straight from D1 (for the cases where the API must show none). */
const storedEvents = (userId: number, type: (typeof securityEvents.$inferSelect)["type"]) =>
	db()
		.select()
		.from(securityEvents)
		.where(and(eq(securityEvents.userId, userId), eq(securityEvents.type, type)));

/**
 * Runs `body` while a trigger aborts the insert of a `type` event about `userId`: a failure inside the change's own
 * batch, after the change's statements ran. Scoped to one user so no other test's writes are affected.
 */
async function withFailingEvent(type: string, userId: number, body: () => Promise<void>) {
	const name = `force_fail_${unique("t").replace(/[^A-Za-z0-9_]/g, "")}`;
	await env.DB.prepare(
		`CREATE TRIGGER ${name} BEFORE INSERT ON security_events WHEN NEW.type = '${type}' AND NEW.user_id = ${userId}
		BEGIN SELECT RAISE(ABORT, 'forced'); END`,
	).run();
	// The 500's log line is expected here: kept out of the test output, and checked to name the forced failure.
	const logged: string[] = [];
	const log = vi.spyOn(console, "error").mockImplementation((...args) => logged.push(args.map(String).join(" ")));
	try {
		await body();
	} finally {
		log.mockRestore();
		await env.DB.prepare(`DROP TRIGGER IF EXISTS ${name}`).run();
	}
	expect(logged.some((line) => line.includes("forced"))).toBe(true);
}

async function expectInternalError(res: Response) {
	const body = await expectError(res, 500, "An unexpected error occurred");
	// The envelope alone: nothing of SQLite's message or the trigger.
	expect(body).toEqual({ error: "Internal Server Error", message: "An unexpected error occurred" });
}

const profileStatus = async (token: string) => (await send("/user/profile", { headers: bearer(token) })).status;

describe("an event exists if and only if its change happened", () => {
	it("a ban whose event cannot be written does not happen: no ban, sessions live, no event", async () => {
		const user = await createUser({ password: null });
		const session = await deviceSession(user.id);
		await issueOneTimeToken({ db: db(), env }, { purpose: "password-reset", userId: user.id });
		await withFailingEvent("user.banned", user.id, async () => {
			await expectInternalError(await putBan(admin.token, user.id, { reason: "forced failure" }));
		});
		const row = await userRow(user.id);
		expect([row?.bannedAt, row?.bannedUntil, row?.banReason]).toEqual([null, null, null]);
		expect(await profileStatus(session.token)).toBe(200);
		expect((await ildRefresh(session.refresh)).status).toBe(200);
		const token = await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.userId, user.id)).get();
		expect(token?.closedAt).toBeNull();
		expect(await eventsAbout(admin.token, user.id, "user.banned")).toEqual([]);
		expect(await storedEvents(user.id, "user.banned")).toEqual([]);

		// Without the failure the same request bans, with its event.
		expect((await putBan(admin.token, user.id, { reason: "forced failure" })).status).toBe(200);
		expect(await eventsAbout(admin.token, user.id, "user.banned")).toHaveLength(1);
	});

	it("a password change whose event cannot be written does not happen: same hash, other sessions live, no event", async () => {
		const user = await createUser();
		const changer = await deviceSession(user.id);
		const other = await deviceSession(user.id);
		const hashBefore = (await userRow(user.id))?.passwordHash;
		await withFailingEvent("password.changed", user.id, async () => {
			const res = await send("/user/changepassword", {
				method: "PUT",
				headers: { ...bearer(changer.token), "Content-Type": "application/json" },
				body: JSON.stringify({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
			});
			await expectInternalError(res);
		});
		expect((await userRow(user.id))?.passwordHash).toBe(hashBefore);
		expect(await profileStatus(other.token)).toBe(200);
		expect((await ildRefresh(other.refresh)).status).toBe(200);
		expect(await eventsAbout(admin.token, user.id, "password.changed")).toEqual([]);
		expect(await storedEvents(user.id, "password.changed")).toEqual([]);
	});

	it("a session revoke whose event cannot be written does not happen: the session stays live", async () => {
		const user = await createUser({ password: null });
		const caller = await deviceSession(user.id);
		const target = await deviceSession(user.id);
		await withFailingEvent("session.revoked", user.id, async () => {
			const res = await send(`/user/sessions/${target.sessionId}`, { method: "DELETE", headers: bearer(caller.token) });
			await expectInternalError(res);
		});
		expect(await profileStatus(target.token)).toBe(200);
		expect((await ildRefresh(target.refresh)).status).toBe(200);
		expect(await storedEvents(user.id, "session.revoked")).toEqual([]);
	});

	it("20 concurrent revokes of one session: exactly one 204 (the rest 404) and exactly one event", async () => {
		const user = await createUser({ password: null });
		const caller = await deviceSession(user.id);
		const target = await deviceSession(user.id);
		const answers = await Promise.all(
			Array.from({ length: 20 }, () =>
				send(`/user/sessions/${target.sessionId}`, { method: "DELETE", headers: bearer(caller.token) }),
			),
		);
		const statuses = answers.map((r) => r.status).sort();
		expect(statuses).toEqual([204, ...Array.from({ length: 19 }, () => 404)]);
		const events = (await eventsAbout(admin.token, user.id, "session.revoked")).filter(
			(e) => e.sessionId === target.sessionId,
		);
		expect(events).toHaveLength(1);
		expect(events[0]?.detail).toMatchObject({ scope: "one", count: 1 });
		expect(await profileStatus(caller.token)).toBe(200);
	});
});

describe("what each event says", () => {
	it("login.succeeded: the session, the client's IP, country and user agent, and the response's request id", async () => {
		const user = await createUser();
		const res = await sendJson(
			"/sign/login",
			{ email: user.email, password: PASSWORD },
			{ headers: { "CF-Connecting-IP": "203.0.113.7", "User-Agent": "AuditAgent/1.0" }, cf: { country: "NL" } },
		);
		expect(res.status).toBe(200);
		const { token } = (await res.json()) as { token: string };
		const requestId = res.headers.get("X-Request-Id");
		expect(requestId).toBeTruthy();

		// The user reads it in their own log.
		const [event] = (await eventsAt(token, "/user/security-events")).filter((e) => e.type === "login.succeeded");
		expect(event).toEqual({
			id: expect.any(Number),
			at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
			type: "login.succeeded",
			outcome: "success",
			userId: user.id,
			actor: { type: "user", id: user.id },
			integrationKeyId: null,
			sessionId: sidOf(token),
			ip: "203.0.113.7",
			country: "NL",
			userAgent: "AuditAgent/1.0",
			requestId,
			detail: { method: "password" },
		} satisfies WireEvent);

		// A request id the client sent is echoed and recorded as is (KC7 sign-in).
		const sentId = unique("audit-req-");
		const kc7 = await sendJson(
			"/api/auth",
			{ username: user.username, password: PASSWORD },
			{ headers: { "X-Request-Id": sentId } },
		);
		expect(kc7.status).toBe(200);
		expect(kc7.headers.get("X-Request-Id")).toBe(sentId);
		const { access_token } = (await kc7.json()) as { access_token: string };
		const [newest] = await eventsAbout(admin.token, user.id, "login.succeeded");
		expect(newest).toMatchObject({ requestId: sentId, sessionId: sidOf(access_token), country: null });
	});

	it("login.failed: wrong_password about the account, unknown_account about no account", async () => {
		const user = await createUser();
		const wrongId = unique("wrong-");
		const wrong = await sendJson(
			"/sign/login",
			{ email: user.email, password: "not-the-password" },
			{ headers: { "X-Request-Id": wrongId, "CF-Connecting-IP": "198.51.100.4" } },
		);
		await expectError(wrong, 401);
		const [failed] = await eventsAbout(admin.token, user.id, "login.failed");
		expect(failed).toMatchObject({
			outcome: "failure",
			userId: user.id,
			actor: { type: "user", id: user.id },
			sessionId: null,
			ip: "198.51.100.4",
			requestId: wrongId,
			detail: { reason: "wrong_password" },
		});

		const unknownId = unique("unknown-");
		await expectError(
			await sendJson(
				"/api/auth",
				{ username: uniqueEmail(), password: "whatever-it-is" },
				{ headers: { "X-Request-Id": unknownId } },
			),
			401,
		);
		const all = await eventsAt(admin.token, "/security-events?type=login.failed");
		const unknown = all.find((e) => e.requestId === unknownId);
		expect(unknown).toMatchObject({
			type: "login.failed",
			outcome: "failure",
			userId: null,
			actor: { type: "user", id: null },
			detail: { reason: "unknown_account" },
		});
	});

	it("logout: by the Bearer token and by the refresh cookie, each naming its session, once", async () => {
		const user = await createUser({ password: null });
		const byToken = await deviceSession(user.id);
		const byCookie = await deviceSession(user.id);
		expect((await send("/sign/logout", { headers: bearer(byToken.token) })).status).toBe(200);
		expect((await send("/sign/logout", { headers: withCookie(byCookie.refresh) })).status).toBe(200);
		// Nothing left to end: no further event.
		await expectError(await send("/sign/logout", { headers: withCookie(byCookie.refresh) }), 401);
		const events = await eventsAbout(admin.token, user.id, "logout");
		expect(events.map((e) => e.sessionId)).toEqual([byCookie.sessionId, byToken.sessionId]);
		for (const e of events) expect(e).toMatchObject({ userId: user.id, actor: { type: "user", id: user.id } });
	});

	it("password.changed: the session that changed it, the user as actor", async () => {
		const user = await createUser();
		const changer = await deviceSession(user.id);
		const res = await send("/user/changepassword", {
			method: "PUT",
			headers: { ...bearer(changer.token), "Content-Type": "application/json" },
			body: JSON.stringify({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
		});
		expect(res.status).toBe(200);
		const events = await eventsAt(changer.token, "/user/security-events");
		const changed = events.filter((e) => e.type === "password.changed");
		expect(changed).toHaveLength(1);
		expect(changed[0]).toMatchObject({
			userId: user.id,
			actor: { type: "user", id: user.id },
			sessionId: changer.sessionId,
			outcome: "success",
		});
	});

	it("password.reset_requested: written with the token it issued, only for an existing account", async () => {
		const user = await createUser({ password: null });
		const res = await sendJson("/sign/reset", { email: user.email }, { headers: { "CF-Connecting-IP": "192.0.2.77" } });
		expect(res.status).toBe(200);
		// The lookup and the mail run after the response: poll for the event.
		const [requested] = await eventually(async () => {
			const events = await eventsAbout(admin.token, user.id, "password.reset_requested");
			return events.length > 0 ? events : null;
		});
		expect(requested).toMatchObject({ userId: user.id, actor: { type: "user", id: user.id }, ip: "192.0.2.77" });
		const open = await db()
			.select()
			.from(oneTimeTokens)
			.where(and(eq(oneTimeTokens.userId, user.id), eq(oneTimeTokens.purpose, "password-reset")));
		expect(open).toHaveLength(1);
	});

	it("email.verified and password.reset_completed: written with the token's consumption, once", async () => {
		const user = await createUser({ verified: false, password: null });
		const verify = await issueOneTimeToken({ db: db(), env }, { purpose: "verify-email", userId: user.id });
		expect((await sendJson("/sign/verify", { token: verify.token })).status).toBe(200);
		expect((await sendJson("/sign/verify", { token: verify.token })).status).toBe(400); // spent: no second event
		expect(await eventsAbout(admin.token, user.id, "email.verified")).toEqual([
			expect.objectContaining({ userId: user.id, actor: { type: "user", id: user.id } }),
		]);
		const reset = await issueOneTimeToken({ db: db(), env }, { purpose: "password-reset", userId: user.id });
		expect((await sendJson(`/sign/reset/${reset.token}`, { password: "a brand new passphrase" })).status).toBe(200);
		expect((await sendJson(`/sign/reset/${reset.token}`, { password: "another new passphrase" })).status).toBe(400);
		expect(await eventsAbout(admin.token, user.id, "password.reset_completed")).toEqual([
			expect.objectContaining({ userId: user.id, actor: { type: "user", id: user.id } }),
		]);
	});

	it("link.created and link.redeemed: the partner caller and its key; the redemption points back by linkId", async () => {
		const caller = await createUser({ roles: ["API"], password: null });
		const callerToken = (await deviceSession(caller.id, ["API"])).token;
		const key = await createIntegrationKey(serviceDeps(), { name: unique("audit-key-") }, admin.id);
		const target = await createUser({ password: null });

		const minted = await linkFor(target.id, callerToken, key.key);
		expect(minted.status).toBe(200);
		const link = new URL(((await minted.json()) as { login_link: string }).login_link);
		const [created] = await eventsAbout(admin.token, target.id, "link.created");
		expect(created).toMatchObject({
			userId: target.id,
			actor: { type: "partner", id: caller.id },
			integrationKeyId: key.id,
			sessionId: null,
			outcome: "success",
		});
		const linkId = created?.detail.linkId;
		expect(typeof linkId).toBe("string");
		// Never the token itself.
		expect(JSON.stringify(created)).not.toContain(link.searchParams.get("token") as string);

		const redeemed = await send(`/auth/token-login?token=${link.searchParams.get("token")}`);
		expect(redeemed.status).toBe(200);
		const { access_token } = (await redeemed.json()) as { access_token: string };
		const events = await eventsAbout(admin.token, target.id, "link.redeemed");
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({
			userId: target.id,
			integrationKeyId: key.id,
			sessionId: sidOf(access_token),
			detail: { linkId },
		});
		// A redemption opens a session without a login.succeeded of its own.
		expect(await eventsAbout(admin.token, target.id, "login.succeeded")).toEqual([]);
	});

	it("user.provisioned: the new account, provisioned by the caller", async () => {
		const caller = await createUser({ roles: ["Manager"], password: null });
		const callerToken = (await deviceSession(caller.id, ["Manager"])).token;
		const res = await sendJson(
			"/api/users",
			{ username: unique("prov"), email: uniqueEmail() },
			{ headers: bearer(callerToken) },
		);
		expect(res.status).toBe(201);
		const { user_id } = (await res.json()) as { user_id: number };
		const events = await eventsAbout(admin.token, user_id, "user.provisioned");
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({ userId: user_id, outcome: "success", actor: { id: caller.id } });
	});

	it("integration_key.created and integration_key.revoked: the Admin, the key's id; a second revoke records nothing", async () => {
		const created = await sendJson(
			"/api/integration-keys",
			{ name: unique("audit-") },
			{ headers: bearer(admin.token) },
		);
		expect(created.status).toBe(201);
		const { id, key } = (await created.json()) as { id: number; key: string };
		const createdEvents = (await eventsAt(admin.token, "/security-events?type=integration_key.created")).filter(
			(e) => e.integrationKeyId === id,
		);
		expect(createdEvents).toHaveLength(1);
		expect(createdEvents[0]).toMatchObject({
			actor: { type: "admin", id: admin.id },
			userId: null,
			detail: { scope: "all" },
		});
		expect(JSON.stringify(createdEvents[0])).not.toContain(key);

		for (let i = 0; i < 2; i++) {
			const res = await send(`/api/integration-keys/${id}`, { method: "DELETE", headers: bearer(admin.token) });
			expect(res.status).toBe(204);
		}
		const revoked = (await eventsAt(admin.token, "/security-events?type=integration_key.revoked")).filter(
			(e) => e.integrationKeyId === id,
		);
		expect(revoked).toHaveLength(1);
		expect(revoked[0]).toMatchObject({ actor: { type: "admin", id: admin.id }, outcome: "success" });
	});

	it("no refresh.reuse_detected for an ordinary rotation or a refresh in the grace window (anywhere in the log)", async () => {
		const user = await createUser();
		const login = await sendJson("/sign/login", { email: user.email, password: PASSWORD });
		const first = refreshCookieOf(login) as string;
		const reuseEvents = async () =>
			(await db().select().from(securityEvents).where(eq(securityEvents.type, "refresh.reuse_detected"))).length;
		const before = await reuseEvents();
		const rotated = await send("/sign/refresh", { headers: withCookie(first) });
		expect(rotated.status).toBe(200);
		expect((await send("/sign/refresh", { headers: withCookie(first) })).status).toBe(200); // the grace window
		expect((await send("/sign/refresh", { headers: withCookie(refreshCookieOf(rotated) as string) })).status).toBe(200);
		expect(await reuseEvents()).toBe(before);
	});

	it("a refused sign-in of a banned or unverified account is logged as login.failed with its reason", async () => {
		const unverified = await createUser({ verified: false });
		await expectError(await sendJson("/sign/login", { email: unverified.email, password: PASSWORD }), 403);
		const [failed] = await eventsAbout(admin.token, unverified.id, "login.failed");
		expect(failed?.detail).toEqual({ reason: "unverified" });
	});

	it("refresh.reuse_detected: a rotated token replayed after the grace window revokes the session, once", async () => {
		const user = await createUser({ password: null });
		const session = await deviceSession(user.id);
		const current = await rotate(session.refresh);
		await db()
			.update(sessions)
			.set({ rotatedAt: Date.now() - REFRESH_GRACE_MS - 1 })
			.where(eq(sessions.id, session.sessionId));
		const replay = await send("/sign/refresh", {
			headers: { ...withCookie(session.refresh), "CF-Connecting-IP": "198.51.100.99" },
		});
		await expectError(replay, 401, "Invalid refresh token");
		expect(refreshCookieOf(replay)).toBe("");
		await expectError(await ildRefresh(current), 401);
		await expectError(await ildRefresh(session.refresh), 401);

		const events = await eventsAbout(admin.token, user.id, "refresh.reuse_detected");
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({
			outcome: "failure",
			userId: user.id,
			actor: { type: "user", id: user.id },
			sessionId: session.sessionId,
			ip: "198.51.100.99",
		});
	});
});

describe("a user's own log", () => {
	it("does not show the IP, browser or request id of an Admin who acted on the account", async () => {
		const admin2 = await createUser({ roles: ["Admin"], password: null });
		const adminToken = (await deviceSession(admin2.id, ["Admin"])).token;
		const user = await createUser({ password: null });
		await deviceSession(user.id);
		await deviceSession(user.id);
		const res = await send(`/user/${user.id}/sessions`, {
			method: "DELETE",
			headers: { ...bearer(adminToken), "CF-Connecting-IP": "203.0.113.77", "User-Agent": "AdminBox/1.0" },
		});
		expect(res.status).toBe(200);
		const mine = (await (
			await send("/user/security-events", { headers: bearer((await deviceSession(user.id)).token) })
		).json()) as {
			events: {
				type: string;
				actor: { type: string };
				ip: string | null;
				userAgent: string | null;
				requestId: string | null;
			}[];
		};
		const revoked = mine.events.find((e) => e.type === "session.revoked");
		expect(revoked).toMatchObject({ actor: { type: "admin" }, ip: null, userAgent: null, requestId: null });
		// An Admin reading the same user's log sees who and from where.
		const [asAdmin] = await eventsAbout(adminToken, user.id, "session.revoked");
		expect(asAdmin).toMatchObject({ ip: "203.0.113.77", userAgent: "AdminBox/1.0" });
	});
});

import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { sessions } from "../../../src/db/schema.ts";
import { SESSION_IDLE_MS } from "../../../src/services/sessions.ts";
import { db } from "../../helpers/d1.ts";
import { createUser, loginLinkToken, PASSWORD } from "../../helpers/factories.ts";
import { bearer, expectError, refreshCookieOf, send, sendJson } from "../../helpers/http.ts";
import { deviceSession, eventsAbout, ildRefresh, kc7Refresh } from "../../helpers/requests.ts";

/**
 * The caller's devices and an Admin's view of them: GET/DELETE /user/sessions[/{sessionId}],
 * GET/DELETE /user/{userId}/sessions. What each session records (device, place, method), which ones are listed,
 * and that a revoke ends the session's refresh token and its access tokens, with one audit event per revocation.
 */

const CHROME_WINDOWS =
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const IPHONE_SAFARI =
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

const OWN_FIELDS = [
	"browser",
	"city",
	"country",
	"createdAt",
	"current",
	"deviceType",
	"expiresAt",
	"id",
	"lastUsedAt",
	"method",
	"os",
];
const ADMIN_FIELDS = OWN_FIELDS.filter((f) => f !== "current");
const UNKNOWN_SESSION = "A".repeat(22);

interface WireSession {
	id: string;
	current?: boolean;
	method: string;
	browser: string | null;
	os: string | null;
	deviceType: string;
	country: string | null;
	city: string | null;
	createdAt: string;
	lastUsedAt: string;
	expiresAt: string;
}

/** The access token's session id (`sid`), read, not verified. */
function sidOf(token: string): string {
	const payload = token.split(".")[1] ?? "";
	return (JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { sid: string }).sid;
}

async function list(token: string, path = "/user/sessions"): Promise<WireSession[]> {
	const res = await send(path, { headers: bearer(token) });
	const text = await res.text();
	expect(res.status, text).toBe(200);
	expect(res.headers.get("Cache-Control")).toContain("no-store");
	return JSON.parse(text) as WireSession[];
}

const revokeOne = (token: string, sessionId: string) =>
	send(`/user/sessions/${sessionId}`, { method: "DELETE", headers: bearer(token) });
const revokeOthers = (token: string) => send("/user/sessions", { method: "DELETE", headers: bearer(token) });
const revokeAllOf = (token: string, userId: number) =>
	send(`/user/${userId}/sessions`, { method: "DELETE", headers: bearer(token) });

/** Whether the access token still opens a Bearer route. */
const profileStatus = async (token: string) => (await send("/user/profile", { headers: bearer(token) })).status;

const setSession = (id: string, values: Partial<typeof sessions.$inferInsert>) =>
	db().update(sessions).set(values).where(eq(sessions.id, id));

let admin: { id: number; token: string };
beforeAll(async () => {
	const user = await createUser({ roles: ["Admin"], password: null });
	admin = { id: user.id, token: (await deviceSession(user.id, ["Admin"])).token };
});

const revokedEvents = (userId: number) => eventsAbout(admin.token, userId, "session.revoked");

describe("GET /user/sessions", () => {
	it("records each sign-in's device, place and method, in exactly the contract's fields", async () => {
		const user = await createUser();
		const chrome = await sendJson(
			"/sign/login",
			{ email: user.email, password: PASSWORD },
			{ headers: { "User-Agent": CHROME_WINDOWS }, cf: { country: "DE", city: "Berlin" } },
		);
		expect(chrome.status).toBe(200);
		const chromeToken = ((await chrome.json()) as { token: string }).token;
		const iphone = await sendJson(
			"/api/auth",
			{ username: user.username, password: PASSWORD },
			{ headers: { "User-Agent": IPHONE_SAFARI } },
		);
		expect(iphone.status).toBe(200);
		const iphoneToken = ((await iphone.json()) as { access_token: string }).access_token;
		const link = await send(`/auth/token-login?token=${await loginLinkToken(user.id)}`);
		expect(link.status).toBe(200);
		const linkToken = ((await link.json()) as { access_token: string }).access_token;

		const listed = await list(iphoneToken);
		expect(listed).toHaveLength(3);
		for (const entry of listed) expect(Object.keys(entry).sort()).toEqual(OWN_FIELDS);
		const byId = new Map(listed.map((s) => [s.id, s]));
		const desktop = byId.get(sidOf(chromeToken));
		const mobile = byId.get(sidOf(iphoneToken));
		const linked = byId.get(sidOf(linkToken));
		// Bowser's names for the families; what a client shows and relies on: desktop vs mobile, a named browser/OS.
		expect(desktop).toMatchObject({
			method: "password",
			browser: "Chrome",
			os: "Windows",
			deviceType: "desktop",
			country: "DE",
			city: "Berlin",
			current: false,
		});
		expect(mobile).toMatchObject({
			method: "password",
			browser: "Safari",
			os: "iOS",
			deviceType: "mobile",
			country: null,
			city: null,
			current: true,
		});
		// No user agent and no edge facts: unknown, not guessed.
		expect(linked).toMatchObject({
			method: "link",
			browser: null,
			os: null,
			deviceType: "unknown",
			country: null,
			city: null,
			current: false,
		});
		for (const s of listed) {
			const created = Date.parse(s.createdAt);
			expect(new Date(created).toISOString()).toBe(s.createdAt);
			expect(Date.parse(s.lastUsedAt)).toBeGreaterThanOrEqual(created);
			// When it ends unless used again: a new session's idle lifetime (14 days from its last use) comes before
			// its absolute one (30 days from sign-in).
			expect(Date.parse(s.expiresAt) - Date.parse(s.lastUsedAt)).toBe(14 * 24 * 60 * 60 * 1000);
		}
		// The same sessions, seen from the other sign-ins: only the caller's is current.
		for (const token of [chromeToken, linkToken]) {
			const seen = await list(token);
			expect(seen.filter((s) => s.current).map((s) => s.id)).toEqual([sidOf(token)]);
		}
	});

	it("says when each session ends unless used again (idle or absolute lifetime), and null for a browser it cannot name", async () => {
		const user = await createUser({ password: null });
		const day = 24 * 60 * 60 * 1000;
		const recent = await deviceSession(user.id, [], { userAgent: "curl/8.5.0" });
		const old = await deviceSession(user.id);
		// Began 20 days ago, used an hour ago: its absolute end (day 30) comes before its idle end (day 34).
		const now = Date.now();
		await db()
			.update(sessions)
			.set({ createdAt: now - 20 * day, expiresAt: now + 10 * day, lastUsedAt: now - 3_600_000 })
			.where(eq(sessions.id, old.sessionId));
		const byId = new Map((await list(recent.token)).map((s) => [s.id, s]));
		const r = byId.get(recent.sessionId) as WireSession;
		expect(Date.parse(r.expiresAt)).toBe(Date.parse(r.lastUsedAt) + 14 * day);
		expect(r).toMatchObject({ browser: null, os: null, deviceType: "unknown" });
		expect(Date.parse((byId.get(old.sessionId) as WireSession).expiresAt)).toBe(now + 10 * day);
	});

	it("migration 0006: sessions stored with an unnamed browser or OS ('') read as unknown (null)", async () => {
		const user = await createUser({ password: null });
		const stored = await deviceSession(user.id);
		await db().update(sessions).set({ browser: "", os: "" }).where(eq(sessions.id, stored.sessionId));
		const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0006_")) as { queries: string[] };
		for (const query of migration.queries) await env.DB.prepare(query).run();
		const [listed] = await list(stored.token);
		expect(listed).toMatchObject({ browser: null, os: null });
	});

	it("lists live sessions only, most recently used first; a refresh moves a session first with its device as now", async () => {
		const user = await createUser({ password: null });
		const [older, newest, middle, revoked, expired, idle] = await Promise.all(
			Array.from({ length: 6 }, () => deviceSession(user.id, [], { userAgent: IPHONE_SAFARI })),
		);
		if (!older || !newest || !middle || !revoked || !expired || !idle) throw new Error("sessions missing");
		const now = Date.now();
		await setSession(older.sessionId, { lastUsedAt: now - 3000 });
		await setSession(newest.sessionId, { lastUsedAt: now - 1000 });
		await setSession(middle.sessionId, { lastUsedAt: now - 2000 });
		await setSession(revoked.sessionId, { revokedAt: now - 1 });
		await setSession(expired.sessionId, { expiresAt: now - 1 });
		await setSession(idle.sessionId, { lastUsedAt: now - SESSION_IDLE_MS - 1 });

		const listed = await list(older.token);
		expect(listed.map((s) => s.id)).toEqual([newest.sessionId, middle.sessionId, older.sessionId]);
		expect(listed.map((s) => s.current)).toEqual([false, false, true]);

		const refreshed = await send("/sign/refresh", {
			headers: { Cookie: `refresh_token=${older.refresh}`, "User-Agent": CHROME_WINDOWS },
			cf: { country: "FR", city: "Paris" },
		});
		expect(refreshed.status).toBe(200);
		const after = await list(older.token);
		expect(after.map((s) => s.id)).toEqual([older.sessionId, newest.sessionId, middle.sessionId]);
		expect(after[0]).toMatchObject({
			browser: "Chrome",
			os: "Windows",
			deviceType: "desktop",
			country: "FR",
			city: "Paris",
			current: true,
		});
		expect(Date.parse(after[0]?.lastUsedAt ?? "")).toBeGreaterThanOrEqual(now);
	});

	it("401s without a token, with a bad one, and with a token whose session is revoked", async () => {
		await expectError(await send("/user/sessions"), 401);
		await expectError(await send("/user/sessions", { headers: bearer("a.b.c") }), 401);
		const user = await createUser({ password: null });
		const session = await deviceSession(user.id);
		await setSession(session.sessionId, { revokedAt: Date.now() });
		await expectError(await send("/user/sessions", { headers: bearer(session.token) }), 401);
	});
});

describe("GET /user/{userId}/sessions (Admin)", () => {
	it("lists the user's live sessions like the user's own list, without `current`", async () => {
		const user = await createUser({ password: null });
		const a = await deviceSession(user.id, [], { userAgent: CHROME_WINDOWS, country: "DE", city: "Berlin" });
		const b = await deviceSession(user.id, [], { userAgent: IPHONE_SAFARI }, "link");
		const gone = await deviceSession(user.id);
		await setSession(gone.sessionId, { revokedAt: Date.now() });
		await setSession(a.sessionId, { lastUsedAt: Date.now() - 5000 });

		const own = await list(b.token);
		const adminView = await list(admin.token, `/user/${user.id}/sessions`);
		for (const entry of adminView) expect(Object.keys(entry).sort()).toEqual(ADMIN_FIELDS);
		expect(adminView).toEqual(own.map(({ current: _, ...rest }) => rest));
		expect(adminView.map((s) => s.id)).toEqual([b.sessionId, a.sessionId]);
		expect(adminView[0]).toMatchObject({ method: "link", deviceType: "mobile" });
		expect(adminView[1]).toMatchObject({ method: "password", browser: "Chrome", country: "DE", city: "Berlin" });

		// A user without sessions: an empty list, not a 404.
		const idle = await createUser({ password: null });
		expect(await list(admin.token, `/user/${idle.id}/sessions`)).toEqual([]);
	});

	it("is 403 for callers who are not Admins (whether or not the user exists), 404 for an unknown user, 401 without a token", async () => {
		const user = await createUser({ password: null });
		for (const roles of [[], ["Manager"], ["API"]] as const) {
			const caller = await createUser({ roles: [...roles], password: null });
			const { token } = await deviceSession(caller.id, [...roles]);
			await expectError(await send(`/user/${user.id}/sessions`, { headers: bearer(token) }), 403);
			await expectError(await send("/user/999999999/sessions", { headers: bearer(token) }), 403);
			// A plain user asking for their own sessions through the Admin route is refused too.
			await expectError(await send(`/user/${caller.id}/sessions`, { headers: bearer(token) }), 403);
		}
		await expectError(await send("/user/999999999/sessions", { headers: bearer(admin.token) }), 404, "User not found");
		await expectError(await send(`/user/${user.id}/sessions`), 401);
		await expectError(await send(`/user/${user.id}/sessions`, { headers: bearer("a.b.c") }), 401);
	});
});

describe("DELETE /user/sessions/{sessionId}", () => {
	it("revokes that session: its refresh token and access token stop working, the others go on; one event", async () => {
		const user = await createUser({ password: null });
		const caller = await deviceSession(user.id);
		const target = await deviceSession(user.id);
		const bystander = await deviceSession(user.id);
		// The target's access token works up to the revoke.
		expect(await profileStatus(target.token)).toBe(200);

		const res = await revokeOne(caller.token, target.sessionId);
		expect(res.status).toBe(204);
		expect(await res.text()).toBe("");

		await expectError(await send("/user/profile", { headers: bearer(target.token) }), 401);
		await expectError(await ildRefresh(target.refresh), 401, "Invalid refresh token");
		await expectError(await kc7Refresh(target.refresh), 401, "Invalid refresh token");
		expect(await profileStatus(caller.token)).toBe(200);
		expect(await profileStatus(bystander.token)).toBe(200);
		expect((await ildRefresh(bystander.refresh)).status).toBe(200);
		expect((await list(caller.token)).map((s) => s.id).sort()).toEqual([caller.sessionId, bystander.sessionId].sort());

		const events = await revokedEvents(user.id);
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({
			type: "session.revoked",
			outcome: "success",
			userId: user.id,
			actor: { type: "user", id: user.id },
			sessionId: target.sessionId,
			detail: { scope: "one", count: 1 },
		});
	});

	it("404s an unknown session, a revoked or expired one, and another user's (which stays live); no event", async () => {
		const user = await createUser({ password: null });
		const caller = await deviceSession(user.id);
		const revoked = await deviceSession(user.id);
		const expired = await deviceSession(user.id);
		await setSession(expired.sessionId, { expiresAt: Date.now() - 1 });
		expect((await revokeOne(caller.token, revoked.sessionId)).status).toBe(204);
		const stranger = await createUser({ password: null });
		const theirs = await deviceSession(stranger.id);

		for (const id of [UNKNOWN_SESSION, revoked.sessionId, expired.sessionId, theirs.sessionId]) {
			await expectError(await revokeOne(caller.token, id), 404, "Session not found");
		}
		expect(await profileStatus(theirs.token)).toBe(200);
		expect((await ildRefresh(theirs.refresh)).status).toBe(200);
		// Only the first revoke of `revoked` was recorded; nothing about the stranger.
		expect(await revokedEvents(user.id)).toHaveLength(1);
		expect(await revokedEvents(stranger.id)).toHaveLength(0);
	});

	it("401s without a token or with a bad one, and revokes nothing", async () => {
		const user = await createUser({ password: null });
		const target = await deviceSession(user.id);
		await expectError(await send(`/user/sessions/${target.sessionId}`, { method: "DELETE" }), 401);
		await expectError(await revokeOne("a.b.c", target.sessionId), 401);
		expect(await profileStatus(target.token)).toBe(200);
	});

	it("revokes the caller's own current session like a logout", async () => {
		const user = await createUser({ password: null });
		const own = await deviceSession(user.id);
		const other = await deviceSession(user.id);
		// Another session's revoke leaves the caller's refresh cookie alone; its own clears it, as a logout does.
		const third = await deviceSession(user.id);
		const ofAnother = await revokeOne(own.token, third.sessionId);
		expect(ofAnother.status).toBe(204);
		expect(ofAnother.headers.getSetCookie().filter((c) => c.startsWith("refresh_token="))).toEqual([]);
		const res = await revokeOne(own.token, own.sessionId);
		expect(res.status).toBe(204);
		expect(res.headers.getSetCookie().find((c) => c.startsWith("refresh_token="))).toMatch(
			/^refresh_token=;.*Max-Age=0/,
		);
		await expectError(await send("/user/profile", { headers: bearer(own.token) }), 401);
		await expectError(await ildRefresh(own.refresh), 401);
		// The token can revoke nothing more, not even itself again.
		await expectError(await revokeOne(own.token, other.sessionId), 401);
		expect(await profileStatus(other.token)).toBe(200);
		// GET /sign/check stays decided from the token alone.
		expect((await send("/sign/check", { headers: bearer(own.token) })).status).toBe(200);
		const events = await revokedEvents(user.id);
		expect(events).toHaveLength(2);
		expect(events.map((e) => e.sessionId).sort()).toEqual([own.sessionId, third.sessionId].sort());
		for (const event of events) expect(event).toMatchObject({ actor: { type: "user", id: user.id } });
	});
});

describe("DELETE /user/sessions", () => {
	it("revokes every other session and says how many; the current one stays; one event with the count", async () => {
		const user = await createUser({ password: null });
		const current = await deviceSession(user.id);
		const others = await Promise.all([deviceSession(user.id), deviceSession(user.id), deviceSession(user.id)]);
		const alreadyRevoked = await deviceSession(user.id);
		await setSession(alreadyRevoked.sessionId, { revokedAt: Date.now() });

		const res = await revokeOthers(current.token);
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ revoked: 3 });
		for (const other of others) {
			await expectError(await send("/user/profile", { headers: bearer(other.token) }), 401);
			await expectError(await ildRefresh(other.refresh), 401);
		}
		expect(await profileStatus(current.token)).toBe(200);
		const rotated = await ildRefresh(current.refresh);
		expect(rotated.status).toBe(200);
		expect(refreshCookieOf(rotated)).toBeTruthy();
		expect((await list(current.token)).map((s) => s.id)).toEqual([current.sessionId]);

		// Nothing left to revoke: 0, and no second event.
		const again = await revokeOthers(current.token);
		expect(await again.json()).toEqual({ revoked: 0 });
		const events = await revokedEvents(user.id);
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({
			userId: user.id,
			actor: { type: "user", id: user.id },
			sessionId: null,
			detail: { scope: "others", count: 3 },
		});
	});

	it("401s without a token or with a bad one", async () => {
		await expectError(await send("/user/sessions", { method: "DELETE" }), 401);
		await expectError(await revokeOthers("a.b.c"), 401);
	});
});

describe("DELETE /user/{userId}/sessions (Admin)", () => {
	it("revokes all of the user's sessions and says how many; one event with the Admin as actor", async () => {
		const user = await createUser({ password: null });
		const all = await Promise.all([deviceSession(user.id), deviceSession(user.id)]);
		const bystander = await createUser({ password: null });
		const theirs = await deviceSession(bystander.id);

		const res = await revokeAllOf(admin.token, user.id);
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ revoked: 2 });
		for (const s of all) {
			await expectError(await send("/user/profile", { headers: bearer(s.token) }), 401);
			await expectError(await kc7Refresh(s.refresh), 401);
		}
		expect(await list(admin.token, `/user/${user.id}/sessions`)).toEqual([]);
		expect(await profileStatus(theirs.token)).toBe(200);
		// The Admin's own session is not touched.
		expect(await profileStatus(admin.token)).toBe(200);

		const again = await revokeAllOf(admin.token, user.id);
		expect(await again.json()).toEqual({ revoked: 0 });
		const events = await revokedEvents(user.id);
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({
			userId: user.id,
			actor: { type: "admin", id: admin.id },
			sessionId: null,
			detail: { scope: "all", count: 2 },
		});
	});

	it("is 403 for callers who are not Admins and revokes nothing, 404 for an unknown user, 401 without a token", async () => {
		const user = await createUser({ password: null });
		const session = await deviceSession(user.id);
		for (const roles of [[], ["Manager"], ["API"]] as const) {
			const caller = await createUser({ roles: [...roles], password: null });
			const { token } = await deviceSession(caller.id, [...roles]);
			await expectError(await revokeAllOf(token, user.id), 403);
			await expectError(await revokeAllOf(token, 999999999), 403);
			await expectError(await revokeAllOf(token, caller.id), 403);
		}
		expect(await profileStatus(session.token)).toBe(200);
		await expectError(await revokeAllOf(admin.token, 999999999), 404, "User not found");
		await expectError(await send(`/user/${user.id}/sessions`, { method: "DELETE" }), 401);
		await expectError(await revokeAllOf("a.b.c", user.id), 401);
		expect(await profileStatus(session.token)).toBe(200);
		expect(await revokedEvents(user.id)).toHaveLength(0);
	});
});

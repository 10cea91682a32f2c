import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { oneTimeTokens, sessions, users } from "../../../src/db/schema.ts";
import { createIntegrationKey } from "../../../src/services/integration-keys.ts";
import { issueOneTimeToken, type TokenPurpose } from "../../../src/services/one-time-tokens.ts";
import { db, serviceDeps, userRow } from "../../helpers/d1.ts";
import { createUser, NEW_PASSWORD, PASSWORD } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson } from "../../helpers/http.ts";
import {
	deleteBan,
	deviceSession,
	eventsAbout,
	ildRefresh,
	kc7Refresh,
	linkFor,
	putBan,
} from "../../helpers/requests.ts";

/**
 * PUT/DELETE /user/{userId}/ban: a ban bites at once (sessions, access tokens, one-time tokens, in one write with its
 * event), closes every sign-in door on both surfaces and login links, shows on the user object, ends by itself at
 * `until`, and is lifted by DELETE.
 */

const HOUR = 60 * 60 * 1000;

let admin: { id: number; token: string };
let key: string;
beforeAll(async () => {
	const user = await createUser({ roles: ["Admin"], password: null });
	admin = { id: user.id, token: (await deviceSession(user.id, ["Admin"])).token };
	key = (await createIntegrationKey(serviceDeps(), { name: "bans" }, user.id)).key;
});

const openToken = async (userId: number, purpose: TokenPurpose) =>
	(await issueOneTimeToken({ db: db(), env }, { purpose, userId })).token;

async function mintLink(userId: number): Promise<string> {
	const res = await linkFor(userId, admin.token, key);
	const text = await res.text();
	expect(res.status, text).toBe(200);
	return new URL((JSON.parse(text) as { login_link: string }).login_link).searchParams.get("token") as string;
}

const profileStatus = async (token: string) => (await send("/user/profile", { headers: bearer(token) })).status;

async function ildUser(userId: number) {
	const res = await send(`/user/${userId}`, { headers: bearer(admin.token) });
	expect(res.status).toBe(200);
	return (await res.json()) as { banned: boolean; banReason: string | null; bannedUntil: string | null };
}

async function banned(userId: number, body: unknown = {}) {
	const res = await putBan(admin.token, userId, body);
	const text = await res.text();
	expect(res.status, text).toBe(200);
	return JSON.parse(text) as Record<string, unknown>;
}

const ildSignIn = (email: string, password = PASSWORD) => sendJson("/sign/login", { email, password });
const kc7SignIn = (username: string, password = PASSWORD) => sendJson("/api/auth", { username, password });

describe("PUT /user/{userId}/ban", () => {
	it("bans in one write: every session and access token ends, every open one-time token closes, one event", async () => {
		const user = await createUser({ password: null, verified: false });
		const ildSession = await deviceSession(user.id);
		const kc7Session = await deviceSession(user.id);
		expect(await profileStatus(ildSession.token)).toBe(200);
		const reset = await openToken(user.id, "password-reset");
		const verify = await openToken(user.id, "verify-email");
		const link = await mintLink(user.id);

		const body = await banned(user.id, { reason: "Spam in the forums" });
		expect(body).toEqual({ id: user.id, banned: true, banReason: "Spam in the forums", bannedUntil: null });

		// Access tokens are refused from the next request on, on both surfaces.
		await expectError(await send("/user/profile", { headers: bearer(ildSession.token) }), 401);
		await expectError(await send("/api/users/me", { headers: bearer(kc7Session.token) }), 401);
		// Refresh tokens too, on both surfaces.
		await expectError(await ildRefresh(ildSession.refresh), 401, "Invalid refresh token");
		await expectError(await kc7Refresh(kc7Session.refresh), 401, "Invalid refresh token");
		// One-time tokens minted before the ban no longer work.
		await expectError(
			await sendJson(`/sign/reset/${reset}`, { password: NEW_PASSWORD }),
			400,
			"Invalid or expired token",
		);
		await expectError(await sendJson("/sign/verify", { token: verify }), 400, "Invalid or expired token");
		await expectError(await send(`/auth/token-login?token=${link}`), 401, "Invalid token");
		// Neither the reset nor the verification landed.
		expect((await userRow(user.id))?.passwordHash).toBeNull();
		expect((await userRow(user.id))?.emailVerifiedAt).toBeNull();

		// As stored: every session revoked, every token closed.
		const rows = await db().select().from(sessions).where(eq(sessions.userId, user.id));
		expect(rows.map((r) => r.revokedAt !== null)).toEqual([true, true]);
		const tokens = await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.userId, user.id));
		expect(tokens).toHaveLength(3);
		for (const t of tokens) expect(t.closedAt).not.toBeNull();

		const events = await eventsAbout(admin.token, user.id, "user.banned");
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({
			type: "user.banned",
			outcome: "success",
			userId: user.id,
			actor: { type: "admin", id: admin.id },
			detail: { reason: "Spam in the forums", until: null },
		});
		expect(await ildUser(user.id)).toMatchObject({
			banned: true,
			banReason: "Spam in the forums",
			bannedUntil: null,
		});
	});

	it("refuses the access token of any session of a banned account, even one the ban did not revoke", async () => {
		const user = await createUser({ password: null });
		await banned(user.id);
		// A session row that exists after the ban (e.g. written by a sign-in racing the ban): the ban alone refuses it.
		const late = await deviceSession(user.id);
		await expectError(await send("/user/profile", { headers: bearer(late.token) }), 401);
		await expectError(await send("/api/users/me", { headers: bearer(late.token) }), 401);
		await expectError(await ildRefresh(late.refresh), 401);
		// /sign/check alone decides from the token.
		expect((await send("/sign/check", { headers: bearer(late.token) })).status).toBe(200);
	});

	it("records a timed ban with its end, normalized to UTC; the user object shows it", async () => {
		const user = await createUser({ password: null });
		const body = await banned(user.id, { until: "2099-01-01T02:00:00+02:00", reason: null });
		expect(body).toEqual({ id: user.id, banned: true, banReason: null, bannedUntil: "2099-01-01T00:00:00.000Z" });
		expect(await ildUser(user.id)).toMatchObject({
			banned: true,
			banReason: null,
			bannedUntil: "2099-01-01T00:00:00.000Z",
		});
		const [event] = await eventsAbout(admin.token, user.id, "user.banned");
		expect(event?.detail).toMatchObject({ reason: null, until: "2099-01-01T00:00:00.000Z" });
	});

	it('answers the right password with 403 "Account disabled" on both surfaces, a wrong one with the ordinary 401', async () => {
		const user = await createUser();
		await banned(user.id, { reason: "abuse" });
		await expectError(await ildSignIn(user.email), 403, "Account disabled");
		const kc7 = await kc7SignIn(user.username as string);
		await expectError(kc7, 403, "Account disabled");
		await expectError(await ildSignIn(user.email, "not-the-password"), 401, "Invalid email or password");
		await expectError(await kc7SignIn(user.username as string, "not-the-password"), 401, "Invalid credentials");
		// No session was opened by any of them.
		const rows = await db().select().from(sessions).where(eq(sessions.userId, user.id));
		expect(rows).toEqual([]);
	});

	it("closes login links: none can be minted for a banned user (403), one minted before cannot be redeemed", async () => {
		const user = await createUser({ password: null });
		const forJson = await mintLink(user.id);
		const forBrowser = await mintLink(user.id);
		await banned(user.id);
		await expectError(await linkFor(user.id, admin.token, key), 403, "Unauthorized");
		await expectError(await send(`/auth/token-login?token=${forJson}`), 401, "Invalid token");
		const browser = await send(`/auth/magic-link?token=${forBrowser}`, { redirect: "manual" });
		await expectError(browser, 401, "Invalid token");
		expect(browser.headers.getSetCookie().join()).not.toMatch(/refresh_token=[^;]/);
	});

	it("ends the links a banned partner caller minted for others at once, and only theirs", async () => {
		const partner = await createUser({ roles: ["API"], password: null });
		const partnerToken = (await deviceSession(partner.id, ["API"])).token;
		const [a, b] = [await createUser({ password: null }), await createUser({ password: null })];
		const mint = async (userId: number, token: string) => {
			const res = await linkFor(userId, token, key);
			expect(res.status).toBe(200);
			return new URL(((await res.json()) as { login_link: string }).login_link).searchParams.get("token") as string;
		};
		const byPartner = await mint(a.id, partnerToken);
		const byAdmin = await mint(b.id, admin.token);
		await banned(partner.id);
		await expectError(await send(`/auth/token-login?token=${byPartner}`), 401, "Invalid token");
		expect((await send(`/auth/token-login?token=${byAdmin}`)).status).toBe(200);
	});

	it("a timed ban no longer applies after its end: sign-in and links work again, the fields read false/null/null", async () => {
		const user = await createUser();
		const before = await deviceSession(user.id);
		await banned(user.id, { until: new Date(Date.now() + HOUR).toISOString(), reason: "cool down" });
		await expectError(await ildSignIn(user.email), 403, "Account disabled");

		// The end has passed (set in D1 rather than waited for).
		await db()
			.update(users)
			.set({ bannedUntil: Date.now() - 1000 })
			.where(eq(users.id, user.id));
		expect(await ildUser(user.id)).toMatchObject({ banned: false, banReason: null, bannedUntil: null });
		const signedIn = await ildSignIn(user.email);
		expect(signedIn.status).toBe(200);
		const { token, user: self } = (await signedIn.json()) as { token: string; user: Record<string, unknown> };
		expect(self).toMatchObject({ banned: false, banReason: null, bannedUntil: null });
		expect(await profileStatus(token)).toBe(200);
		const link = await mintLink(user.id);
		expect((await send(`/auth/token-login?token=${link}`)).status).toBe(200);
		// The sessions the ban ended stay ended.
		await expectError(await ildRefresh(before.refresh), 401);
		await expectError(await send("/user/profile", { headers: bearer(before.token) }), 401);
	});
});

describe("DELETE /user/{userId}/ban", () => {
	it("lifts the ban (200, false/null/null); user.unbanned only when a ban was lifted", async () => {
		const user = await createUser({ password: null });
		const before = await deviceSession(user.id);
		await banned(user.id, { reason: "mistake", until: new Date(Date.now() + HOUR).toISOString() });

		for (let i = 0; i < 2; i++) {
			const res = await deleteBan(admin.token, user.id);
			expect(res.status).toBe(200);
			expect(await res.json()).toEqual({ id: user.id, banned: false, banReason: null, bannedUntil: null });
		}
		expect(await ildUser(user.id)).toMatchObject({ banned: false, banReason: null, bannedUntil: null });
		const row = await userRow(user.id);
		expect([row?.bannedAt, row?.bannedUntil, row?.banReason]).toEqual([null, null, null]);
		const events = await eventsAbout(admin.token, user.id, "user.unbanned");
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({ userId: user.id, actor: { type: "admin", id: admin.id }, outcome: "success" });

		// New sessions work; the ones the ban ended stay ended.
		const after = await deviceSession(user.id);
		expect(await profileStatus(after.token)).toBe(200);
		await expectError(await send("/user/profile", { headers: bearer(before.token) }), 401);
		await expectError(await ildRefresh(before.refresh), 401);

		// A user who was never banned: 200, nothing recorded.
		const never = await createUser({ password: null });
		const res = await deleteBan(admin.token, never.id);
		expect(await res.json()).toEqual({ id: never.id, banned: false, banReason: null, bannedUntil: null });
		expect(await eventsAbout(admin.token, never.id, "user.unbanned")).toEqual([]);
	});
});

describe("errors", () => {
	async function expectNotBanned(userId: number) {
		expect((await userRow(userId))?.bannedAt).toBeNull();
		expect(await eventsAbout(admin.token, userId, "user.banned")).toEqual([]);
	}

	it("400s an `until` in the past or not ISO 8601, unknown fields and malformed bodies; nothing is banned", async () => {
		const user = await createUser({ password: null });
		const session = await deviceSession(user.id);
		const past = await putBan(admin.token, user.id, { until: new Date(Date.now() - 60_000).toISOString() });
		const error = await expectError(past, 400, "until must be in the future");
		expect(error.issues?.map((i) => i.path)).toEqual(["until"]);
		for (const body of [
			{ until: "tomorrow" },
			{ until: "2099-02-30" },
			{ until: "2099-01-01T25:00:00Z" },
			{ until: 4102444800000 },
			{ reason: 42 },
			{ role: "Admin" },
			{ reason: "x", bannedUntil: "2099-01-01T00:00:00Z" },
		]) {
			await expectError(await putBan(admin.token, user.id, body), 400);
		}
		const unknown = await expectError(await putBan(admin.token, user.id, { foo: 1 }), 400);
		expect(JSON.stringify(unknown)).toContain("foo");
		await expectError(
			await send(`/user/${user.id}/ban`, {
				method: "PUT",
				headers: { ...bearer(admin.token), "Content-Type": "application/json" },
				body: "{not json",
			}),
			400,
		);
		await expectNotBanned(user.id);
		expect(await profileStatus(session.token)).toBe(200);
		// ISO 8601 without a zone is UTC; a date alone is its UTC midnight.
		for (const [until, ends] of [
			["2099-01-01", "2099-01-01T00:00:00.000Z"],
			["2099-01-01T12:30", "2099-01-01T12:30:00.000Z"],
		]) {
			const ban = await putBan(admin.token, user.id, { until });
			expect(ban.status).toBe(200);
			expect(await ban.json()).toMatchObject({ banned: true, bannedUntil: ends });
			expect((await deleteBan(admin.token, user.id)).status).toBe(200);
		}
	});

	it("403s an Admin banning themself, and callers who are not Admins (whether or not the user exists)", async () => {
		const self = await putBan(admin.token, admin.id, { reason: "oops" });
		await expectError(self, 403, "Admins cannot ban themselves");
		expect((await userRow(admin.id))?.bannedAt).toBeNull();
		expect(await profileStatus(admin.token)).toBe(200);

		const user = await createUser({ password: null });
		const session = await deviceSession(user.id);
		for (const roles of [[], ["Manager"], ["API"]] as const) {
			const caller = await createUser({ roles: [...roles], password: null });
			const { token } = await deviceSession(caller.id, [...roles]);
			await expectError(await putBan(token, user.id, { reason: "no" }), 403);
			await expectError(await putBan(token, 999999999), 403);
			await expectError(await deleteBan(token, user.id), 403);
			await expectError(await deleteBan(token, 999999999), 403);
		}
		await expectNotBanned(user.id);
		expect(await profileStatus(session.token)).toBe(200);

		// Not even an unban by a non-Admin lifts a ban.
		await banned(user.id);
		const plain = await createUser({ password: null });
		await expectError(await deleteBan((await deviceSession(plain.id)).token, user.id), 403);
		expect((await ildUser(user.id)).banned).toBe(true);
	});

	it("404s an unknown user and 401s a missing or bad token", async () => {
		await expectError(await putBan(admin.token, 999999999, { reason: "x" }), 404, "User not found");
		await expectError(await deleteBan(admin.token, 999999999), 404, "User not found");
		const user = await createUser({ password: null });
		await expectError(
			await send(`/user/${user.id}/ban`, {
				method: "PUT",
				headers: { "Content-Type": "application/json" },
				body: "{}",
			}),
			401,
		);
		await expectError(await putBan("a.b.c", user.id), 401);
		await expectError(await send(`/user/${user.id}/ban`, { method: "DELETE" }), 401);
		await expectError(await deleteBan("a.b.c", user.id), 401);
		await expectNotBanned(user.id);
	});
});

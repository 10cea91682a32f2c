import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sessions } from "../../src/db/schema.ts";
import { REFRESH_GRACE_MS, SESSION_IDLE_MS } from "../../src/services/sessions.ts";
import {
	bearer,
	countingD1,
	createUser,
	db,
	expectError,
	ildLogin,
	kc7Login,
	PASSWORD,
	refreshCookieOf,
	send,
	sendJson,
	sendWith,
	withCookie,
} from "../helpers.ts";

const ildRefresh = (refresh: string, headers: Record<string, string> = {}) =>
	send("/sign/refresh", { headers: { ...withCookie(refresh), ...headers } });
const kc7Refresh = (refresh: string, headers: Record<string, string> = {}) =>
	send("/auth/refresh-token", { method: "POST", headers: { ...withCookie(refresh), ...headers } });

const familyOf = (refresh: string) => refresh.split(".")[0] as string;
const sessionRow = (refresh: string) =>
	db()
		.select()
		.from(sessions)
		.where(eq(sessions.family, familyOf(refresh)))
		.get();

async function rotate(refresh: string): Promise<string> {
	const res = await ildRefresh(refresh);
	expect(res.status).toBe(200);
	const next = refreshCookieOf(res);
	expect(next).toBeTruthy();
	return next as string;
}

describe("refresh rotation", () => {
	it("rotates on every refresh: new access token, new cookie, no-store", async () => {
		const user = await createUser();
		const { refresh } = await ildLogin(user.email);
		const res = await ildRefresh(refresh);
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		const body = (await res.json()) as { token: string; expiresIn: number };
		expect(body.expiresIn).toBe(900);
		const check = await send("/sign/check", { headers: bearer(body.token) });
		expect(((await check.json()) as { userId: number }).userId).toBe(user.id);
		const next = refreshCookieOf(res) as string;
		expect(next).not.toBe(refresh);
		expect(familyOf(next)).toBe(familyOf(refresh));
		// The KC7 endpoint uses the same sessions.
		const kc7 = await kc7Refresh(next);
		expect(kc7.status).toBe(200);
		expect(Object.keys((await kc7.json()) as object)).toEqual(["access_token"]);
	});

	it("gives the previous token, within 10 s, a new access token without rotating or a cookie", async () => {
		const user = await createUser();
		const { refresh } = await ildLogin(user.email);
		const current = await rotate(refresh);
		const before = await sessionRow(current);
		const racing = await ildRefresh(refresh);
		expect(racing.status).toBe(200);
		expect(refreshCookieOf(racing)).toBeNull();
		expect(((await racing.json()) as { token: string }).token).toBeTruthy();
		const after = await sessionRow(current);
		expect(after?.tokenHash).toBe(before?.tokenHash);
		expect(after?.revokedAt).toBeNull();
		await rotate(current); // the current token still works
	});

	it("treats the previous token after the grace window as reuse and revokes the session", async () => {
		const user = await createUser();
		const { refresh } = await ildLogin(user.email);
		const current = await rotate(refresh);
		await db()
			.update(sessions)
			.set({ rotatedAt: Date.now() - REFRESH_GRACE_MS - 1 })
			.where(eq(sessions.family, familyOf(current)));
		await expectError(await kc7Refresh(refresh), 401, "Invalid refresh token");
		expect((await sessionRow(current))?.revokedAt).not.toBeNull();
		await expectError(await ildRefresh(current), 401); // the thief's and the owner's copies are both dead
	});

	it("treats a token older than the previous one as reuse, even inside the grace window", async () => {
		const user = await createUser();
		const { refresh: t0 } = await ildLogin(user.email);
		const t1 = await rotate(t0);
		const t2 = await rotate(t1);
		await expectError(await ildRefresh(t0), 401);
		await expectError(await ildRefresh(t2), 401);
	});

	it("20 concurrent refreshes with one token: exactly one rotation, all answered, nothing revoked", async () => {
		const user = await createUser();
		const { refresh } = await ildLogin(user.email);
		const results = await Promise.all(Array.from({ length: 20 }, () => ildRefresh(refresh)));
		expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
		const rotated = results.map(refreshCookieOf).filter(Boolean) as string[];
		expect(rotated).toHaveLength(1);
		const row = await sessionRow(refresh);
		expect(row?.revokedAt).toBeNull();
		await rotate(rotated[0] as string);
	});

	it("expires after 14 idle days and after 30 days in all", async () => {
		const user = await createUser();
		const idle = (await ildLogin(user.email)).refresh;
		await db()
			.update(sessions)
			.set({ lastUsedAt: Date.now() - SESSION_IDLE_MS - 1 })
			.where(eq(sessions.family, familyOf(idle)));
		await expectError(await ildRefresh(idle), 401);

		const old = (await ildLogin(user.email)).refresh;
		await db()
			.update(sessions)
			.set({ expiresAt: Date.now() - 1 })
			.where(eq(sessions.family, familyOf(old)));
		await expectError(await ildRefresh(old), 401);
	});

	it("401s (and clears the cookie) for a missing, malformed or unknown token, without touching D1 for junk", async () => {
		await expectError(await send("/sign/refresh"), 401, "Invalid refresh token");
		await expectError(await send("/auth/refresh-token", { method: "POST" }), 401, "Invalid refresh token");
		const unknown = `${"A".repeat(22)}.${"B".repeat(43)}`;
		const res = await ildRefresh(unknown);
		await expectError(res, 401);
		expect(res.headers.getSetCookie().join()).toMatch(/refresh_token=;.*Max-Age=0/);
		const { d1, counter } = countingD1(env.DB);
		await expectError(await sendWith({ DB: d1 }, "/sign/refresh", { headers: withCookie("garbage") }), 401);
		expect(counter.count).toBe(0);
	});

	it("refuses cookie requests from a foreign Origin (403) and accepts allowed or absent ones", async () => {
		const user = await createUser();
		const { refresh } = await ildLogin(user.email);
		await expectError(await ildRefresh(refresh, { Origin: "https://evil.example" }), 403);
		await expectError(await kc7Refresh(refresh, { Origin: "https://evil.example" }), 403);
		const allowed = await ildRefresh(refresh, { Origin: "http://localhost:5173" });
		expect(allowed.status).toBe(200);
		expect(allowed.headers.get("Access-Control-Allow-Origin")).toBe("http://localhost:5173");
		expect((await ildRefresh(refreshCookieOf(allowed) as string)).status).toBe(200);
	});
});

describe("GET /sign/logout", () => {
	it("with a Bearer token revokes that session and clears the cookie; the access token lives on until expiry", async () => {
		const user = await createUser();
		const { token, refresh } = await ildLogin(user.email);
		const res = await send("/sign/logout", { headers: bearer(token) });
		expect(res.status).toBe(200);
		expect(res.headers.getSetCookie().join()).toMatch(/refresh_token=;.*Max-Age=0/);
		await expectError(await ildRefresh(refresh), 401);
		// Documented: /sign/check decides from the token alone.
		expect((await send("/sign/check", { headers: bearer(token) })).status).toBe(200);
	});

	it("with only the refresh cookie revokes that session", async () => {
		const user = await createUser();
		const { refresh } = await ildLogin(user.email);
		const other = await ildLogin(user.email);
		expect((await send("/sign/logout", { headers: withCookie(refresh) })).status).toBe(200);
		await expectError(await ildRefresh(refresh), 401);
		expect((await ildRefresh(other.refresh)).status).toBe(200); // other sessions stay
	});

	it("401s with neither, and 403s a foreign Origin", async () => {
		await expectError(await send("/sign/logout"), 401);
		await expectError(await send("/sign/logout", { headers: withCookie(`${"A".repeat(22)}.${"B".repeat(43)}`) }), 401);
		const user = await createUser();
		const { refresh } = await ildLogin(user.email);
		await expectError(
			await send("/sign/logout", { headers: { ...withCookie(refresh), Origin: "https://evil.example" } }),
			403,
		);
		expect((await ildRefresh(refresh)).status).toBe(200);
	});
});

describe("PUT /user/changepassword", () => {
	const change = (token: string, body: unknown) =>
		sendJson("/user/changepassword", body, { method: "PUT", headers: bearer(token) });

	it("changes the password and revokes every other session, keeping the caller's", async () => {
		const user = await createUser();
		const mine = await ildLogin(user.email);
		const other = await kc7Login(user.username as string);
		const res = await change(mine.token, { currentPassword: PASSWORD, newPassword: "a-brand-new-passphrase" });
		expect(res.status).toBe(200);
		await expectError(await ildRefresh(other.refresh), 401);
		expect((await ildRefresh(mine.refresh)).status).toBe(200);
		await expectError(await sendJson("/sign/login", { email: user.email, password: PASSWORD }), 401);
		await ildLogin(user.email, "a-brand-new-passphrase");
	});

	it('rejects a wrong current password with 400 "Current password is incorrect" and changes nothing', async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		await expectError(
			await change(token, { currentPassword: "not-my-password", newPassword: "a-brand-new-passphrase" }),
			400,
			"Current password is incorrect",
		);
		await ildLogin(user.email);
	});

	it("validates the new password (length in code points, not the email) and requires a token", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		await expectError(await change(token, { currentPassword: PASSWORD, newPassword: "short" }), 400, /at least 8/);
		await expectError(await change(token, { currentPassword: PASSWORD, newPassword: user.email }), 400, /email/);
		await expectError(await change(token, { currentPassword: PASSWORD }), 400, "New password is required");
		await expectError(await change("", { currentPassword: PASSWORD, newPassword: "a-brand-new-passphrase" }), 401);
	});
});

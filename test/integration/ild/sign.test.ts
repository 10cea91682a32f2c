import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { oneTimeTokens, sessions, users } from "../../../src/db/schema.ts";
import { hashPassword, parsePeppers } from "../../../src/lib/password.ts";
import { issueOneTimeToken } from "../../../src/services/one-time-tokens.ts";
import { REFRESH_GRACE_MS, SESSION_IDLE_MS } from "../../../src/services/sessions.ts";
import { countingD1, db, userRow } from "../../helpers/d1.ts";
import { createUser, ildLogin, loginLinkToken, NEW_PASSWORD, PASSWORD } from "../../helpers/factories.ts";
import {
	bearer,
	expectError,
	jsonPost,
	refreshCookieOf,
	send,
	sendJson,
	sendWith,
	withCookie,
} from "../../helpers/http.ts";
import { eventually, mailFor, outbox, tokenFromMail } from "../../helpers/mail.ts";
import { ildRefresh, rotate } from "../../helpers/requests.ts";
import { uniqueEmail, uniqueIp } from "../../helpers/unique.ts";

/**
 * The ILD sign-in surface: /sign/login, /sign/register, /sign/verify, /sign/reset[/{token}], /sign/check,
 * /sign/refresh (which POST /auth/refresh-token shares: the same sessions, the same rotation) and /sign/logout.
 */

async function register(email = uniqueEmail(), extra: Record<string, unknown> = {}) {
	return sendJson("/sign/register", { email, password: PASSWORD, firstName: "Ann", lastName: "Lee", ...extra });
}

const kc7Refresh = (refresh: string, headers: Record<string, string> = {}) =>
	send("/auth/refresh-token", { method: "POST", headers: { ...withCookie(refresh), ...headers } });

const familyOf = (refresh: string) => refresh.split(".")[0] as string;
const sessionRow = (refresh: string) =>
	db()
		.select()
		.from(sessions)
		.where(eq(sessions.family, familyOf(refresh)))
		.get();

describe("POST /sign/login", () => {
	it("returns token, expiresIn and the user object, and sets the refresh cookie", async () => {
		const user = await createUser({ roles: ["Manager"] });
		const res = await sendJson("/sign/login", { email: user.email.toUpperCase(), password: PASSWORD });
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		const body = (await res.json()) as Record<string, unknown>;
		expect(body).toEqual({
			token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
			expiresIn: 900,
			user: {
				id: user.id,
				email: user.email,
				username: user.username,
				firstName: "Test",
				lastName: "User",
				roles: ["Manager"],
				emailVerified: true,
				tutorialCompleted: false,
				profileImage: null,
				communities: [],
				categories: [],
				subscription: { status: "none", plan: null, validUntil: null },
				banned: false,
				banReason: null,
				bannedUntil: null,
				createdAt: new Date(user.createdAt).toISOString(),
				updatedAt: new Date(user.updatedAt).toISOString(),
			},
		});
		const cookie = res.headers.getSetCookie().find((c) => c.startsWith("refresh_token="));
		expect(cookie).toMatch(/HttpOnly/);
		expect(cookie).toMatch(/Secure/);
		expect(cookie).toMatch(/SameSite=Lax/);
		expect(cookie).toMatch(/Path=\//);
		const maxAge = Number(cookie?.match(/Max-Age=(\d+)/)?.[1]);
		expect(maxAge).toBeGreaterThan(29 * 24 * 3600);
		expect(maxAge).toBeLessThanOrEqual(30 * 24 * 3600);
		expect(refreshCookieOf(res)).toMatch(/^[\w-]{22}\.[\w-]{43}$/);
	});

	it("answers an unknown email and a wrong password identically, with the same hashing work", async () => {
		const user = await createUser();
		const pbkdf2 = vi.spyOn(crypto.subtle, "deriveBits");
		const wrong = await sendJson("/sign/login", { email: user.email, password: "not-the-password" });
		const wrongCalls = pbkdf2.mock.calls.length;
		const unknown = await sendJson("/sign/login", { email: uniqueEmail(), password: "not-the-password" });
		const unknownCalls = pbkdf2.mock.calls.length - wrongCalls;
		pbkdf2.mockRestore();
		const a = await expectError(wrong, 401, "Invalid email or password");
		const b = await expectError(unknown, 401);
		expect(b).toEqual(a);
		expect(wrongCalls).toBe(1);
		expect(unknownCalls).toBe(1);
	});

	it("treats an account without a password (provisioned) like a wrong password", async () => {
		const user = await createUser({ password: null });
		await expectError(await sendJson("/sign/login", { email: user.email, password: "anything-at-all" }), 401);
	});

	it("refuses an unverified email with 403 only after the right password", async () => {
		const user = await createUser({ verified: false });
		await expectError(await sendJson("/sign/login", { email: user.email, password: "wrong-password" }), 401);
		await expectError(
			await sendJson("/sign/login", { email: user.email, password: PASSWORD }),
			403,
			"Email not verified",
		);
		const relaxed = await sendWith(
			{ REQUIRE_EMAIL_VERIFICATION: "false" },
			"/sign/login",
			jsonPost({ email: user.email, password: PASSWORD }),
		);
		expect(relaxed.status).toBe(200);
	});

	it("upgrades a hash made with an older pepper on successful login", async () => {
		const user = await createUser();
		const [, previous] = parsePeppers(env.PASSWORD_PEPPERS);
		const oldHash = await hashPassword(PASSWORD, [previous as { id: string; secret: string }]);
		await db().update(users).set({ passwordHash: oldHash }).where(eq(users.id, user.id));
		await ildLogin(user.email);
		const stored = (await userRow(user.id))?.passwordHash as string;
		expect(stored).not.toBe(oldHash);
		expect(stored).toMatch(/^pbkdf2-sha256\$i=100000\$p=t2\$/);
		await ildLogin(user.email); // the upgraded hash verifies
	});
});

describe("failed-login limits", () => {
	it("locks the account after 10 failures: 429 with Retry-After, even for the right password", async () => {
		const user = await createUser();
		for (let i = 0; i < 10; i++) {
			await expectError(await sendJson("/sign/login", { email: user.email, password: `wrong-${i}-pass` }), 401);
		}
		const locked = await sendJson("/sign/login", { email: user.email, password: PASSWORD });
		await expectError(locked, 429);
		expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThan(0);
		expect(Number(locked.headers.get("Retry-After"))).toBeLessThanOrEqual(15 * 60);
		expect(locked.headers.get("RateLimit-Limit")).toBe("10");
		expect(locked.headers.get("RateLimit-Remaining")).toBe("0");
		// The same account on the other surface is locked too.
		await expectError(await sendJson("/api/auth", { username: user.username, password: PASSWORD }), 429);
	});

	it("shares one per-account counter between /sign/login (email) and /api/auth (username)", async () => {
		const user = await createUser();
		for (let i = 0; i < 5; i++) {
			await expectError(await sendJson("/sign/login", { email: user.email, password: "wrong-pass" }), 401);
			await expectError(await sendJson("/api/auth", { username: user.username, password: "wrong-pass" }), 401);
		}
		await expectError(await sendJson("/api/auth", { username: user.email, password: PASSWORD }), 429);
	});

	it("counts every one of 20 concurrent failures: exactly 10 are checked, 10 refused", async () => {
		const user = await createUser();
		const results = await Promise.all(
			Array.from({ length: 20 }, () => sendJson("/sign/login", { email: user.email, password: "wrong-password" })),
		);
		const statuses = results.map((r) => r.status).sort();
		expect(statuses.filter((s) => s === 401)).toHaveLength(10);
		expect(statuses.filter((s) => s === 429)).toHaveLength(10);
		await expectError(await sendJson("/sign/login", { email: user.email, password: PASSWORD }), 429);
	});

	it("does not count successful logins or malformed requests", async () => {
		const user = await createUser();
		for (let i = 0; i < 15; i++) await expectError(await sendJson("/sign/login", { email: user.email }), 400);
		for (let i = 0; i < 9; i++) {
			await expectError(await sendJson("/sign/login", { email: user.email, password: "wrong-password" }), 401);
		}
		// The success's provisional count is given back (deferred work: sendWith waits for it).
		const ok = await sendWith({}, "/sign/login", jsonPost({ email: user.email, password: PASSWORD }));
		expect(ok.status).toBe(200);
		await expectError(await sendJson("/sign/login", { email: user.email, password: "wrong-password" }), 401);
		await expectError(await sendJson("/sign/login", { email: user.email, password: "wrong-password" }), 429);
	});

	it("limits failures per IP across accounts (limit configurable)", async () => {
		const ip = uniqueIp();
		const limits = { RATE_LIMITS: JSON.stringify({ loginIp: { limit: 3, windowSeconds: 60 } }) };
		for (let i = 0; i < 3; i++) {
			const res = await sendWith(
				limits,
				"/sign/login",
				jsonPost({ email: uniqueEmail(), password: "wrong-password" }, ip),
			);
			expect(res.status).toBe(401);
		}
		const user = await createUser();
		const refused = await sendWith(limits, "/sign/login", jsonPost({ email: user.email, password: PASSWORD }, ip));
		await expectError(refused, 429);
		// Another address is unaffected.
		const other = await sendWith(limits, "/sign/login", jsonPost({ email: user.email, password: PASSWORD }));
		expect(other.status).toBe(200);
	});

	it("counts IPv6 clients by /64: rotating addresses inside one network does not reset the limit", async () => {
		const network = uniqueIp().replace(/::1$/, "");
		const limits = { RATE_LIMITS: JSON.stringify({ loginIp: { limit: 3, windowSeconds: 60 } }) };
		for (const host of ["::1", "::2", ":ffff:ffff:ffff:ffff"]) {
			const res = await sendWith(
				limits,
				"/sign/login",
				jsonPost({ email: uniqueEmail(), password: "wrong" }, `${network}${host}`),
			);
			expect(res.status).toBe(401);
		}
		const user = await createUser();
		const sameNetwork = `${network}:1234:5678:9abc:def0`;
		await expectError(
			await sendWith(limits, "/sign/login", jsonPost({ email: user.email, password: PASSWORD }, sameNetwork)),
			429,
		);
		// The neighbouring /64 is another customer.
		const neighbour = network.replace(
			/:([0-9a-f]+)$/,
			(_, g: string) => `:${(Number.parseInt(g, 16) ^ 0x8000).toString(16)}`,
		);
		const ok = await sendWith(
			limits,
			"/sign/login",
			jsonPost({ email: user.email, password: PASSWORD }, `${neighbour}::1`),
		);
		expect(ok.status).toBe(200);
	});

	it("counts an IPv4-mapped IPv6 address as the IPv4 address", async () => {
		const octet = () => Math.floor(Math.random() * 250) + 1;
		const v4 = `198.51.${octet()}.${octet()}`;
		const limits = { RATE_LIMITS: JSON.stringify({ loginIp: { limit: 2, windowSeconds: 60 } }) };
		for (const ip of [v4, `::ffff:${v4}`]) {
			const res = await sendWith(limits, "/sign/login", jsonPost({ email: uniqueEmail(), password: "wrong" }, ip));
			expect(res.status).toBe(401);
		}
		await expectError(
			await sendWith(limits, "/sign/login", jsonPost({ email: uniqueEmail(), password: "wrong" }, v4)),
			429,
		);
	});
});

describe("POST /sign/register", () => {
	it("creates the user (201, the user object) and mails a verification link built from configuration", async () => {
		const email = uniqueEmail();
		const res = await sendJson(
			"https://evil.example/sign/register",
			{ email: email.toUpperCase(), password: PASSWORD, firstName: "Ann", lastName: "Lee" },
			{ headers: { Host: "evil.example" } },
		);
		expect(res.status).toBe(201);
		const user = (await res.json()) as Record<string, unknown>;
		expect(user).toMatchObject({
			email,
			username: null,
			firstName: "Ann",
			lastName: "Lee",
			roles: [],
			emailVerified: false,
			tutorialCompleted: false,
			communities: [],
			categories: [],
			subscription: { status: "none", plan: null, validUntil: null },
		});
		expect(JSON.stringify(user)).not.toMatch(/password|hash/i);
		const mail = await mailFor(email, /verify/i);
		expect(mail.text).toMatch(/^[\s\S]*http:\/\/localhost:5173\/verify-email\?token=[\w-]{43}/);
		expect(mail.text).not.toContain("evil.example");
	});

	it("409s a taken email, whatever its case", async () => {
		const email = uniqueEmail();
		expect((await register(email)).status).toBe(201);
		await expectError(await register(email.toUpperCase()), 409, "Email is already registered");
	});

	it("validates every field", async () => {
		await expectError(
			await register(uniqueEmail(), { password: "short" }),
			400,
			"Password must be at least 8 characters",
		);
		const email = uniqueEmail();
		await expectError(await register(email, { password: email }), 400, "Password must not equal the email");
		await expectError(
			await sendJson("/sign/register", { email: uniqueEmail(), password: PASSWORD, lastName: "Lee" }),
			400,
			"First name is required",
		);
		await expectError(await register(uniqueEmail(), { firstName: "x".repeat(101) }), 400);
		await expectError(await register("not-an-email"), 400);
	});

	it("limits registrations per IP (configurable)", async () => {
		const ip = uniqueIp();
		const limits = { RATE_LIMITS: JSON.stringify({ registerIp: { limit: 2, windowSeconds: 3600 } }) };
		const attempt = () =>
			sendWith(limits, "/sign/register", {
				method: "POST",
				headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
				body: JSON.stringify({ email: uniqueEmail(), password: PASSWORD, firstName: "A", lastName: "B" }),
			});
		const first = await attempt();
		expect(first.status).toBe(201);
		expect(first.headers.get("RateLimit-Limit")).toBe("2");
		expect(first.headers.get("RateLimit-Remaining")).toBe("1");
		expect((await attempt()).status).toBe(201);
		const refused = await attempt();
		await expectError(refused, 429);
		expect(refused.headers.get("Retry-After")).toBeTruthy();
	});
});

describe("POST /sign/verify", () => {
	it("verifies the email once; the token is then spent", async () => {
		const email = uniqueEmail();
		const created = (await (await register(email)).json()) as { id: number };
		await expectError(await sendJson("/sign/login", { email, password: PASSWORD }), 403, "Email not verified");
		const token = tokenFromMail((await mailFor(email, /verify/i)).text);
		const res = await sendJson("/sign/verify", { token });
		expect(res.status).toBe(200);
		expect((await userRow(created.id))?.emailVerifiedAt).not.toBeNull();
		await ildLogin(email);
		await expectError(await sendJson("/sign/verify", { token }), 400, "Invalid or expired token");
	});

	it('answers unknown, malformed and wrong-purpose tokens with 400 "Invalid or expired token"', async () => {
		await expectError(await sendJson("/sign/verify", { token: "A".repeat(43) }), 400, "Invalid or expired token");
		await expectError(await sendJson("/sign/verify", { token: "../../etc" }), 400, "Invalid or expired token");
		await expectError(await sendJson("/sign/verify", {}), 400, "Token is required");
		const user = await createUser();
		await sendJson("/sign/reset", { email: user.email });
		const resetToken = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		await expectError(await sendJson("/sign/verify", { token: resetToken }), 400, "Invalid or expired token");
	});
});

describe("password reset", () => {
	it("answers the same for existing and unknown addresses, and mails only existing ones", async () => {
		const user = await createUser();
		const unknown = uniqueEmail();
		const a = await sendJson("/sign/reset", { email: user.email });
		const b = await sendJson("/sign/reset", { email: unknown });
		expect(a.status).toBe(200);
		expect(b.status).toBe(200);
		expect(await a.json()).toEqual(await b.json());
		const mail = await mailFor(user.email, /reset/i);
		expect(mail.text).toMatch(/http:\/\/localhost:5173\/reset-password\?token=[\w-]{43}/);
		expect(await outbox(unknown)).toEqual([]);
	});

	it("limits reset mails to 3 per hour per address, existing or not", async () => {
		const user = await createUser();
		for (const email of [user.email, uniqueEmail()]) {
			for (let i = 0; i < 3; i++) expect((await sendJson("/sign/reset", { email })).status).toBe(200);
			const refused = await sendJson("/sign/reset", { email: email.toUpperCase() });
			await expectError(refused, 429);
			expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
		}
		await expectError(await sendJson("/sign/reset", { email: "nope" }), 400);
	});

	it("limits reset requests per IP network too (30/hour by default), together with the per-address limit", async () => {
		const network = uniqueIp().replace(/::1$/, "");
		const limits = { RATE_LIMITS: JSON.stringify({ resetIp: { limit: 2, windowSeconds: 3600 } }) };
		const reset = (email: string, host: string) =>
			sendWith(limits, "/sign/reset", {
				method: "POST",
				headers: { "Content-Type": "application/json", "CF-Connecting-IP": `${network}${host}` },
				body: JSON.stringify({ email }),
			});
		// Different addresses from hosts in one /64: the network's budget is what runs out.
		expect((await reset(uniqueEmail(), "::1")).status).toBe(200);
		expect((await reset(uniqueEmail(), "::2")).status).toBe(200);
		const user = await createUser();
		const refused = await reset(user.email, "::3");
		await expectError(refused, 429);
		expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
		// Refused by the IP limit: the address's own budget was not spent (both or neither), and no mail went out.
		for (let i = 0; i < 3; i++) expect((await sendJson("/sign/reset", { email: user.email })).status).toBe(200);
		await expectError(await sendJson("/sign/reset", { email: user.email }), 429);
	});

	it("counts the registration's verification mail toward the address's limit", async () => {
		const email = uniqueEmail();
		expect((await register(email)).status).toBe(201);
		await mailFor(email, /verify/i);
		expect((await sendJson("/sign/reset", { email })).status).toBe(200);
		expect((await sendJson("/sign/reset", { email })).status).toBe(200);
		await expectError(await sendJson("/sign/reset", { email }), 429);
	});

	it("sets the new password, revokes every session, and spends the token", async () => {
		const user = await createUser();
		const session = await ildLogin(user.email);
		await sendJson("/sign/reset", { email: user.email });
		const token = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		const res = await sendJson(`/sign/reset/${token}`, { password: NEW_PASSWORD });
		expect(res.status).toBe(200);
		await expectError(await send("/sign/refresh", { headers: withCookie(session.refresh) }), 401);
		await expectError(await sendJson("/sign/login", { email: user.email, password: PASSWORD }), 401);
		await ildLogin(user.email, NEW_PASSWORD);
		await expectError(
			await sendJson(`/sign/reset/${token}`, { password: "yet-another-passphrase" }),
			400,
			"Invalid or expired token",
		);
	});

	it("does not spend the token when the new password is rejected", async () => {
		const user = await createUser();
		await sendJson("/sign/reset", { email: user.email });
		const token = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		await expectError(await sendJson(`/sign/reset/${token}`, { password: "short" }), 400, /at least 8/);
		await expectError(await sendJson(`/sign/reset/${token}`, { password: user.email }), 400, /email/);
		expect((await sendJson(`/sign/reset/${token}`, { password: NEW_PASSWORD })).status).toBe(200);
	});

	it("lets a provisioned user (no password, unverified) set one; the mailbox is then proven", async () => {
		const user = await createUser({ password: null, verified: false });
		await sendJson("/sign/reset", { email: user.email });
		const token = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		expect((await sendJson(`/sign/reset/${token}`, { password: NEW_PASSWORD })).status).toBe(200);
		expect((await userRow(user.id))?.emailVerifiedAt).not.toBeNull();
		await ildLogin(user.email, NEW_PASSWORD);
	});

	it("a newer reset token replaces the older one", async () => {
		const user = await createUser();
		await sendJson("/sign/reset", { email: user.email });
		const first = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		await sendJson("/sign/reset", { email: user.email });
		const second = await eventually(async () => {
			const mails = (await outbox(user.email)).filter((m) => /reset/i.test(m.subject));
			return mails.length === 2 ? tokenFromMail((mails[0] as { text: string }).text) : null;
		});
		expect(second).not.toBe(first);
		await expectError(
			await sendJson(`/sign/reset/${first}`, { password: NEW_PASSWORD }),
			400,
			"Invalid or expired token",
		);
		expect((await sendJson(`/sign/reset/${second}`, { password: NEW_PASSWORD })).status).toBe(200);
	});

	it("rejects an expired token", async () => {
		const user = await createUser();
		await sendJson("/sign/reset", { email: user.email });
		const token = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		await db()
			.update(oneTimeTokens)
			.set({ expiresAt: Date.now() - 1 })
			.where(eq(oneTimeTokens.userId, user.id));
		await expectError(
			await sendJson(`/sign/reset/${token}`, { password: NEW_PASSWORD }),
			400,
			"Invalid or expired token",
		);
	});
});

describe("secrets change, old doors close", () => {
	it("a completed reset closes every other open one-time token of the user", async () => {
		const user = await createUser();
		const verify = await issueOneTimeToken({ db: db(), env }, { purpose: "verify-email", userId: user.id });
		const link = await loginLinkToken(user.id);
		const other = await createUser();
		const othersLink = await loginLinkToken(other.id);
		await sendJson("/sign/reset", { email: user.email });
		const resetToken = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		expect((await sendJson(`/sign/reset/${resetToken}`, { password: NEW_PASSWORD })).status).toBe(200);
		await expectError(await send(`/auth/token-login?token=${link}`), 401, "Invalid token");
		await expectError(await sendJson("/sign/verify", { token: verify.token }), 400, "Invalid or expired token");
		expect((await send(`/auth/token-login?token=${othersLink}`)).status, "another user's token stays open").toBe(200);
	});
});

describe("token-only endpoints", () => {
	it("GET /sign/check answers from the token alone", async () => {
		const user = await createUser({ roles: ["Admin", "API"] });
		const { token } = await ildLogin(user.email);
		const res = await send("/sign/check", { headers: bearer(token) });
		expect(res.status).toBe(200);
		const body = (await res.json()) as Record<string, unknown>;
		expect(body).toEqual({
			authenticated: true,
			userId: user.id,
			roles: expect.arrayContaining(["Admin", "API"]),
			expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
		});
		const remaining = Date.parse(body.expiresAt as string) - Date.now();
		expect(remaining).toBeGreaterThan(890_000);
		expect(remaining).toBeLessThanOrEqual(900_000);
	});

	it("401s without a token, with a malformed header, or with a forged one", async () => {
		await expectError(await send("/sign/check"), 401, "Authentication required");
		await expectError(await send("/sign/check", { headers: { Authorization: "Basic dXNlcjpwYXNz" } }), 401);
		const none = `${btoa('{"alg":"none","typ":"at+jwt"}').replace(/=+$/, "")}.${btoa('{"sub":"1","sid":"x","roles":["Admin"]}').replace(/=+$/, "")}.`;
		await expectError(await send("/sign/check", { headers: bearer(none) }), 401, "Invalid or expired token");
		await expectError(await send("/api/users/me", { headers: bearer(none) }), 401);
	});
});

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

describe("D1 round trips", () => {
	async function roundTrips(path: string, init: RequestInit = {}) {
		const { d1, counter } = countingD1(env.DB);
		const res = await sendWith({ DB: d1 }, path, init);
		return { res, count: counter.count };
	}

	it("login costs at most 2, check 0, refresh 1, /api/users/me at most 1", async () => {
		const user = await createUser();
		const ild = await roundTrips("/sign/login", jsonPost({ email: user.email, password: PASSWORD }));
		expect(ild.res.status).toBe(200);
		expect(ild.count).toBeLessThanOrEqual(2);
		const kc7 = await roundTrips("/api/auth", jsonPost({ username: user.username, password: PASSWORD }));
		expect(kc7.res.status).toBe(200);
		expect(kc7.count).toBeLessThanOrEqual(2);
		const { access_token: token } = (await kc7.res.json()) as { access_token: string };
		const refresh = refreshCookieOf(kc7.res) as string;

		const check = await roundTrips("/sign/check", { headers: bearer(token) });
		expect(check.res.status).toBe(200);
		expect(check.count).toBe(0);

		const me = await roundTrips("/api/users/me", { headers: bearer(token) });
		expect(me.res.status).toBe(200);
		expect(me.count).toBeLessThanOrEqual(1);

		const ildRefresh = await roundTrips("/sign/refresh", { headers: withCookie(refresh) });
		expect(ildRefresh.res.status).toBe(200);
		expect(ildRefresh.count).toBe(1);
		const kc7Refresh = await roundTrips("/auth/refresh-token", {
			method: "POST",
			headers: withCookie(refreshCookieOf(ildRefresh.res) as string),
		});
		expect(kc7Refresh.res.status).toBe(200);
		expect(kc7Refresh.count).toBe(1);
	});

	it("a login that upgrades an old hash still costs 2 (the upgrade rides in the session batch)", async () => {
		const user = await createUser();
		const [, previous] = parsePeppers(env.PASSWORD_PEPPERS);
		await db()
			.update(users)
			.set({ passwordHash: await hashPassword(PASSWORD, [previous as { id: string; secret: string }]) })
			.where(eq(users.id, user.id));
		const { res, count } = await roundTrips("/sign/login", jsonPost({ email: user.email, password: PASSWORD }));
		expect(res.status).toBe(200);
		expect(count).toBe(2);
	});
});

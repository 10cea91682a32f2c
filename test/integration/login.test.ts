import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { users } from "../../src/db/schema.ts";
import { hashPassword, parsePeppers } from "../../src/lib/password.ts";
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
	uniqueEmail,
	uniqueIp,
	userRow,
	withCookie,
} from "../helpers.ts";

const jsonPost = (body: unknown, ip = uniqueIp()): RequestInit => ({
	method: "POST",
	headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
	body: JSON.stringify(body),
});

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

describe("POST /api/auth (KC7)", () => {
	it("accepts a username (any case) or an email and returns only access_token plus the cookie", async () => {
		const user = await createUser({ username: `Kc7${Date.now()}` });
		for (const username of [user.username as string, (user.username as string).toLowerCase(), user.email]) {
			const res = await sendJson("/api/auth", { username, password: PASSWORD });
			expect(res.status).toBe(200);
			expect(Object.keys((await res.json()) as object)).toEqual(["access_token"]);
			expect(refreshCookieOf(res)).toBeTruthy();
		}
	});

	it('answers bad credentials with {"message": "Invalid credentials"}', async () => {
		const user = await createUser();
		const wrong = await expectError(
			await sendJson("/api/auth", { username: user.username, password: "nope-nope" }),
			401,
			"Invalid credentials",
		);
		const unknown = await expectError(
			await sendJson("/api/auth", { username: "nobody-here", password: "nope-nope" }),
			401,
		);
		expect(unknown).toEqual(wrong);
	});

	// v2: the rule is decided once, in the identity core. Before, /api/auth let an unverified self-registration in,
	// and its cookie then refreshed on /sign/refresh: a pre-account takeover of someone else's address.
	it('refuses an unverified account\'s right password with 403 "Email not verified" (a wrong one stays 401)', async () => {
		const user = await createUser({ verified: false });
		for (const username of [user.username, user.email]) {
			const refused = await sendJson("/api/auth", { username, password: PASSWORD });
			await expectError(refused, 403, "Email not verified");
			expect(refreshCookieOf(refused)).toBeNull();
			await expectError(
				await sendJson("/api/auth", { username, password: "wrong-password" }),
				401,
				"Invalid credentials",
			);
		}
		// Verification on: the same account's password works once the mailbox is proven.
		await db().update(users).set({ emailVerifiedAt: Date.now() }).where(eq(users.id, user.id));
		await kc7Login(user.username as string);
	});

	it("with REQUIRE_EMAIL_VERIFICATION=false both surfaces let an unverified account in alike", async () => {
		const user = await createUser({ verified: false });
		const off = { REQUIRE_EMAIL_VERIFICATION: "false" };
		expect((await sendWith(off, "/api/auth", jsonPost({ username: user.username, password: PASSWORD }))).status).toBe(
			200,
		);
		expect((await sendWith(off, "/sign/login", jsonPost({ email: user.email, password: PASSWORD }))).status).toBe(200);
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

	it("GET /api/users/me and GET /user/profile return the caller", async () => {
		const user = await createUser();
		const { token } = await kc7Login(user.username as string);
		const me = await send("/api/users/me", { headers: bearer(token) });
		expect(await me.json()).toEqual({ user_id: user.id, username: user.username });
		const profile = await send("/user/profile", { headers: bearer(token) });
		expect(profile.status).toBe(200);
		expect(await profile.json()).toMatchObject({ id: user.id, email: user.email });
		await expectError(await send("/user/profile"), 401);
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

import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { oneTimeTokens, users } from "../../src/db/schema.ts";
import { issueOneTimeToken } from "../../src/services/one-time-tokens.ts";
import {
	createUser,
	db,
	eventually,
	expectError,
	ildLogin,
	outbox,
	PASSWORD,
	PRODUCTION_VARS,
	send,
	sendJson,
	sendWith,
	tokenFromMail,
	uniqueEmail,
	uniqueIp,
	userRow,
	withCookie,
} from "../helpers.ts";

const NEW_PASSWORD = "another-long-passphrase";

async function register(email = uniqueEmail(), extra: Record<string, unknown> = {}) {
	return sendJson("/sign/register", { email, password: PASSWORD, firstName: "Ann", lastName: "Lee", ...extra });
}

async function mailFor(email: string, subject: RegExp) {
	return eventually(async () => (await outbox(email)).find((m) => subject.test(m.subject)));
}

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

	it("20 concurrent uses of one reset token: exactly one succeeds", async () => {
		const user = await createUser();
		await sendJson("/sign/reset", { email: user.email });
		const token = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		const results = await Promise.all(
			Array.from({ length: 20 }, (_, i) => sendJson(`/sign/reset/${token}`, { password: `${NEW_PASSWORD}-${i}` })),
		);
		const winners = results.map((r, i) => ({ status: r.status, i })).filter((r) => r.status === 200);
		expect(winners).toHaveLength(1);
		expect(results.filter((r) => r.status === 400)).toHaveLength(19);
		await ildLogin(user.email, `${NEW_PASSWORD}-${winners[0]?.i}`);
	});
});

describe("secrets change, old doors close", () => {
	const loginLinkToken = async (userId: number) =>
		(await issueOneTimeToken({ db: db(), kv: env.TOKENS }, { purpose: "login", userId })).token;

	it("a password change closes the user's open reset and login-link tokens (not their email verification)", async () => {
		const user = await createUser();
		const verify = await issueOneTimeToken({ db: db(), kv: env.TOKENS }, { purpose: "verify-email", userId: user.id });
		await sendJson("/sign/reset", { email: user.email });
		const resetToken = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		const link = await loginLinkToken(user.id);
		const { token } = await ildLogin(user.email);
		const changed = await send("/user/changepassword", {
			method: "PUT",
			headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
			body: JSON.stringify({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
		});
		expect(changed.status).toBe(200);
		await expectError(await sendJson(`/sign/reset/${resetToken}`, { password: "yet-another-passphrase" }), 400);
		await expectError(await send(`/auth/token-login?token=${link}`), 401, "Invalid token");
		expect((await sendJson("/sign/verify", { token: verify.token })).status).toBe(200);
	});

	it("a completed reset closes every other open one-time token of the user", async () => {
		const user = await createUser();
		const verify = await issueOneTimeToken({ db: db(), kv: env.TOKENS }, { purpose: "verify-email", userId: user.id });
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

describe("GET /dev/outbox", () => {
	it("lists mail newest first and exists only in development", async () => {
		const user = await createUser();
		await sendJson("/sign/reset", { email: user.email });
		await sendJson("/sign/reset", { email: user.email });
		const mails = await eventually(async () => {
			const list = await outbox(user.email);
			return list.length === 2 ? list : null;
		});
		expect(mails[0]).toEqual({
			to: user.email,
			subject: expect.any(String),
			text: expect.any(String),
			createdAt: expect.stringMatching(/Z$/),
		});
		expect(Date.parse(mails[0]?.createdAt as string)).toBeGreaterThanOrEqual(Date.parse(mails[1]?.createdAt as string));
		await expectError(await sendWith(PRODUCTION_VARS, `/dev/outbox?to=${user.email}`), 404);
	});

	it("refuses to fall back to the outbox outside development", async () => {
		const user = await createUser();
		const log = vi.spyOn(console, "error").mockImplementation(() => {});
		// Fails closed at startup: the Worker refuses to serve rather than swallow password resets.
		const prod = { ...PRODUCTION_VARS, MAIL_PROVIDER: "outbox" };
		const res = await sendWith(prod, "/sign/reset", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ email: user.email }),
		});
		await expectError(res, 500, "An unexpected error occurred");
		expect(log).toHaveBeenCalledWith(expect.stringContaining('"variable":"MAIL_PROVIDER"'));
		log.mockRestore();
		expect(await outbox(user.email)).toEqual([]);
		const row = await db().select().from(users).where(eq(users.id, user.id)).get();
		expect(row?.email).toBe(user.email);
	});
});

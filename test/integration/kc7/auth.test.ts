import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../../src/db/schema.ts";
import { db } from "../../helpers/d1.ts";
import { createUser, kc7Login, PASSWORD } from "../../helpers/factories.ts";
import { expectError, jsonPost, refreshCookieOf, sendJson, sendWith } from "../../helpers/http.ts";

/**
 * POST /api/auth. POST /auth/refresh-token rotates the same sessions as GET /sign/refresh: its scenarios are in
 * ild/sign.test.ts ("refresh rotation"), cookie-endpoints.test.ts and session-paths.test.ts.
 */

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

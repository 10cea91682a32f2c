import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../../src/db/schema.ts";
import { countingD1, db } from "../../helpers/d1.ts";
import { createUser, kc7Login, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson, sendWith } from "../../helpers/http.ts";
import { unique, uniqueEmail } from "../../helpers/unique.ts";

const get = (path: string, token: string) => send(path, { headers: bearer(token) });

describe("GET /api/users/…", () => {
	it("routes `me`, all-digit ids, `email/…` and usernames (dots included) as KC7 does", async () => {
		const { user: caller, token } = await userWithToken(["Manager"]);
		const dotted = await createUser({ username: `first.last-${Date.now()}` });
		expect(await (await get("/api/users/me", token)).json()).toEqual({ user_id: caller.id, username: caller.username });
		expect(await (await get(`/api/users/${dotted.id}`, token)).json()).toEqual({
			user_id: dotted.id,
			username: dotted.username,
		});
		expect(await (await get(`/api/users/${dotted.username}`, token)).json()).toEqual({
			user_id: dotted.id,
			username: dotted.username,
		});
		expect(await (await get(`/api/users/${(dotted.username as string).toUpperCase()}`, token)).json()).toEqual({
			user_id: dotted.id,
			username: dotted.username,
		});
		expect(await (await get(`/api/users/email/${encodeURIComponent(dotted.email)}`, token)).json()).toEqual({
			user_id: dotted.id,
		});
		expect(await (await get(`/api/users/email/${dotted.email.toUpperCase()}`, token)).json()).toEqual({
			user_id: dotted.id,
		});
	});

	it('404s unknown ids, usernames and emails with "User not found"', async () => {
		const { token } = await userWithToken(["API"]);
		await expectError(await get("/api/users/999999999", token), 404, "User not found");
		await expectError(await get("/api/users/99999999999999999999999", token), 404, "User not found");
		await expectError(await get("/api/users/no-such-user", token), 404, "User not found");
		await expectError(await get(`/api/users/email/${uniqueEmail()}`, token), 404, "User not found");
		await expectError(await get("/api/users/email", token), 404, "User not found");
	});

	it("any signed-in user may look up ids and usernames; email lookup needs a staff role (403 before existence)", async () => {
		const { token } = await userWithToken();
		const other = await createUser();
		expect((await get(`/api/users/${other.id}`, token)).status).toBe(200);
		await expectError(await get(`/api/users/email/${other.email}`, token), 403, "Unauthorized");
		await expectError(await get(`/api/users/email/${uniqueEmail()}`, token), 403, "Unauthorized");
		await expectError(await send(`/api/users/${other.id}`), 401);
	});

	it("reads with one D1 round trip", async () => {
		const { token } = await userWithToken(["Admin"]);
		const other = await createUser();
		for (const path of [`/api/users/${other.id}`, `/api/users/${other.username}`, `/api/users/email/${other.email}`]) {
			const { d1, counter } = countingD1(env.DB);
			const res = await sendWith({ DB: d1 }, path, { headers: bearer(token) });
			expect(res.status).toBe(200);
			expect(counter.count).toBe(1);
		}
	});
});

describe("POST /api/users", () => {
	const provision = (token: string, body: unknown, ip?: string) =>
		sendJson("/api/users", body, { headers: { ...bearer(token), ...(ip ? { "CF-Connecting-IP": ip } : {}) } });

	it("provisions a user without a password: 201 with created_at in ISO 8601", async () => {
		const { token } = await userWithToken(["API"]);
		const username = unique("trainee_");
		const email = uniqueEmail();
		const res = await provision(token, { username, email: email.toUpperCase() });
		expect(res.status).toBe(201);
		const body = (await res.json()) as Record<string, unknown>;
		expect(body).toEqual({
			user_id: expect.any(Number),
			username,
			email,
			created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
		});
		const row = await db()
			.select()
			.from(users)
			.where(eq(users.id, body.user_id as number))
			.get();
		expect(row?.passwordHash).toBeNull();
		expect(row?.emailVerifiedAt).toBeNull();
	});

	it('answers missing fields with "Email is required" / "Username is required"', async () => {
		const { token } = await userWithToken(["Admin"]);
		await expectError(await provision(token, { username: unique("n") }), 400, "Email is required");
		await expectError(await provision(token, { email: uniqueEmail() }), 400, "Username is required");
		await expectError(await provision(token, {}), 400, "Email is required");
	});

	it("enforces the username rules", async () => {
		const { token } = await userWithToken(["Admin"]);
		// More attempts than the per-caller limit allows: raise it for this test.
		const roomy = { RATE_LIMITS: JSON.stringify({ provisionCaller: { limit: 100, windowSeconds: 60 } }) };
		for (const username of ["ab", "x".repeat(33), "12345", "me", "ME", "has space", "semi;colon", "ünï"]) {
			const res = await sendWith(roomy, "/api/users", {
				method: "POST",
				headers: { ...bearer(token), "Content-Type": "application/json" },
				body: JSON.stringify({ username, email: uniqueEmail() }),
			});
			const body = await expectError(res, 400);
			expect(body.issues?.[0]?.path).toBe("username");
		}
	});

	it("409s a taken email or username (case-insensitive)", async () => {
		const { token } = await userWithToken(["Admin"]);
		const existing = await createUser();
		await expectError(await provision(token, { username: unique("n"), email: existing.email }), 409);
		await expectError(
			await provision(token, { username: (existing.username as string).toUpperCase(), email: uniqueEmail() }),
			409,
			"Username is already taken",
		);
	});

	it("needs a staff role: 401 without a token, 403 for a plain user", async () => {
		const { token } = await userWithToken();
		await expectError(await sendJson("/api/users", { username: unique("n"), email: uniqueEmail() }), 401);
		await expectError(await provision(token, { username: unique("n"), email: uniqueEmail() }), 403, "Unauthorized");
	});
});

describe("token-only endpoints", () => {
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

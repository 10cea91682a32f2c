/** State a test starts from: users (with a password and roles), sessions, modules, communities, one-time tokens. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { getConfig } from "../../src/config.ts";
import { modules, type Role, userRoles, users } from "../../src/db/schema.ts";
import { signAccessToken } from "../../src/lib/jwt.ts";
import { hashPassword, parsePeppers } from "../../src/lib/password.ts";
import { createCommunity } from "../../src/services/communities.ts";
import { issueOneTimeToken } from "../../src/services/one-time-tokens.ts";
import { newSession } from "../../src/services/sessions.ts";
import { db, serviceDeps } from "./d1.ts";
import { refreshCookieOf, sendJson } from "./http.ts";
import { unique, uniqueEmail } from "./unique.ts";

export const PASSWORD = "correct-horse-battery-staple";
/** A second valid password, for tests that change or reset one. */
export const NEW_PASSWORD = "another-long-passphrase";

export async function createUser(
	options: {
		email?: string;
		username?: string | null;
		password?: string | null;
		roles?: Role[];
		verified?: boolean;
		firstName?: string;
	} = {},
) {
	const email = options.email ?? uniqueEmail();
	const password = options.password === undefined ? PASSWORD : options.password;
	const now = Date.now();
	const row = await db()
		.insert(users)
		.values({
			email,
			username: options.username === undefined ? unique("n") : options.username,
			passwordHash: password === null ? null : await hashPassword(password, parsePeppers(env.PASSWORD_PEPPERS)),
			firstName: options.firstName ?? "Test",
			lastName: "User",
			emailVerifiedAt: options.verified === false ? null : now,
			createdAt: now,
			updatedAt: now,
		})
		.returning()
		.get();
	for (const role of options.roles ?? []) await db().insert(userRoles).values({ userId: row.id, role });
	return { ...row, password };
}

export async function ildLogin(email: string, password = PASSWORD) {
	const res = await sendJson("/sign/login", { email, password });
	expect(res.status).toBe(200);
	const body = (await res.json()) as { token: string; user: { id: number } };
	return { token: body.token, refresh: refreshCookieOf(res) as string, body };
}

export async function kc7Login(username: string, password = PASSWORD) {
	const res = await sendJson("/api/auth", { username, password });
	expect(res.status).toBe(200);
	const body = (await res.json()) as { access_token: string };
	return { token: body.access_token, refresh: refreshCookieOf(res) as string };
}

/** A fresh user holding `roles` (none: a plain user) and an access token for them. */
export async function userWithToken(roles: Role[] = []) {
	const user = await createUser({ roles });
	const { token } = await kc7Login(user.username as string);
	return { user, token };
}

export async function createModule(options: { maxScore?: number; isCore?: boolean; title?: string } = {}) {
	const title = options.title ?? `Module ${unique("m")}`;
	return db()
		.insert(modules)
		.values({
			title,
			cleanTitle: title,
			description: "A test module",
			estTime: "na",
			difficulty: "Easy",
			maxScore: options.maxScore ?? 100,
			isCore: options.isCore ?? true,
			sortOrder: 0,
		})
		.returning()
		.get();
}

/** A community with these categories, under a unique name. */
export const community = (categories: string[]) =>
	createCommunity({ db: db() }, { name: unique("Community "), categories });

/** A login-link token for the user, as POST /api/users/{user_id}/magic-link would mint (without its checks). */
export async function loginLinkToken(userId: number) {
	return (await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId })).token;
}

/**
 * A new session for the user and an access token for it, without a password sign-in (no hashing, no limiter):
 * for suites that send many requests whose own effects (logout, revokes, bans) end the session they used.
 */
export async function sessionToken(userId: number, roles: Role[]): Promise<string> {
	const session = await newSession(serviceDeps(), userId, "password");
	await session.insert;
	return (await signAccessToken(env.JWT_PRIVATE_KEYS, getConfig(env), { userId, sessionId: session.sessionId, roles }))
		.token;
}

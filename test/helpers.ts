import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { createApp } from "../src/app.ts";
import { createDb } from "../src/db/client.ts";
import { modules, type Role, userRoles, users } from "../src/db/schema.ts";
import { hashPassword, parsePeppers } from "../src/lib/password.ts";

export const BASE = "http://localhost:8787";
export const PASSWORD = "correct-horse-battery-staple";

export const db = () => createDb(env.DB);

let counter = 0;
/** Unique per call, so tests sharing one database never collide (emails, usernames, IPs). */
export function unique(prefix = "u"): string {
	counter += 1;
	return `${prefix}${Date.now().toString(36)}${counter}${Math.random().toString(36).slice(2, 6)}`;
}
export const uniqueEmail = () => `${unique()}@example.com`;
// Client addresses key the per-IP rate limiters, so two tests sharing one would count each other's attempts.
// Limits count IPv6 by /64, so each call gets its own /64: a random group per module load and a counter per
// call inside the network part (2001:db8::/32 is for documentation).
const ipGroup = crypto.getRandomValues(new Uint16Array(1))[0]?.toString(16);
let ipCounter = 0;
export const uniqueIp = () => `2001:db8:${ipGroup}:${(++ipCounter & 0xffff).toString(16)}::1`;

/** Vars of a production deploy (development-only behaviour off, a real mail provider configured). */
export const PRODUCTION_VARS = {
	ENVIRONMENT: "production",
	MAIL_PROVIDER: "http",
	MAIL_API_URL: "https://mail.invalid/emails",
} as const;

/** Through the Worker's real entry point, as a client would call it. */
export function send(path: string, init: RequestInit = {}): Promise<Response> {
	return exports.default.fetch(new Request(new URL(path, BASE), init));
}

export function sendJson(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
	if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", uniqueIp());
	return send(path, { method: "POST", ...init, headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

/** Counts D1 round trips: every call that reaches the database (a batch is one). */
export function countingD1(d1: D1Database) {
	const counter = { count: 0 };
	const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement =>
		new Proxy(statement, {
			get(target, prop) {
				const value = Reflect.get(target, prop, target);
				if (typeof value !== "function") return value;
				if (prop === "bind") return (...args: unknown[]) => wrapStatement(value.apply(target, args));
				if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
					return (...args: unknown[]) => {
						counter.count += 1;
						return value.apply(target, args);
					};
				}
				return value.bind(target);
			},
		});
	const wrapped = new Proxy(d1, {
		get(target, prop) {
			const value = Reflect.get(target, prop, target);
			if (prop === "prepare") return (sql: string) => wrapStatement(value.call(target, sql));
			if (prop === "batch") {
				return (statements: D1PreparedStatement[]) => {
					counter.count += 1;
					// Unwrap: D1 needs its own statement objects.
					return value.call(target, statements);
				};
			}
			if (prop === "exec") {
				return (sql: string) => {
					counter.count += 1;
					return value.call(target, sql);
				};
			}
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
	return { d1: wrapped, counter };
}

const app = createApp();

/**
 * Calls the app with an adjusted env (a counting D1, other vars) and waits for its deferred
 * work (mail, refunds) before returning, so assertions see the final state.
 */
export async function sendWith(overrides: Partial<Env>, path: string, init: RequestInit = {}): Promise<Response> {
	const ctx = createExecutionContext();
	const res = await app.fetch(new Request(new URL(path, BASE), init), { ...env, ...overrides }, ctx);
	await waitOnExecutionContext(ctx);
	return res;
}

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

export async function userRow(id: number) {
	return db().select().from(users).where(eq(users.id, id)).get();
}

export function refreshCookieOf(res: Response): string | null {
	for (const header of res.headers.getSetCookie()) {
		const match = header.match(/^refresh_token=([^;]*)/);
		if (match) return match[1] ?? "";
	}
	return null;
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

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
export const withCookie = (refresh: string) => ({ Cookie: `refresh_token=${refresh}` });

export async function expectError(res: Response, status: number, message?: string | RegExp) {
	const text = await res.text();
	expect(res.status, text).toBe(status);
	expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
	const body = JSON.parse(text) as { error: unknown; message: unknown };
	expect(typeof body.error).toBe("string");
	expect(typeof body.message).toBe("string");
	if (message !== undefined) {
		if (typeof message === "string") expect(body.message).toBe(message);
		else expect(body.message).toMatch(message);
	}
	return body as { error: string; message: string; issues?: { path: string; message: string }[] };
}

export async function outbox(to: string) {
	const res = await send(`/dev/outbox?to=${encodeURIComponent(to)}`);
	expect(res.status).toBe(200);
	return (await res.json()) as { to: string; subject: string; text: string; createdAt: string }[];
}

/** Deferred work (ctx.waitUntil) finishes after the response: poll for its effect. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 5000): Promise<T> {
	const started = Date.now();
	for (;;) {
		const value = await probe();
		if (value) return value;
		if (Date.now() - started > timeoutMs) throw new Error("condition not met in time");
		await new Promise((r) => setTimeout(r, 20));
	}
}

export function tokenFromMail(text: string): string {
	const token = text.match(/[?&]token=([A-Za-z0-9_-]+)/)?.[1];
	if (!token) throw new Error(`no token in mail: ${text}`);
	return token;
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

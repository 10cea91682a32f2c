/** Requests as a client makes them, and what every answer is checked for (envelope, cookies). */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { createApp } from "../../src/app.ts";
import { uniqueIp } from "./unique.ts";

const BASE = "http://localhost:8787";

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

export function refreshCookieOf(res: Response): string | null {
	for (const header of res.headers.getSetCookie()) {
		const match = header.match(/^refresh_token=([^;]*)/);
		if (match) return match[1] ?? "";
	}
	return null;
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

/** A JSON POST from its own client address, for sendWith (which, unlike sendJson, takes the RequestInit as is). */
export const jsonPost = (body: unknown, ip = uniqueIp()): RequestInit => ({
	method: "POST",
	headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
	body: JSON.stringify(body),
});

/** Requests to one route that several test files make. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { getConfig } from "../../src/config.ts";
import type { Role } from "../../src/db/schema.ts";
import { signAccessToken } from "../../src/lib/jwt.ts";
import type { SessionMethod } from "../../src/services/account-policy.ts";
import { NO_REQUEST, type RequestFacts } from "../../src/services/deps.ts";
import { newSession } from "../../src/services/sessions.ts";
import { db } from "./d1.ts";
import { bearer, refreshCookieOf, send, withCookie } from "./http.ts";

/** POST /api/users/{user_id}/magic-link with a Bearer token and an integration key (either may be left out). */
export const linkFor = (userId: number, token: string | null, key: string | null, body?: unknown) =>
	send(`/api/users/${userId}/magic-link`, {
		method: "POST",
		headers: {
			...(token ? bearer(token) : {}),
			...(key ? { "X-Integration-Key": key } : {}),
			...(body === undefined ? {} : { "Content-Type": "application/json" }),
		},
		body: body === undefined ? undefined : JSON.stringify(body),
	});

/** PATCH /user/community/join/{communityId}. */
export const join = (token: string, id: number | string) =>
	send(`/user/community/join/${id}`, { method: "PATCH", headers: bearer(token) });

/** GET /sign/refresh with the refresh cookie. */
export const ildRefresh = (refresh: string, headers: Record<string, string> = {}) =>
	send("/sign/refresh", { headers: { ...withCookie(refresh), ...headers } });

/** Refreshes once, expecting a rotation: returns the new refresh token. */
export async function rotate(refresh: string): Promise<string> {
	const res = await ildRefresh(refresh);
	expect(res.status).toBe(200);
	const next = refreshCookieOf(res);
	expect(next).toBeTruthy();
	return next as string;
}

/** POST /auth/refresh-token with the refresh cookie (the KC7 twin of ildRefresh). */
export const kc7Refresh = (refresh: string) =>
	send("/auth/refresh-token", { method: "POST", headers: withCookie(refresh) });

/**
 * A session as a sign-in opens it (device facts from `facts`), with its id, an access token and its refresh token,
 * without a password sign-in: for suites whose requests end the sessions they use (revokes, bans, logouts).
 */
export async function deviceSession(
	userId: number,
	roles: Role[] = [],
	facts: Partial<RequestFacts> = {},
	method: SessionMethod = "password",
) {
	const session = await newSession({ db: db(), request: { ...NO_REQUEST, ...facts } }, userId, method);
	await session.insert;
	const { token } = await signAccessToken(env.JWT_PRIVATE_KEYS, getConfig(env), {
		userId,
		sessionId: session.sessionId,
		roles,
	});
	return { sessionId: session.sessionId, token, refresh: session.refreshToken };
}

/** PUT /user/{userId}/ban with a JSON body. */
export const putBan = (token: string, userId: number, body: unknown = {}) =>
	send(`/user/${userId}/ban`, {
		method: "PUT",
		headers: { ...bearer(token), "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});

/** DELETE /user/{userId}/ban. */
export const deleteBan = (token: string, userId: number) =>
	send(`/user/${userId}/ban`, { method: "DELETE", headers: bearer(token) });

/** An audit event as GET …/security-events answers it. */
export interface WireEvent {
	id: number;
	at: string;
	type: string;
	outcome: string;
	userId: number | null;
	actor: { type: string; id: number | null };
	integrationKeyId: number | null;
	sessionId: string | null;
	ip: string | null;
	country: string | null;
	userAgent: string | null;
	requestId: string | null;
	detail: Record<string, unknown>;
}

/** The newest events (up to 200) a security-events route answers for `path`, as an Admin or the user reads them. */
export async function eventsAt(token: string, path: string): Promise<WireEvent[]> {
	const separator = path.includes("?") ? "&" : "?";
	const res = await send(`${path}${separator}limit=200`, { headers: bearer(token) });
	const text = await res.text();
	expect(res.status, text).toBe(200);
	return (JSON.parse(text) as { events: WireEvent[] }).events;
}

/** GET /user/{userId}/security-events as an Admin, optionally of one type: the events about that user, newest first. */
export const eventsAbout = (adminToken: string, userId: number, type?: string) =>
	eventsAt(adminToken, `/user/${userId}/security-events${type ? `?type=${type}` : ""}`);

/** Requests to one route that several test files make. */
import { expect } from "vitest";
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

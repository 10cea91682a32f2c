import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ApiError } from "../../lib/errors.ts";
import type { AppEnv } from "../../types.ts";

const REFRESH_COOKIE = "refresh_token";
/** Both surfaces' answer to a refresh cookie that is missing, unknown, expired, reused or doubled. */
export const INVALID_REFRESH_TOKEN = "Invalid refresh token";

/** HttpOnly, Secure, Path=/, SameSite from configuration (Lax by default); lives as long as the session may. */
export function setRefreshCookie<E extends AppEnv>(c: Context<E>, token: string, sessionExpiresAt: number) {
	setCookie(c, REFRESH_COOKIE, token, {
		httpOnly: true,
		secure: true,
		sameSite: c.get("config").cookieSameSite,
		path: "/",
		maxAge: Math.max(0, Math.floor((sessionExpiresAt - Date.now()) / 1000)),
	});
}

export function clearRefreshCookie<E extends AppEnv>(c: Context<E>) {
	deleteCookie(c, REFRESH_COOKIE, {
		httpOnly: true,
		secure: true,
		sameSite: c.get("config").cookieSameSite,
		path: "/",
	});
}

/**
 * The refresh cookie, or undefined. More than one `refresh_token` cookie means someone planted one
 * (cookie tossing from a sibling subdomain, or a path-scoped copy): which is the user's cannot be
 * told, so the request is refused (401) and nothing rotates or is revoked.
 */
export function readRefreshCookie<E extends AppEnv>(c: Context<E>): string | undefined {
	const header = c.req.header("Cookie") ?? "";
	const count = header.split(";").filter((pair) => pair.trim().startsWith(`${REFRESH_COOKIE}=`)).length;
	if (count > 1) throw new ApiError(401, INVALID_REFRESH_TOKEN);
	return getCookie(c, REFRESH_COOKIE) || undefined;
}

/** Token responses must never be stored by a cache. */
export function noStore<E extends AppEnv>(c: Context<E>) {
	c.header("Cache-Control", "no-store");
	c.header("Pragma", "no-cache");
}

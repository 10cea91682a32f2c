import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../types.ts";
import { ApiError } from "./errors.ts";

export const REFRESH_COOKIE = "refresh_token";

/** HttpOnly, Secure, Path=/, SameSite from configuration (Lax by default); lives as long as the session may. */
export function setRefreshCookie(c: Context<AppEnv>, token: string, sessionExpiresAt: number) {
	setCookie(c, REFRESH_COOKIE, token, {
		httpOnly: true,
		secure: true,
		sameSite: c.var.config.cookieSameSite,
		path: "/",
		maxAge: Math.max(0, Math.floor((sessionExpiresAt - Date.now()) / 1000)),
	});
}

export function clearRefreshCookie(c: Context<AppEnv>) {
	deleteCookie(c, REFRESH_COOKIE, { httpOnly: true, secure: true, sameSite: c.var.config.cookieSameSite, path: "/" });
}

/**
 * The refresh cookie, or undefined. More than one `refresh_token` cookie means someone planted one
 * (cookie tossing from a sibling subdomain, or a path-scoped copy): which is the user's cannot be
 * told, so the request is refused (401) and nothing rotates or is revoked.
 */
export function readRefreshCookie(c: Context<AppEnv>): string | undefined {
	const header = c.req.header("Cookie") ?? "";
	const count = header.split(";").filter((pair) => pair.trim().startsWith(`${REFRESH_COOKIE}=`)).length;
	if (count > 1) throw new ApiError(401, "Invalid refresh token");
	return getCookie(c, REFRESH_COOKIE) || undefined;
}

/** Token responses must never be stored by a cache. */
export function noStore(c: Context<AppEnv>) {
	c.header("Cache-Control", "no-store");
	c.header("Pragma", "no-cache");
}

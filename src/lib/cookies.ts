import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../types.ts";

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

export function readRefreshCookie(c: Context<AppEnv>): string | undefined {
	return getCookie(c, REFRESH_COOKIE) || undefined;
}

/** Token responses must never be stored by a cache. */
export function noStore(c: Context<AppEnv>) {
	c.header("Cache-Control", "no-store");
	c.header("Pragma", "no-cache");
}

import type { Context } from "hono";
import { ApiError } from "../../lib/errors.ts";
import { clientIp } from "../../lib/rate-limit.ts";
import { loginWithPassword, refreshAccess, type SignedIn } from "../../services/auth.ts";
import type { AppEnv } from "../../types.ts";
import { clearRefreshCookie, INVALID_REFRESH_TOKEN, noStore, readRefreshCookie, setRefreshCookie } from "./cookies.ts";

/** Both surfaces answer a sign-in the same way on the wire: the refresh cookie, never cached. */
export function startSession<E extends AppEnv>(c: Context<E>, signedIn: SignedIn) {
	setRefreshCookie(c, signedIn.refreshToken, signedIn.sessionExpiresAt);
	noStore(c);
}

/**
 * Refresh from the cookie for either surface: a rotated cookie when the session rotated, none
 * in the grace case, and a cleared cookie with 401 "Invalid refresh token" otherwise.
 */
export async function refreshFromCookie<E extends AppEnv>(c: Context<E>): Promise<string> {
	const result = await refreshAccess(c.get("deps"), readRefreshCookie(c));
	noStore(c);
	if (!result.ok) {
		clearRefreshCookie(c);
		throw new ApiError(401, INVALID_REFRESH_TOKEN);
	}
	if (result.rotated) setRefreshCookie(c, result.rotated.refreshToken, result.rotated.expiresAt);
	return result.accessToken;
}

/** Password sign-in for either surface: the request's client address and user agent go along to the core. */
export function signInWithPassword<E extends AppEnv>(
	c: Context<E>,
	input: { identifier: string; by: "email" | "emailOrUsername"; password: string },
) {
	return loginWithPassword(c.get("deps"), {
		...input,
		ip: clientIp(c.req.raw.headers),
	});
}

import type { Context } from "hono";
import { clearRefreshCookie, noStore, readRefreshCookie, setRefreshCookie } from "../lib/cookies.ts";
import { ApiError } from "../lib/errors.ts";
import { refreshAccess, type SignedIn } from "../services/auth.ts";
import { depsOf } from "../services/deps.ts";
import type { AppEnv } from "../types.ts";

/** Both surfaces answer a sign-in the same way on the wire: the refresh cookie, never cached. */
export function startSession(c: Context<AppEnv>, signedIn: SignedIn) {
	setRefreshCookie(c, signedIn.refreshToken, signedIn.sessionExpiresAt);
	noStore(c);
}

/**
 * Refresh from the cookie for either surface: a rotated cookie when the session rotated, none
 * in the grace case, and a cleared cookie with 401 "Invalid refresh token" otherwise.
 */
export async function refreshFromCookie(c: Context<AppEnv>): Promise<string> {
	const result = await refreshAccess(depsOf(c), readRefreshCookie(c));
	noStore(c);
	if (!result.ok) {
		clearRefreshCookie(c);
		throw new ApiError(401, "Invalid refresh token");
	}
	if (result.rotated) setRefreshCookie(c, result.rotated.refreshToken, result.rotated.expiresAt);
	return result.accessToken;
}

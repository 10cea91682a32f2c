import type { RouteHandler } from "@hono/zod-openapi";
import { clearRefreshCookie, noStore, readRefreshCookie, setRefreshCookie } from "../../lib/cookies.ts";
import { ApiError } from "../../lib/errors.ts";
import { clientIp } from "../../lib/rate-limit.ts";
import { loginWithPassword, refreshAccess } from "../../services/auth.ts";
import { depsOf } from "../../services/deps.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./kc7-auth.routes.ts";

export const authenticate: RouteHandler<typeof routes.authenticate, AppEnv> = async (c) => {
	const { username, password } = c.req.valid("json");
	const result = await loginWithPassword(
		depsOf(c),
		{
			identifier: username,
			by: "emailOrUsername",
			password,
			ip: clientIp(c.req.raw.headers),
			userAgent: c.req.header("User-Agent"),
		},
		// KC7 accounts may be provisioned and signed in by login link; only ILD sign-in demands verification.
		{ requireVerifiedEmail: false },
	);
	if (!result.ok) throw new ApiError(401, "Invalid credentials");
	setRefreshCookie(c, result.signedIn.refreshToken, result.signedIn.sessionExpiresAt);
	noStore(c);
	return c.json({ access_token: result.signedIn.accessToken }, 200);
};

export const refreshToken: RouteHandler<typeof routes.refreshToken, AppEnv> = async (c) => {
	const result = await refreshAccess(depsOf(c), readRefreshCookie(c));
	noStore(c);
	if (!result.ok) {
		clearRefreshCookie(c);
		throw new ApiError(401, "Invalid refresh token");
	}
	if (result.rotated) setRefreshCookie(c, result.rotated.refreshToken, result.rotated.expiresAt);
	return c.json({ access_token: result.accessToken }, 200);
};

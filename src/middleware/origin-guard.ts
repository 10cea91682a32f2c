import { createMiddleware } from "hono/factory";
import { isAllowedOrigin } from "../config.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv } from "../types.ts";

/**
 * For endpoints authenticated by the refresh cookie: a browser request from a foreign origin
 * (CSRF, or a page abusing SameSite=None) is refused. Requests without Origin (server-side
 * clients, same-origin navigations) are let through; the cookie itself is the credential.
 */
export const cookieOriginGuard = createMiddleware<AppEnv>(async (c, next) => {
	const origin = c.req.header("Origin");
	if (origin !== undefined) {
		const self = new URL(c.var.config.publicBaseUrl).origin;
		if (origin !== self && !isAllowedOrigin(c.var.config, origin)) {
			throw new ApiError(403, "Origin not allowed");
		}
	}
	await next();
});

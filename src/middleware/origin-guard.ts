import { createMiddleware } from "hono/factory";
import { isAllowedOrigin } from "../config.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv } from "../types.ts";
import { declaresSecurity } from "./security.ts";

/**
 * For endpoints the refresh cookie authenticates (refresh and logout on both surfaces): they act
 * only for the user, never for another site or a link scanner.
 * - HEAD runs nothing (204): Hono would otherwise run the GET handler, rotating or revoking.
 * - A foreign `Origin` (CSRF, or a page abusing SameSite=None) is 403, and so is a request without
 *   `Origin` that the browser marks `Sec-Fetch-Site: cross-site` (a cross-site navigation to
 *   GET /sign/logout). Server-side clients send neither and pass; the cookie is their credential.
 */
export const cookieOriginGuard = declaresSecurity(
	createMiddleware<AppEnv>(async (c, next) => {
		if (c.req.method === "HEAD") return c.body(null, 204);
		const origin = c.req.header("Origin");
		if (origin !== undefined) {
			const self = new URL(c.get("config").publicBaseUrl).origin;
			if (origin !== self && !isAllowedOrigin(c.get("config"), origin)) throw new ApiError(403, "Origin not allowed");
		} else if (c.req.header("Sec-Fetch-Site")?.toLowerCase() === "cross-site") {
			throw new ApiError(403, "Cross-site request not allowed");
		}
		await next();
	}),
	[{ refreshCookie: [] }],
);

/** The guard's rules as the OpenAPI descriptions of the routes it protects state them. */
export const COOKIE_ENDPOINT_RULES =
	"Refused with 403 and no effect when `Origin` is present and not allowed, or absent with `Sec-Fetch-Site: cross-site`. " +
	"`HEAD` answers 204 and changes nothing. A request carrying more than one `refresh_token` cookie is 401 and changes nothing.";

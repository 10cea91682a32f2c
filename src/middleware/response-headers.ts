import { createMiddleware } from "hono/factory";
import { isAllowedOrigin } from "../config.ts";
import type { AppEnv } from "../types.ts";

const ALLOWED_HEADERS = "Authorization, Content-Type, X-Integration-Key, X-Request-Id";
const EXPOSED_HEADERS =
	"X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Total-Count, ETag";

// Headers may be immutable on responses that came from elsewhere (R2, fetch): copy once then.
function mutable(res: Response): Response {
	try {
		res.headers.set("X-Request-Id", res.headers.get("X-Request-Id") ?? "");
		return res;
	} catch {
		return new Response(res.body, res);
	}
}

/**
 * Runs outermost, after the handler or the error handler has produced the response, so that
 * every response — errors, 404s and 405s included — gets the request id, CORS and security headers.
 */
export const responseHeaders = createMiddleware<AppEnv>(async (c, next) => {
	const origin = c.req.header("Origin");
	const allowed = origin !== undefined && isAllowedOrigin(c.var.config, origin);

	if (c.req.method === "OPTIONS" && c.req.header("Access-Control-Request-Method")) {
		c.res = new Response(null, { status: 204 });
		if (allowed) {
			c.res.headers.set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
			c.res.headers.set("Access-Control-Allow-Headers", ALLOWED_HEADERS);
			c.res.headers.set("Access-Control-Max-Age", "600");
		}
	} else {
		await next();
	}

	const res = mutable(c.res);
	const h = res.headers;
	h.set("X-Request-Id", c.var.requestId);
	h.append("Vary", "Origin");
	if (allowed) {
		h.set("Access-Control-Allow-Origin", origin);
		h.set("Access-Control-Allow-Credentials", "true");
		h.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
	}
	h.set("X-Content-Type-Options", "nosniff");
	h.set("X-Frame-Options", "DENY");
	h.set("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
	h.set("Referrer-Policy", "no-referrer");
	h.set("Cross-Origin-Opener-Policy", "same-origin");
	// The contract's JSON is UTF-8, and says so: a client or proxy must never have to guess.
	if (/^application\/json\s*$/i.test(h.get("Content-Type") ?? ""))
		h.set("Content-Type", "application/json; charset=utf-8");
	// Nothing is cacheable unless its route said so (public catalogs, images, JWKS): every answer carrying a
	// user object, a token or personal data is no-store without each handler having to remember it.
	if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
	if (!h.has("Content-Security-Policy")) h.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
	c.res = res;
});

import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { isAllowedOrigin } from "../config.ts";
import type { AppEnv } from "../types.ts";

const ALLOWED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Integration-Key", "X-Request-Id", "X-D1-Bookmark"];
const EXPOSED_HEADERS = [
	"X-Request-Id",
	"Retry-After",
	"RateLimit-Limit",
	"RateLimit-Remaining",
	"RateLimit-Reset",
	"X-Total-Count",
	"ETag",
	"X-D1-Bookmark",
];

/** Hono's CORS, for origins the configuration allows (credentials: the refresh cookie rides along). */
const corsForAllowedOrigin = cors({
	origin: (origin) => origin,
	credentials: true,
	allowMethods: ALLOWED_METHODS,
	allowHeaders: ALLOWED_HEADERS,
	exposeHeaders: EXPOSED_HEADERS,
	maxAge: 600,
});

/**
 * The security headers of every answer (OWASP's REST Security Cheat Sheet: what an API response needs): HSTS for
 * two years, no MIME sniffing, no framing (the CSP's frame-ancestors and X-Frame-Options for older browsers), and
 * a CSP that allows nothing. A route that set its own (the docs page's CSP, an image's nosniff) keeps it.
 * Cross-Origin-Resource-Policy stays unset: profile images are embedded by the apps' own origins.
 */
const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
	["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
	["Strict-Transport-Security", "max-age=63072000; includeSubDomains"],
	["X-Content-Type-Options", "nosniff"],
	["X-Frame-Options", "DENY"],
];

/**
 * What only a document's own requests and windows obey, for every answer that is not JSON (pages, the docs,
 * images, empty answers): no referrer (a page's address may hold a mailed token) and its own browsing-context
 * group. JSON answers — nearly all of them — skip the bytes: even shown as a document (a failed login link opened
 * in the browser), JSON has no links, subresources or scripts that a referrer or opener policy could govern.
 */
const DOCUMENT_HEADERS: readonly (readonly [string, string])[] = [
	["Referrer-Policy", "no-referrer"],
	["Cross-Origin-Opener-Policy", "same-origin"],
];

const JSON_TYPE = /^application\/json\s*(?:;|$)/i;
const BARE_JSON_TYPE = /^application\/json\s*$/i;

/**
 * Every answer's headers, in one middleware around everything the routes and the error handler produce (errors,
 * 404s and 405s included). Written here rather than by Hono's secure-headers middleware: this API's set is
 * constant, and one pass over the response costs less than a middleware per concern on every request (measured:
 * README "Bench").
 * - CORS: an allowed origin gets Hono's CORS headers; any other origin gets none of them — its preflight is
 *   answered 204 with nothing allowed, and the browser refuses. Every answer varies by Origin, so no cache
 *   serves one origin's answer to another.
 * - The security headers above, never overwriting a route's own.
 * - JSON says it is UTF-8, and nothing is cacheable unless its route said so: public catalogs, images and the
 *   JWKS say how long they may be cached; every answer carrying a user object, a token or personal data is
 *   no-store without each handler having to remember it.
 */
export const responseHeaders = createMiddleware<AppEnv>(async (c, next) => {
	const origin = c.req.header("Origin");
	if (origin !== undefined && isAllowedOrigin(c.get("config"), origin)) {
		// Its preflight answer is returned, not set on the context.
		const preflight = await corsForAllowedOrigin(c, next);
		if (preflight) c.res = preflight;
	} else if (c.req.method === "OPTIONS" && c.req.header("Access-Control-Request-Method")) {
		c.header("Vary", "Origin");
		c.res = c.body(null, 204);
	} else {
		await next();
		c.res.headers.append("Vary", "Origin");
	}
	const h = c.res.headers;
	// The id is a prepared header, which only answers built through the context carry: any other gets it here.
	if (!h.has("X-Request-Id")) h.set("X-Request-Id", c.get("requestId"));
	finishHeaders(h);
});

/**
 * The headers every answer gets whatever its route, CORS aside (which needs the configuration): the security
 * headers, JSON's charset, the document headers on what is not JSON, no-store unless the route said otherwise.
 * Also used by the answer given when the configuration is invalid (request-context.ts), before this middleware.
 */
export function finishHeaders(h: Headers): void {
	for (const [name, value] of SECURITY_HEADERS) if (!h.has(name)) h.set(name, value);
	const type = h.get("Content-Type") ?? "";
	if (BARE_JSON_TYPE.test(type)) h.set("Content-Type", "application/json; charset=utf-8");
	else if (!JSON_TYPE.test(type)) for (const [name, value] of DOCUMENT_HEADERS) if (!h.has(name)) h.set(name, value);
	if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
}

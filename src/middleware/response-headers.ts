import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
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
 * CORS: an allowed origin gets Hono's CORS headers; any other origin gets none of them — its preflight is
 * answered 204 with nothing allowed, and the browser refuses. Every response varies by Origin, so no cache
 * serves one origin's answer to another.
 */
export const corsHeaders = createMiddleware<AppEnv>(async (c, next) => {
	const origin = c.req.header("Origin");
	if (origin !== undefined && isAllowedOrigin(c.get("config"), origin)) return corsForAllowedOrigin(c, next);
	if (c.req.method === "OPTIONS" && c.req.header("Access-Control-Request-Method")) {
		c.res = new Response(null, { status: 204, headers: { Vary: "Origin" } });
		return;
	}
	await next();
	c.res.headers.append("Vary", "Origin");
});

/**
 * Hono's secure headers, set to this API's policy: no framing, HSTS for two years, no referrer, and a
 * default CSP for a JSON API. A route that set its own (the docs page's CSP, an image's nosniff) keeps it.
 * Cross-Origin-Resource-Policy stays unset: profile images are embedded by the apps' own origins.
 */
export const securityHeaders = secureHeaders({
	overwrite: false,
	xFrameOptions: "DENY",
	strictTransportSecurity: "max-age=63072000; includeSubDomains",
	contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
	crossOriginResourcePolicy: false,
	originAgentCluster: false,
	xDnsPrefetchControl: false,
	xDownloadOptions: false,
	xPermittedCrossDomainPolicies: false,
	xXssProtection: false,
});

/**
 * What no library does for us, after the handler or the error handler produced the response (errors, 404s
 * and 405s included): JSON says it is UTF-8, and nothing is cacheable unless its route said so.
 */
export const contentHeaders = createMiddleware<AppEnv>(async (c, next) => {
	await next();
	const h = c.res.headers;
	// The contract's JSON is UTF-8, and says so: a client or proxy must never have to guess.
	if (/^application\/json\s*$/i.test(h.get("Content-Type") ?? ""))
		h.set("Content-Type", "application/json; charset=utf-8");
	// Public catalogs, images and the JWKS say how long they may be cached; every answer carrying a user object,
	// a token or personal data is no-store without each handler having to remember it.
	if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
});

import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { routePath } from "hono/route";
import type { RouterRoute } from "hono/types";
import { isGuardRefusal } from "../db/guarded-d1.ts";
import { ApiError } from "../lib/errors.ts";
import { describeError } from "../lib/log.ts";
import type { AppEnv } from "../types.ts";

/**
 * What describes a route's own answer, which its handler may have set before it failed (an image's ETag, a year of
 * private caching, its length): never an error's. The error gets no-store from responseHeaders instead.
 */
const REPRESENTATION_HEADERS = [
	"Cache-Control",
	"Content-Disposition",
	"Content-Encoding",
	"Content-Language",
	"Content-Length",
	"ETag",
	"Expires",
	"Last-Modified",
];

/** An error's answer, with the headers already set for the request (its id, CORS) and none of the route's own. */
export function errorResponse<E extends AppEnv>(c: Context<E>, error: ApiError): Response {
	const res = c.json(error.body(), error.status);
	for (const name of REPRESENTATION_HEADERS) res.headers.delete(name);
	for (const [name, value] of Object.entries(error.details.headers ?? {})) res.headers.set(name, value);
	return res;
}

/** The one error handler: ApiErrors keep their status and message, anything else is an opaque 500. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
	if (err instanceof ApiError) return errorResponse(c, err);
	// The access token's session ended (revoked, expired, banned): refused like any other dead token.
	if (isGuardRefusal(err)) return errorResponse(c, new ApiError(401, "Invalid or expired token"));
	if (err instanceof HTTPException && err.status < 500) {
		// Hono's own 4xx (e.g. a malformed body caught by its validator): keep the status, not its wording.
		const status = err.status === 413 ? 413 : err.status === 415 ? 415 : 400;
		const message =
			status === 400
				? "Request body is malformed"
				: status === 413
					? "Request body too large"
					: "Unsupported content type";
		return errorResponse(c, new ApiError(status, message));
	}
	// The route pattern, not the path: a path may carry a token (/sign/reset/:token).
	console.error(
		JSON.stringify({
			level: "error",
			requestId: c.get("requestId"),
			method: c.req.method,
			route: routePath(c, -1) || "(no route)",
			error: describeError(err),
		}),
	);
	return errorResponse(c, new ApiError(500, "An unexpected error occurred"));
};

const patternCache = new WeakMap<RouterRoute, RegExp>();

function routePattern(route: RouterRoute): RegExp {
	let re = patternCache.get(route);
	if (!re) {
		const source = route.path
			.split("/")
			.map((segment) => {
				if (segment === "*") return ".*";
				const param = segment.match(/^:[^{]+(?:\{(.+)\})?$/);
				if (param) return param[1] ? `(?:${param[1]})` : "[^/]+";
				return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
			})
			.join("/");
		re = new RegExp(`^${source}/?$`);
		patternCache.set(route, re);
	}
	return re;
}

/** 405 (with `Allow`) when the path exists under another method, else 404. */
export function notFoundHandler(routes: () => RouterRoute[]): NotFoundHandler<AppEnv> {
	return (c) => {
		const allow = new Set<string>();
		for (const route of routes()) {
			if (route.method === "ALL") continue;
			if (routePattern(route).test(c.req.path)) allow.add(route.method);
		}
		if (allow.has("GET")) allow.add("HEAD");
		if (allow.size > 0) {
			return errorResponse(
				c,
				new ApiError(405, `Method ${c.req.method} is not allowed on this path`, {
					headers: { Allow: [...allow].sort().join(", ") },
				}),
			);
		}
		return errorResponse(c, new ApiError(404, "Resource not found"));
	};
}

import { createMiddleware } from "hono/factory";
import type { Role } from "../db/schema.ts";
import { ApiError } from "../lib/errors.ts";
import { verifyAccessToken } from "../lib/jwt.ts";
import type { AppEnv } from "../types.ts";

const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$/i;

/** Reads and verifies the access token; the handler finds the claims in `c.var.auth`. */
export function bearerAuth() {
	return createMiddleware<AppEnv>(async (c, next) => {
		const header = c.req.header("Authorization");
		if (!header) throw new ApiError(401, "Authentication required");
		const token = header.match(BEARER)?.[1];
		const claims = token ? await verifyAccessToken(c.env.JWT_PRIVATE_KEYS, c.var.config, token) : null;
		if (!claims) throw new ApiError(401, "Invalid or expired token");
		c.set("auth", claims);
		await next();
	});
}

/** After bearerAuth: at least one of `roles`, else 403 with the surface's message. */
export function requireRole(roles: readonly Role[], message = "Insufficient permissions") {
	return createMiddleware<AppEnv>(async (c, next) => {
		if (!c.var.auth.roles.some((r) => roles.includes(r))) throw new ApiError(403, message);
		await next();
	});
}

/**
 * After bearerAuth: the user named by the `:param` path segment themself, or a caller holding one
 * of `roles`. Decided before anything is looked up, so a 403 says nothing about existence.
 */
export function requireSelfOrRole(param: string, roles: readonly Role[], message = "Insufficient permissions") {
	return createMiddleware<AppEnv>(async (c, next) => {
		const self = c.req.param(param) === String(c.var.auth.userId);
		if (!self && !c.var.auth.roles.some((r) => roles.includes(r))) throw new ApiError(403, message);
		await next();
	});
}

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

/**
 * Who may call a route beyond "signed in": any of `roles`, or (with `self`) the user named by that
 * path parameter. Role middleware carries its rule, so the OpenAPI document (`x-roles`, `x-self`)
 * is generated from the very objects that enforce it.
 */
export interface AccessRule {
	roles: readonly Role[];
	self?: string;
}

const ACCESS_RULE = Symbol.for("edge-identity.access-rule");

function withRule<T extends object>(middleware: T, rule: AccessRule): T {
	return Object.assign(middleware, { [ACCESS_RULE]: rule });
}

export function accessRuleOf(middleware: unknown): AccessRule | undefined {
	return typeof middleware === "function" ? (middleware as { [ACCESS_RULE]?: AccessRule })[ACCESS_RULE] : undefined;
}

/** After bearerAuth: at least one of `roles`, else 403 with the surface's message. */
export function requireRole(roles: readonly Role[], message = "Insufficient permissions") {
	const middleware = createMiddleware<AppEnv>(async (c, next) => {
		if (!c.var.auth.roles.some((r) => roles.includes(r))) throw new ApiError(403, message);
		await next();
	});
	return withRule(middleware, { roles });
}

/**
 * After bearerAuth: the user named by the `:param` path segment themself, or a caller holding one
 * of `roles`. Decided before anything is looked up, so a 403 says nothing about existence.
 */
export function requireSelfOrRole(param: string, roles: readonly Role[], message = "Insufficient permissions") {
	const middleware = createMiddleware<AppEnv>(async (c, next) => {
		const self = c.req.param(param) === String(c.var.auth.userId);
		if (!self && !c.var.auth.roles.some((r) => roles.includes(r))) throw new ApiError(403, message);
		await next();
	});
	return withRule(middleware, { roles, self: param });
}

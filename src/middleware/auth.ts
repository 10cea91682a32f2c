import { createMiddleware } from "hono/factory";
import { guardedD1 } from "../db/guarded-d1.ts";
import { ApiError } from "../lib/errors.ts";
import { type AccessClaims, verifyAccessToken } from "../lib/jwt.ts";
import type { Role } from "../lib/roles.ts";
import { sessionGuard } from "../services/session-guard.ts";
import type { AppEnv } from "../types.ts";
import { errorResponse } from "./error-handler.ts";
import { depsOver } from "./request-context.ts";
import { declaresSecurity } from "./security.ts";

/** The env of a route behind bearerAuth: only there does `c.get("auth")` exist (a public handler cannot read it). */
export type AuthEnv = AppEnv & { Variables: { auth: AccessClaims } };
/** Behind optionalBearerAuth: the claims when a valid token came along. */
export type OptionalAuthEnv = AppEnv & { Variables: { auth: AccessClaims | undefined } };

const INVALID_ACCESS_TOKEN = "Invalid or expired token";

const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$/i;

/** The one reading of `Authorization`: absent, or the verified claims, or null for anything else. */
async function readBearer(
	c: { req: { header(name: string): string | undefined } },
	env: Env,
	config: AppEnv["Variables"]["config"],
) {
	const header = c.req.header("Authorization");
	if (header === undefined) return undefined;
	const token = header.match(BEARER)?.[1];
	return token ? await verifyAccessToken(env.JWT_PRIVATE_KEYS, config, token) : null;
}

/**
 * Reads and verifies the access token; the handler finds the claims in `c.get("auth")`.
 *
 * "Revoked means revoked": unless `liveness: false` (only GET /sign/check, decided from the token alone), the
 * token's session must still be live and its account not banned. The check rides in the request's first D1
 * query (db/guarded-d1.ts: folded into a read's own statement, or in one batch with anything else): a route that
 * reads D1 anyway pays no extra round trip, and a write beside it never lands for a dead session. A route that
 * never touched D1 (an image stream) runs the check on its own after the handler, and its answer is replaced by
 * the 401.
 */
export function bearerAuth(options: { liveness?: boolean } = {}) {
	const liveness = options.liveness ?? true;
	const middleware = createMiddleware<AuthEnv>(async (c, next) => {
		const claims = await readBearer(c, c.env, c.get("config"));
		if (claims === undefined) throw new ApiError(401, "Authentication required");
		if (!claims) throw new ApiError(401, INVALID_ACCESS_TOKEN);
		c.set("auth", claims);
		if (!liveness) return next();
		// Behind the request's D1 session, which starts at the primary: the revocation check reads the primary.
		const guard = guardedD1(c.get("d1").d1, sessionGuard(claims.sessionId, claims.userId));
		c.set("deps", depsOver(c.get("deps"), guard.d1));
		await next();
		if (!guard.checked && !(await guard.checkNow())) {
			// Dropped first, or Hono would copy the handler's headers (an image's ETag and caching) onto the 401.
			c.res = undefined;
			c.res = errorResponse(c, new ApiError(401, INVALID_ACCESS_TOKEN));
		}
	});
	return declaresSecurity(middleware, [{ bearerAuth: [] }]);
}

/**
 * For logout: a valid Bearer token names the session to end; without one the refresh cookie does. A token
 * that is present but invalid counts as absent (logging out must work with an expired token).
 */
export function optionalBearerAuth() {
	const middleware = createMiddleware<OptionalAuthEnv>(async (c, next) => {
		c.set("auth", (await readBearer(c, c.env, c.get("config"))) ?? undefined);
		await next();
	});
	return declaresSecurity(middleware, [{ bearerAuth: [] }, { refreshCookie: [] }], { alternatives: true });
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
	const middleware = createMiddleware<AuthEnv>(async (c, next) => {
		if (!c.get("auth").roles.some((r) => roles.includes(r))) throw new ApiError(403, message);
		await next();
	});
	return withRule(middleware, { roles });
}

/**
 * After bearerAuth: the user named by the `:param` path segment themself, or a caller holding one
 * of `roles`. Decided before anything is looked up, so a 403 says nothing about existence.
 */
export function requireSelfOrRole(param: string, roles: readonly Role[], message = "Insufficient permissions") {
	const middleware = createMiddleware<AuthEnv>(async (c, next) => {
		const self = c.req.param(param) === String(c.get("auth").userId);
		if (!self && !c.get("auth").roles.some((r) => roles.includes(r))) throw new ApiError(403, message);
		await next();
	});
	return withRule(middleware, { roles, self: param });
}

/**
 * Bearer token and the Admin role, as one route-middleware list. A tuple (not an array), so handlers behind it
 * are typed with the variables bearerAuth sets; `message` is the surface's 403 wording.
 */
export function adminOnly(message?: string): [ReturnType<typeof bearerAuth>, ReturnType<typeof requireRole>] {
	return [bearerAuth(), requireRole(["Admin"], message)];
}

import { createRoute, OpenAPIHono, type RouteConfig, type z as Z, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ApiError, REASON_PHRASES } from "../../lib/errors.ts";
import { toValidationIssues } from "../../lib/validation.ts";
import { accessRuleOf } from "../../middleware/auth.ts";
import { rejectUnexpectedBody } from "../../middleware/body-parsers.ts";
import { securityOf } from "../../middleware/security.ts";
import type { AppEnv } from "../../types.ts";
import { noEntityTagToMatch } from "./http-cache.ts";

const ErrorSchema = z
	.object({
		error: z.string().openapi({ example: "Bad Request" }),
		message: z.string().openapi({ example: "Email is required" }),
		issues: z
			.array(z.object({ path: z.string(), message: z.string() }))
			.optional()
			.openapi({ description: "Present on validation errors: one entry per problem." }),
	})
	.openapi("Error");

/** A router whose validation failures become the contract's 400 envelope. */
export function createRouter() {
	return new OpenAPIHono<AppEnv>({
		defaultHook: (result) => {
			if (!result.success) {
				const issues = toValidationIssues(result.error as Z.ZodError);
				throw new ApiError(400, issues[0]?.message ?? "Invalid request", { issues });
			}
		},
	});
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
	400: "Invalid input (the body names each problem in `issues`)",
	401: "Missing or invalid credentials",
	403: "Authenticated but not allowed",
	404: "Unknown resource",
	405: "Method not allowed on this path",
	409: "Conflict with an existing resource",
	412: "A precondition (`If-Match`) did not hold",
	413: "Request body too large",
	415: "Unsupported content type",
	429: "Rate limited; see `Retry-After` and `RateLimit-*` headers",
	500: "Unexpected error",
};

type ErrorCode = 400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 429;

/** The shared error responses, spread into every route's `responses`. 500 is always listed. */
export function errorResponses(...codes: ErrorCode[]) {
	const out: Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> =
		{};
	for (const code of [...codes, 500]) {
		out[code] = {
			description: `${REASON_PHRASES[code]}: ${ERROR_DESCRIPTIONS[code]}`,
			content: { "application/json": { schema: ErrorSchema } },
		};
	}
	return out;
}

/** Error responses every JSON-body route can give. */
export const JSON_BODY_ERRORS = [400, 413, 415] as const;

export function jsonContent<T extends Z.ZodType>(schema: T, description: string) {
	return { description, content: { "application/json": { schema } } };
}

export function jsonBody<T extends Z.ZodType>(schema: T, description?: string) {
	return { body: { required: true, description, content: { "application/json": { schema } } } };
}

/**
 * createRoute, plus what every route shares:
 * - how it authenticates (`security`) and who may call it (`x-roles`, `x-self`) are read off the
 *   middleware that enforces them, so the document cannot drift from the code (a route that states
 *   `security` itself is a programming error);
 * - a route that declares no request body refuses one (after its own middleware, so
 *   authentication is still decided first).
 */
export function defineRoute<
	const M extends MiddlewareHandler[] = [],
	R extends Omit<RouteConfig, "security" | "middleware"> = Omit<RouteConfig, "security" | "middleware">,
>(config: R & { middleware?: M }): ReturnType<typeof createRoute<string, R & DerivedRouteConfig<M>>> {
	if ("security" in config) throw new Error(`${config.path}: security is derived from the middleware`);
	const own: unknown[] = config.middleware ?? [];
	const security = securityOf(own);
	const rule = own.map(accessRuleOf).find(Boolean);
	const access = rule ? { "x-roles": [...rule.roles], ...(rule.self ? { "x-self": rule.self } : {}) } : {};
	// GET and HEAD bodies are never read (rejectUnexpectedBody passes them): such routes skip the layer.
	const writes = config.method !== "get" && config.method !== "head";
	const refusesBody = !config.request?.body && writes;
	const middleware = [...own, ...(writes ? [noEntityTagToMatch] : []), ...(refusesBody ? [rejectUnexpectedBody] : [])];
	// A write's If-Match that lists entity tags is 412 (noEntityTagToMatch): documented on every write.
	const responses = writes ? { ...config.responses, 412: errorResponses(412)[412] } : config.responses;
	return createRoute({ ...config, responses, security, ...access, middleware } as unknown as R & DerivedRouteConfig<M>);
}

/**
 * The middleware keeps its tuple type, so a handler's context carries exactly the variables its middleware set
 * (`c.get("auth")` behind bearerAuth, `c.get("integrationKey")` behind integrationKeyAuth) and nothing more.
 */
type DerivedRouteConfig<M> = { middleware: M; security: RouteConfig["security"] };

import { z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { STAFF_ROLES } from "../../../lib/roles.ts";
import { bearerAuth, requireRole } from "../../../middleware/auth.ts";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { integrationKeyAuth } from "../../../middleware/integration-key.ts";
import type { AppEnv } from "../../../types.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import { idParam } from "../../shared/schemas.ts";
import { AccessTokenSchema } from "../auth/auth.routes.ts";

const tags = ["KC7: login links"];

/**
 * Link scanners and browsers' prefetchers must not burn a single-use token: HEAD and prefetch/prerender
 * requests answer 204 before anything else runs — before query validation too, so a HEAD with any query
 * (an over-long token included) is 204 as the contract says.
 */
const answerPeeks = createMiddleware<AppEnv>(async (c, next) => {
	const purpose = `${c.req.header("Sec-Purpose") ?? ""} ${c.req.header("Purpose") ?? ""}`.toLowerCase();
	if (c.req.method === "HEAD" || purpose.includes("prefetch") || purpose.includes("prerender"))
		return c.body(null, 204);
	await next();
});
const TokenQuery = z.object({
	token: z.string().max(512).optional().openapi({ description: "The one-time token from `login_link`" }),
});

export const create = defineRoute({
	method: "post",
	path: "/api/users/{user_id}/magic-link",
	operationId: "kc7CreateLoginLink",
	tags,
	summary: "Create a one-time login link for a user",
	description:
		"Requires a Bearer token with role Admin, Manager or API **and** a valid `X-Integration-Key`. Checked in this order: " +
		'token (401), integration key (401 "Unauthorized"), role (403), user (404 "User not found"). The link works once, ' +
		"within 10 minutes, at /auth/magic-link (browsers) or /auth/token-login (JSON clients). The body is optional.",
	middleware: [
		bearerAuth(),
		integrationKeyAuth,
		requireRole(STAFF_ROLES, "Unauthorized"),
		jsonBodyParser({ optional: true }),
	],
	request: {
		params: z.object({ user_id: idParam("user_id") }),
		...jsonBody(
			z.strictObject({
				next: z.string().max(2048).optional().openapi({
					description:
						"Where to send the browser after sign-in: a path (resolved against the dashboard URL) or a URL on an allowed origin; anything else is 400",
					example: "/dashboard/modules",
				}),
			}),
		),
	},
	responses: {
		200: jsonContent(
			z
				.object({
					login_link: z.string().openapi({ example: "http://localhost:8787/auth/magic-link?token=…" }),
				})
				.openapi("Kc7LoginLink"),
			"The link",
		),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403, 404),
	},
});

export const magicLink = defineRoute({
	method: "get",
	path: "/auth/magic-link",
	operationId: "kc7RedeemMagicLink",
	"x-session": "opens",
	tags,
	summary: "Sign in with a login link (browsers)",
	description:
		"Consumes the token, sets the refresh cookie and redirects (302) to `next` when it resolves (against the dashboard URL) " +
		"to an allowed origin, else to the dashboard. `HEAD` and prefetch requests (`Sec-Purpose`/`Purpose: prefetch`) answer " +
		'204 and leave the token unused. An invalid, expired or used token: 401 {"message": "Invalid token"}.',
	middleware: [answerPeeks],
	request: { query: TokenQuery.extend({ next: z.string().max(2048).optional() }) },
	responses: {
		204: { description: "HEAD or prefetch: nothing consumed" },
		302: { description: "Signed in; `Location` is the destination" },
		...errorResponses(400, 401),
	},
});

export const tokenLogin = defineRoute({
	method: "get",
	path: "/auth/token-login",
	operationId: "kc7TokenLogin",
	"x-session": "opens",
	tags,
	summary: "Sign in with a login-link token (JSON clients)",
	description:
		'Consumes the token: `{"access_token"}` plus the refresh cookie. HEAD and prefetch requests answer 204 and leave it unused.',
	middleware: [answerPeeks],
	request: { query: TokenQuery },
	responses: {
		200: jsonContent(AccessTokenSchema, "Signed in"),
		204: { description: "HEAD or prefetch: nothing consumed" },
		...errorResponses(400, 401),
	},
});

import { z } from "@hono/zod-openapi";
import { STAFF_ROLES } from "../../../lib/roles.ts";
import { type AuthEnv, bearerAuth, requireRole } from "../../../middleware/auth.ts";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { rateLimit } from "../../../middleware/rate-limit.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import { EmailField, UsernameField } from "../../shared/schemas.ts";

const tags = ["KC7: users"];
const STAFF = "Requires role Admin, Manager or API.";

const Kc7UserSchema = z
	.object({
		user_id: z.number().int().openapi({ example: 1 }),
		username: z.string().nullable().openapi({ example: "user" }),
	})
	.openapi("Kc7User");

export const me = defineRoute({
	method: "get",
	path: "/api/users/me",
	operationId: "kc7GetMe",
	tags,
	summary: "The signed-in user",
	description: "`{user_id, username}` of the account the access token belongs to.",
	middleware: [bearerAuth()],
	responses: {
		200: jsonContent(Kc7UserSchema, "The user"),
		...errorResponses(401),
	},
});

export const byEmail = defineRoute({
	method: "get",
	path: "/api/users/email/{email}",
	operationId: "kc7GetUserByEmail",
	tags,
	summary: "Look a user up by email",
	description: `${STAFF} A caller without the role gets 403 whether or not the user exists.`,
	middleware: [bearerAuth(), requireRole(STAFF_ROLES, "Unauthorized")],
	request: {
		params: z.object({
			email: z
				.string()
				.min(1)
				.max(254)
				.openapi({ param: { name: "email", in: "path" } }),
		}),
	},
	responses: {
		200: jsonContent(z.object({ user_id: z.number().int() }).openapi("Kc7UserId"), "The user's id"),
		...errorResponses(400, 401, 403, 404),
	},
});

export const byRef = defineRoute({
	method: "get",
	path: "/api/users/{user}",
	operationId: "kc7GetUser",
	tags,
	summary: "Look a user up by id or username",
	description:
		"An all-digit segment is a user id, anything else a username (case-insensitive), as in KC7. " +
		"`/api/users/me` and `/api/users/email/{email}` are matched before this route.",
	middleware: [bearerAuth()],
	request: {
		params: z.object({
			user: z
				.string()
				.min(1)
				.max(64)
				.openapi({ param: { name: "user", in: "path" }, examples: ["1", "user"] }),
		}),
	},
	responses: {
		200: jsonContent(Kc7UserSchema, "The user"),
		...errorResponses(400, 401, 404),
	},
});

export const create = defineRoute({
	method: "post",
	path: "/api/users",
	operationId: "kc7CreateUser",
	tags,
	summary: "Provision a user",
	description:
		`${STAFF} The user has no password: they sign in through a login link, or set one through the reset flow. ` +
		'The caller is recorded as the provisioner: a `scope: "provisioned"` integration key owned by the caller may mint ' +
		"login links for this user. Reserved usernames (admin, root, support, …) are refused in production. " +
		"Limited to 5 requests per rolling minute per caller (429 with Retry-After and RateLimit-* headers).",
	middleware: [
		bearerAuth(),
		requireRole(STAFF_ROLES, "Unauthorized"),
		rateLimit<AuthEnv>("provisionCaller", (c) => `user:${c.get("auth").userId}`),
		jsonBodyParser(),
	],
	request: jsonBody(z.strictObject({ email: EmailField, username: UsernameField })),
	responses: {
		201: jsonContent(
			z
				.object({
					user_id: z.number().int(),
					username: z.string(),
					email: z.string(),
					created_at: z.string().openapi({ format: "date-time", example: "2024-07-30T12:34:56.789Z" }),
				})
				.openapi("Kc7CreatedUser"),
			"Created",
		),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403, 409, 429),
	},
});

import { z } from "@hono/zod-openapi";
import { adminOnly } from "../../../middleware/auth.ts";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { INTEGRATION_KEY_SCOPES } from "../../../services/integration-keys.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import { idParam, plainText } from "../../shared/schemas.ts";

const tags = ["KC7: integration keys"];

const KeyScopeSchema = z.enum(INTEGRATION_KEY_SCOPES).openapi({
	description:
		'"all": links for any user the caller may reach; "provisioned": only for users the owner created with POST /api/users',
});

const ListedKeySchema = z
	.object({
		id: z.number().int(),
		name: z.string(),
		owner_user_id: z.number().int().nullable().openapi({
			description: "The API account the key is bound to (it works only with that account's Bearer token), or null",
		}),
		scope: KeyScopeSchema,
		created_at: z.string().openapi({ format: "date-time" }),
		last_used_at: z.string().nullable().openapi({ format: "date-time" }),
		revoked_at: z.string().nullable().openapi({ format: "date-time" }),
	})
	.openapi("IntegrationKey");

export const create = defineRoute({
	method: "post",
	path: "/api/integration-keys",
	operationId: "kc7CreateIntegrationKey",
	tags,
	summary: "Create a partner integration key (Admin)",
	description:
		"The key is in this response only; it is stored as a hash and never shown again. `owner_user_id` binds the key to an " +
		"account holding the API role (the key then works only with that account's Bearer token; anything else is 400); " +
		'`scope: "provisioned"` (which needs an owner) limits it to users that owner created with POST /api/users. ' +
		'Keys without an owner work with any staff caller, scope "all".',
	middleware: [...adminOnly("Unauthorized"), jsonBodyParser()],
	request: jsonBody(
		z.strictObject({
			name: plainText(100).openapi({ example: "Acme LMS" }),
			owner_user_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
			scope: KeyScopeSchema.optional(),
		}),
	),
	responses: {
		201: jsonContent(
			z
				.object({
					id: z.number().int(),
					name: z.string(),
					owner_user_id: z.number().int().nullable(),
					scope: KeyScopeSchema,
					key: z.string(),
					created_at: z.string(),
				})
				.openapi("CreatedIntegrationKey"),
			"Created; `key` is shown this once",
		),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403),
	},
});

export const list = defineRoute({
	method: "get",
	path: "/api/integration-keys",
	operationId: "kc7ListIntegrationKeys",
	tags,
	summary: "List integration keys (Admin); never the keys themselves",
	description:
		"Every integration key, newest first, with its owner and scope; a revoked key stays listed with `revoked_at` " +
		"set. The key itself is shown only once, when it is created.",
	middleware: adminOnly("Unauthorized"),
	responses: {
		200: jsonContent(z.array(ListedKeySchema), "Keys, newest first; revoked ones keep `revoked_at`"),
		...errorResponses(401, 403),
	},
});

export const revoke = defineRoute({
	method: "delete",
	path: "/api/integration-keys/{id}",
	operationId: "kc7RevokeIntegrationKey",
	tags,
	summary: "Revoke an integration key (Admin)",
	description: "The key stops working at once; it stays in the list with `revoked_at`.",
	middleware: adminOnly("Unauthorized"),
	request: { params: z.object({ id: idParam("id") }) },
	responses: {
		204: { description: "Revoked" },
		...errorResponses(400, 401, 403, 404),
	},
});

import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, errorResponses, jsonContent } from "../../lib/openapi.ts";
import { bearerAuth } from "../../middleware/auth.ts";

const tags = ["KC7: users"];

export const Kc7UserSchema = z
	.object({
		user_id: z.number().int().openapi({ example: 1 }),
		username: z.string().nullable().openapi({ example: "user" }),
	})
	.openapi("Kc7User");

export const me = createRoute({
	method: "get",
	path: "/api/users/me",
	operationId: "kc7GetMe",
	tags,
	summary: "The signed-in user",
	security: bearerSecurity,
	middleware: [bearerAuth()],
	responses: {
		200: jsonContent(Kc7UserSchema, "The user"),
		...errorResponses(401),
	},
});

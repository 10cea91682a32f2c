import { z } from "@hono/zod-openapi";
import { defineRoute, errorResponses, jsonContent } from "../shared/openapi.ts";
import { MessageSchema } from "../shared/schemas.ts";

const tags = ["Meta"];

export const hello = defineRoute({
	method: "get",
	path: "/api",
	operationId: "kc7Hello",
	tags,
	summary: "Hello",
	description: 'KC7\'s greeting: `{"message": "Hello, World!"}`. No authentication; answers the same to everyone.',
	responses: { 200: jsonContent(MessageSchema, "A greeting"), ...errorResponses() },
});

export const docs = defineRoute({
	method: "get",
	path: "/api/docs",
	operationId: "apiDocs",
	tags,
	summary: "API documentation page (renders GET /openapi.json)",
	description:
		"This page: every operation of both surfaces with its parameters, request bodies and response schemas, " +
		"rendered from GET /openapi.json by an inline script (no external assets, so it works offline).",
	responses: {
		200: { description: "HTML page", content: { "text/html": { schema: z.string() } } },
		...errorResponses(),
	},
});

export const jwks = defineRoute({
	method: "get",
	path: "/.well-known/jwks.json",
	operationId: "jwks",
	tags,
	summary: "Public keys that verify access tokens",
	description:
		"Every configured key is listed (the first one signs), so partners can verify tokens across a key rotation.",
	responses: {
		200: jsonContent(
			z
				.object({
					keys: z.array(
						z.object({
							kty: z.string(),
							crv: z.string(),
							x: z.string(),
							y: z.string(),
							kid: z.string(),
							alg: z.string(),
							use: z.string(),
						}),
					),
				})
				.openapi("Jwks"),
			"JSON Web Key Set",
		),
		...errorResponses(),
	},
});

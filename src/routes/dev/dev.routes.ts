import { z } from "@hono/zod-openapi";
import { defineRoute, errorResponses, jsonContent } from "../shared/openapi.ts";

export const outbox = defineRoute({
	method: "get",
	path: "/dev/outbox",
	operationId: "devOutbox",
	tags: ["Development"],
	summary: "Mail sent in development (ENVIRONMENT=development only)",
	description:
		"Newest first, at most 100. Each mail carrying a token shows it as a `token=` query parameter in a link. " +
		"An address that received nothing answers [] like an unknown one. The route does not exist in other environments.",
	request: { query: z.object({ to: z.string().max(254).optional() }) },
	responses: {
		200: jsonContent(
			z
				.array(z.object({ to: z.string(), subject: z.string(), text: z.string(), createdAt: z.string() }))
				.openapi("OutboxMail"),
			"The mails",
		),
		...errorResponses(400, 404),
	},
});

import { z } from "@hono/zod-openapi";
import { bearerAuth, requireRole } from "../../../middleware/auth.ts";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { replicaReads } from "../../../middleware/request-context.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import { idParam, plainText } from "../../shared/schemas.ts";

const tags = ["ILD: communities"];

const CategoriesField = z
	.array(plainText(50))
	.max(50)
	.refine((names) => new Set(names.map((n) => n.trim())).size === names.length, "Categories must be unique");

const CommunitySchema = z
	.object({ id: z.number().int(), name: z.string(), description: z.string(), categories: z.array(z.string()) })
	.openapi("Community");

export const list = defineRoute({
	method: "get",
	path: "/communities",
	operationId: "ildListCommunities",
	tags,
	summary: "Communities and their categories",
	description:
		"Public and cacheable (`Cache-Control`, `ETag`; `If-None-Match` gives 304, an `If-Match` that does not list " +
		"the current ETag 412).",
	// Anonymous and public: any D1 replica may answer (or one as fresh as the client's bookmark).
	middleware: [replicaReads],
	responses: {
		200: jsonContent(
			z
				.array(z.object({ id: z.number().int(), name: z.string(), categories: z.array(z.string()) }))
				.openapi("CommunityList"),
			"Communities by id, categories sorted",
		),
		304: { description: "Not modified" },
		...errorResponses(412),
	},
});

export const create = defineRoute({
	method: "post",
	path: "/communities",
	operationId: "ildCreateCommunity",
	tags,
	summary: "Create a community with its categories (Admin)",
	description:
		"Creates a community with an optional description and its categories (plain text, no duplicates). Admin only.",
	middleware: [bearerAuth(), requireRole(["Admin"]), jsonBodyParser()],
	request: jsonBody(
		z.strictObject({
			name: plainText(100),
			description: plainText(1000, { min: 0, multiline: true }).optional(),
			categories: CategoriesField.default([]),
		}),
	),
	responses: {
		201: jsonContent(CommunitySchema, "Created"),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403),
	},
});

export const update = defineRoute({
	method: "put",
	path: "/communities/{communityId}",
	operationId: "ildUpdateCommunity",
	tags,
	summary: "Update a community (Admin)",
	description:
		"Fields left out stay as they are; `categories`, when given, replaces the list, and every member's categories are " +
		"recomputed in the same transaction.",
	middleware: [bearerAuth(), requireRole(["Admin"]), jsonBodyParser()],
	request: {
		params: z.object({ communityId: idParam("communityId") }),
		...jsonBody(
			z.strictObject({
				name: plainText(100).optional(),
				description: plainText(1000, { min: 0, multiline: true }).optional(),
				categories: CategoriesField.optional(),
			}),
		),
	},
	responses: {
		200: jsonContent(CommunitySchema, "Updated"),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403, 404),
	},
});

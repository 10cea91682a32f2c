import { z } from "@hono/zod-openapi";
import { STAFF_ROLES } from "../../../lib/roles.ts";
import { bearerAuth, requireRole, requireSelfOrRole } from "../../../middleware/auth.ts";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { replicaReads } from "../../../middleware/request-context.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import { idParam } from "../../shared/schemas.ts";

const tags = ["KC7: modules"];

const ModuleSchema = z
	.object({
		id: z.number().int(),
		title: z.string(),
		clean_title: z.string(),
		description: z.string(),
		est_time: z.string().openapi({ example: "na" }),
		difficulty: z.string().openapi({ example: "Easy" }),
	})
	.openapi("Kc7Module");

const ProgressItemSchema = z
	.object({
		module_id: z.number().int(),
		module_name: z.string(),
		score: z.number().int(),
		max_score: z.number().int(),
		progress: z.number().min(0).max(1).openapi({ description: "score / max_score, 0 when not started", example: 0.8 }),
	})
	.openapi("Kc7ModuleProgressItem");

const ProgressSchema = z
	.object({
		user_id: z.number().int(),
		module_id: z.number().int(),
		score: z.number().int(),
		max_score: z.number().int(),
		progress: z.number().min(0).max(1).openapi({ example: 0.8 }),
	})
	.openapi("Kc7ModuleProgress");

const userParams = z.object({ user_id: idParam("user_id") });
const userModuleParams = z.object({ user_id: idParam("user_id"), module_id: idParam("module_id") });
const SELF_OR_STAFF = "The user themself, or a caller with role Admin, Manager or API; another plain user gets 403.";

export const list = defineRoute({
	method: "get",
	path: "/api/modules",
	operationId: "kc7ListModules",
	tags,
	summary: "The catalog of core modules",
	description:
		"Public and cacheable: `Cache-Control` with a max-age and a strong `ETag`; `If-None-Match` gives 304, an " +
		"`If-Match` that does not list the current ETag 412.",
	// Anonymous and public: any D1 replica may answer (or one as fresh as the client's bookmark).
	middleware: [replicaReads],
	responses: {
		200: jsonContent(z.array(ModuleSchema), "Core modules in catalog order"),
		304: { description: "Not modified (the ETag matched)" },
		...errorResponses(412),
	},
});

export const userModules = defineRoute({
	method: "get",
	path: "/api/users/{user_id}/modules",
	operationId: "kc7GetUserModules",
	tags,
	summary: "A user's progress in every core module",
	description: SELF_OR_STAFF,
	middleware: [bearerAuth(), requireSelfOrRole("user_id", STAFF_ROLES, "Unauthorized")],
	request: { params: userParams },
	responses: {
		200: jsonContent(z.array(ProgressItemSchema), "Every core module, with the user's score"),
		...errorResponses(400, 401, 403, 404),
	},
});

export const userModule = defineRoute({
	method: "get",
	path: "/api/users/{user_id}/modules/{module_id}",
	operationId: "kc7GetUserModule",
	tags,
	summary: "A user's progress in one module",
	description: `${SELF_OR_STAFF} 404 "User not found", "Module not found" or "User is not enrolled in this module".`,
	middleware: [bearerAuth(), requireSelfOrRole("user_id", STAFF_ROLES, "Unauthorized")],
	request: { params: userModuleParams },
	responses: {
		200: jsonContent(ProgressSchema, "The progress"),
		...errorResponses(400, 401, 403, 404),
	},
});

export const recordScore = defineRoute({
	method: "put",
	path: "/api/users/{user_id}/modules/{module_id}",
	operationId: "kc7RecordScore",
	tags,
	summary: "Record a score (enrolls the user)",
	description: "Requires role Admin or API (the game and partner backends). 0 ≤ score ≤ the module's max_score.",
	middleware: [bearerAuth(), requireRole(["Admin", "API"], "Unauthorized"), jsonBodyParser()],
	request: {
		params: userModuleParams,
		...jsonBody(z.strictObject({ score: z.number().int().min(0).max(1_000_000_000).openapi({ example: 80 }) })),
	},
	responses: {
		200: jsonContent(ProgressSchema, "The recorded progress"),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403, 404),
	},
});

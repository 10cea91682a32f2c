import { z } from "@hono/zod-openapi";
import { adminOnly, bearerAuth } from "../../../middleware/auth.ts";
import { SECURITY_EVENT_TYPES } from "../../../services/security-events.ts";
import { defineRoute, errorResponses, jsonContent } from "../../shared/openapi.ts";
import { IsoTimeInput } from "../../shared/schemas.ts";
import { USER_PATH, UserPathParams } from "../user-path.ts";
import { DEFAULT_LIMIT, decodeCursor, MAX_LIMIT } from "./paging.ts";

const tags = ["ILD: security events"];

export const SecurityEventSchema = z
	.object({
		id: z.number().int().openapi({ example: 1042 }),
		at: z.string().openapi({ format: "date-time" }),
		type: z.enum(SECURITY_EVENT_TYPES).openapi({ example: "login.succeeded" }),
		outcome: z.enum(["success", "failure"]),
		userId: z
			.number()
			.int()
			.nullable()
			.openapi({ description: "The account the event is about; null when none matched" }),
		actor: z
			.object({
				type: z.enum(["user", "admin", "partner", "system"]),
				id: z.number().int().nullable().openapi({ description: "The acting user's id; null for the system" }),
			})
			.openapi({ description: "Who acted" }),
		integrationKeyId: z.number().int().nullable(),
		sessionId: z.string().nullable(),
		ip: z.string().nullable(),
		country: z.string().nullable(),
		userAgent: z.string().nullable(),
		requestId: z.string().nullable(),
		detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).openapi({
			description: "A small object explaining the event (e.g. `reason` of `login.failed`); never a secret",
		}),
	})
	.openapi("SecurityEvent");

const SecurityEventPageSchema = z
	.object({
		events: z.array(SecurityEventSchema),
		nextCursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next (older) page; null on the last page" }),
	})
	.openapi("SecurityEventPage");

const paging = {
	limit: z
		.string()
		.regex(/^[0-9]+$/, "must be a positive integer")
		.refine((v) => Number(v) >= 1, "must be a positive integer")
		.optional()
		.openapi({
			description: `Events per page: default ${DEFAULT_LIMIT}, above ${MAX_LIMIT} clamped to ${MAX_LIMIT}`,
			example: "50",
			pattern: "^[0-9]+$",
		}),
	cursor: z
		.string()
		.max(64)
		.refine((v) => decodeCursor(v) !== null, "must be a nextCursor this API returned")
		.optional()
		.openapi({ description: "`nextCursor` of the previous page (opaque)" }),
};
const typeFilter = {
	type: z
		.enum(SECURITY_EVENT_TYPES, { error: "must be a security event type" })
		.optional()
		.openapi({ description: "Only events of this type" }),
};
const Timestamp = IsoTimeInput;
const timeFilter = {
	since: Timestamp.optional().openapi({
		description: "Only events at or after this time (ISO 8601)",
		example: "2026-01-01T00:00:00Z",
	}),
	until: Timestamp.optional().openapi({
		description: "Only events before this time (ISO 8601)",
		example: "2026-02-01T00:00:00Z",
	}),
};

const PAGING =
	`Newest first. \`limit\` defaults to ${DEFAULT_LIMIT} and is clamped to ${MAX_LIMIT}; pass \`nextCursor\` as \`cursor\` ` +
	"for the next page (pages are stable while new events arrive). A non-numeric `limit` or a malformed `cursor` is 400.";

export const listOwn = defineRoute({
	method: "get",
	path: "/user/security-events",
	operationId: "ildListOwnSecurityEvents",
	tags,
	summary: "The caller's own security events",
	description: `The audit events about the signed-in user's account. ${PAGING}`,
	middleware: [bearerAuth()],
	request: { query: z.strictObject(paging) },
	responses: {
		200: jsonContent(SecurityEventPageSchema, "A page of events"),
		...errorResponses(400, 401),
	},
});

export const listForUser = defineRoute({
	method: "get",
	path: `${USER_PATH}/security-events`,
	operationId: "ildListUserSecurityEvents",
	tags,
	summary: "A user's security events (Admin)",
	description: `The audit events about one account; \`type\` filters by event type. ${PAGING}`,
	middleware: adminOnly(),
	request: { params: UserPathParams, query: z.strictObject({ ...paging, ...typeFilter }) },
	responses: {
		200: jsonContent(SecurityEventPageSchema, "A page of events"),
		...errorResponses(400, 401, 403, 404),
	},
});

export const listAll = defineRoute({
	method: "get",
	path: "/security-events",
	operationId: "ildListSecurityEvents",
	tags,
	summary: "All security events (Admin)",
	description:
		"Every audit event, including those about no account (a sign-in for an unknown email) or a deleted one; " +
		`\`type\` filters by event type, \`since\` (inclusive) and \`until\` (exclusive) by time. ${PAGING} A \`since\` or ` +
		"`until` that is not an ISO 8601 date-time is 400.",
	middleware: adminOnly(),
	request: { query: z.strictObject({ ...paging, ...typeFilter, ...timeFilter }) },
	responses: {
		200: jsonContent(SecurityEventPageSchema, "A page of events"),
		...errorResponses(400, 401, 403),
	},
});

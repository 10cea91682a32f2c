import { z } from "@hono/zod-openapi";
import { adminOnly, bearerAuth } from "../../../middleware/auth.ts";
import { defineRoute, errorResponses, jsonContent } from "../../shared/openapi.ts";
import { USER_PATH, UserPathParams } from "../user-path.ts";

const tags = ["ILD: sessions"];

const SessionSchema = z
	.object({
		id: z.string().openapi({ description: "Session id (the access token's `sid`)" }),
		current: z.boolean().optional().openapi({ description: "Only in the caller's own list: this request's session" }),
		method: z.enum(["password", "link", "reset"]).openapi({ description: "How the session began" }),
		browser: z.string().nullable().openapi({ example: "Firefox" }),
		os: z.string().nullable().openapi({ example: "macOS" }),
		deviceType: z.enum(["desktop", "mobile", "tablet", "unknown"]),
		country: z.string().nullable().openapi({ description: "From the edge; null where unknown", example: "DE" }),
		city: z.string().nullable().openapi({ example: "Berlin" }),
		createdAt: z.string().openapi({ format: "date-time" }),
		lastUsedAt: z.string().openapi({ format: "date-time" }),
		expiresAt: z.string().openapi({
			format: "date-time",
			description:
				"When the session ends unless it is used again: 14 days after its last use (idle lifetime), or 30 days " +
				"after it began (absolute lifetime), whichever comes first",
		}),
	})
	.openapi("Session");

const RevokedSchema = z.object({ revoked: z.number().int().openapi({ example: 2 }) }).openapi("Revoked");

const REVOCATION =
	"A revoked session's refresh token stops working at once, and so do its access tokens: every route but " +
	"GET /sign/check refuses them with 401 from the next request on.";

export const listOwn = defineRoute({
	method: "get",
	path: "/user/sessions",
	operationId: "ildListOwnSessions",
	tags,
	summary: "The caller's devices (live sessions)",
	description: "Live sessions only, most recently used first; `current` marks the caller's own.",
	middleware: [bearerAuth()],
	responses: { 200: jsonContent(z.array(SessionSchema), "Live sessions"), ...errorResponses(401) },
});

export const revokeOne = defineRoute({
	method: "delete",
	path: "/user/sessions/{sessionId}",
	operationId: "ildRevokeOwnSession",
	tags,
	summary: "Sign one device out",
	description: `The caller may end any of their own live sessions, the current one included (like a logout). A revoked, expired or another user's session is 404. ${REVOCATION}`,
	middleware: [bearerAuth()],
	request: {
		params: z.object({
			sessionId: z
				.string()
				.max(64)
				.openapi({ param: { name: "sessionId", in: "path" }, example: "3nq9V2mJ0t8YyK1wQe5bXw" }),
		}),
	},
	responses: { 204: { description: "Revoked" }, ...errorResponses(401, 404) },
});

export const revokeOthers = defineRoute({
	method: "delete",
	path: "/user/sessions",
	operationId: "ildRevokeOtherSessions",
	tags,
	summary: "Sign every other device out",
	description: `Every live session of the caller except the current one, in one statement. ${REVOCATION}`,
	middleware: [bearerAuth()],
	responses: { 200: jsonContent(RevokedSchema, "How many were revoked"), ...errorResponses(401) },
});

const USER_SESSIONS = `${USER_PATH}/sessions`;

export const listForUser = defineRoute({
	method: "get",
	path: USER_SESSIONS,
	operationId: "ildListUserSessions",
	tags,
	summary: "A user's devices (Admin)",
	description: "As GET /user/sessions, without `current`. Unknown user: 404.",
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: { 200: jsonContent(z.array(SessionSchema), "Live sessions"), ...errorResponses(401, 403, 404) },
});

export const revokeForUser = defineRoute({
	method: "delete",
	path: USER_SESSIONS,
	operationId: "ildRevokeUserSessions",
	tags,
	summary: "Sign a user out everywhere (Admin)",
	description: `Every live session of the user, in one statement. ${REVOCATION}`,
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: { 200: jsonContent(RevokedSchema, "How many were revoked"), ...errorResponses(401, 403, 404) },
});

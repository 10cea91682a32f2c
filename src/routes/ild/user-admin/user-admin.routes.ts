import { z } from "@hono/zod-openapi";
import { adminOnly } from "../../../middleware/auth.ts";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import { IldUserSchema, IsoTimeInput, plainText } from "../../shared/schemas.ts";
import { USER_PATH, UserPathParams } from "../user-path.ts";

const tags = ["ILD: admin"];

const SubscriptionSchema = z
	.object({
		status: z.enum(["none", "active", "expired"]),
		plan: z.string().nullable(),
		validUntil: z.string().nullable().openapi({ format: "date-time" }),
	})
	.openapi("Subscription");

// Any digit string: a large `limit` is clamped and a large `offset` is a page past the end, never a 400.
const paging = z.string().regex(/^\d+$/, "must be a non-negative integer");

export const list = defineRoute({
	method: "get",
	path: "/user",
	operationId: "ildListUsers",
	tags,
	summary: "List users (Admin)",
	description:
		"`limit` defaults to 50 and is clamped to 200; `offset` defaults to 0; a non-numeric value is 400. `q` filters on email, " +
		"username and name (case-insensitive substring). `X-Total-Count` is the number of matching users.",
	middleware: adminOnly(),
	request: {
		query: z.strictObject({
			limit: paging.optional().openapi({ example: "50" }),
			offset: paging.optional().openapi({ example: "0" }),
			q: z.string().max(100).optional(),
		}),
	},
	responses: {
		200: {
			description: "A page of users, ordered by id",
			headers: { "X-Total-Count": { schema: { type: "integer" }, description: "Users matching the filter" } },
			content: { "application/json": { schema: z.array(IldUserSchema) } },
		},
		...errorResponses(400, 401, 403),
	},
});

export const get = defineRoute({
	method: "get",
	path: USER_PATH,
	operationId: "ildGetUser",
	tags,
	summary: "A user (Admin)",
	description:
		"Any user's ILD user object, ban fields included. Admin only: a caller without the role gets 403 whether or " +
		"not the user exists.",
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: {
		200: jsonContent(IldUserSchema, "The user"),
		...errorResponses(401, 403, 404),
	},
});

export const reindex = defineRoute({
	method: "patch",
	path: `${USER_PATH}/index`,
	operationId: "ildReindexUserCategories",
	tags,
	summary: "Recompute a user's categories (Admin)",
	description: "The distinct union of the categories of the communities the user belongs to, sorted.",
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: {
		200: jsonContent(
			z.object({ id: z.number().int(), categories: z.array(z.string()) }).openapi("UserCategories"),
			"The stored categories",
		),
		...errorResponses(401, 403, 404),
	},
});

export const recalculate = defineRoute({
	method: "put",
	path: `${USER_PATH}/recalculate-subscription`,
	operationId: "ildRecalculateSubscription",
	tags,
	summary: "Recompute a user's subscription (Admin)",
	description:
		"`active` if a period covers now (periods are [startsAt, endsAt): one ending exactly now has ended), `expired` if only " +
		"ended periods exist, else `none` (no periods, or only future ones). `plan` and `validUntil` come from the covering " +
		"period (the one ending last) or else the period that ended last; both are null for `none`.",
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: {
		200: jsonContent(
			z.object({ id: z.number().int(), subscription: SubscriptionSchema }).openapi("UserSubscription"),
			"The stored subscription",
		),
		...errorResponses(401, 403, 404),
	},
});

const PeriodSchema = z
	.object({
		id: z.number().int(),
		plan: z.string(),
		startsAt: z.string().openapi({ format: "date-time" }),
		endsAt: z.string().openapi({ format: "date-time" }),
		source: z.string(),
	})
	.openapi("SubscriptionPeriod");

const Timestamp = z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" });

export const grantPeriod = defineRoute({
	method: "post",
	path: `${USER_PATH}/subscription-periods`,
	operationId: "ildGrantSubscriptionPeriod",
	tags,
	summary: "Grant a subscription period (Admin)",
	description: "Adds the period [startsAt, endsAt) and recomputes the stored subscription in the same transaction.",
	middleware: [...adminOnly(), jsonBodyParser()],
	request: {
		params: UserPathParams,
		...jsonBody(
			z
				.strictObject({
					plan: plainText(50).openapi({ example: "pro" }),
					startsAt: Timestamp.openapi({ example: "2026-01-01T00:00:00Z" }),
					endsAt: Timestamp.openapi({ example: "2027-01-01T00:00:00Z" }),
					source: plainText(50).optional().openapi({ example: "invoice-1042" }),
				})
				.refine((p) => Date.parse(p.endsAt) > Date.parse(p.startsAt), {
					message: "endsAt must be after startsAt",
					path: ["endsAt"],
				}),
		),
	},
	responses: {
		201: jsonContent(
			z.object({ period: PeriodSchema, subscription: SubscriptionSchema }).openapi("GrantedPeriod"),
			"Granted",
		),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403, 404),
	},
});

export const listPeriods = defineRoute({
	method: "get",
	path: `${USER_PATH}/subscription-periods`,
	operationId: "ildListSubscriptionPeriods",
	tags,
	summary: "A user's subscription periods (Admin)",
	description:
		"Every subscription period of the user, ordered by start; the subscription status is computed from these " +
		"when a user object is read.",
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: {
		200: jsonContent(z.array(PeriodSchema), "Periods by start"),
		...errorResponses(401, 403, 404),
	},
});

const BanSchema = z
	.object({
		id: z.number().int(),
		banned: z.boolean(),
		banReason: z.string().nullable(),
		bannedUntil: z.string().nullable().openapi({ format: "date-time" }),
	})
	.openapi("Ban");

export const ban = defineRoute({
	method: "put",
	path: `${USER_PATH}/ban`,
	operationId: "ildBanUser",
	tags,
	summary: "Ban a user (Admin)",
	description:
		"In one atomic write: the ban, every session revoked, every open one-time token closed, and the `user.banned` " +
		'event. Its access tokens are refused from the next request on; sign-in answers 403 "Account disabled" to ' +
		"the right password; refresh and login links stop working. `until` (ISO 8601, strictly in the future) ends the " +
		"ban by itself; absent or null bans indefinitely. Banning oneself is 403.",
	middleware: [...adminOnly(), jsonBodyParser()],
	request: {
		params: UserPathParams,
		...jsonBody(
			z.strictObject({
				reason: plainText(500).nullable().optional(),
				until: IsoTimeInput.nullable().optional().openapi({ example: "2030-01-01T00:00:00Z" }),
			}),
		),
	},
	responses: {
		200: jsonContent(BanSchema, "The ban as it now stands"),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403, 404),
	},
});

export const remove = defineRoute({
	method: "delete",
	path: USER_PATH,
	operationId: "ildDeleteUser",
	tags,
	summary: "Delete a user now (Admin)",
	description:
		"Deletes the account at once, as the end of a deletion's grace would (rows, sessions, tokens, the image, " +
		"limiter state; security events stay without personal fields) and records `account.deleted`. Its access " +
		"tokens stop working from the next request on; its email can be registered again. Not oneself (403).",
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404) },
});

export const unban = defineRoute({
	method: "delete",
	path: `${USER_PATH}/ban`,
	operationId: "ildUnbanUser",
	tags,
	summary: "Lift a user's ban (Admin)",
	description: "Idempotent; `user.unbanned` is recorded when a ban was lifted. Sessions the ban ended stay ended.",
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: { 200: jsonContent(BanSchema, "Not banned"), ...errorResponses(401, 403, 404) },
});

export const stats = defineRoute({
	method: "get",
	path: "/user/stats",
	operationId: "ildAccountStats",
	tags,
	summary: "Account statistics (Admin)",
	description:
		"`users` counts every account; `legacyPasswordHashes` every account still holding a KC7 (Werkzeug) hash, banned " +
		"ones included — it falls as migrated users sign in. Also accounts without a password, with an unverified " +
		"email, and banned now. One query.",
	middleware: adminOnly(),
	responses: {
		200: jsonContent(
			z
				.object({
					users: z.number().int(),
					legacyPasswordHashes: z.number().int(),
					withoutPassword: z.number().int(),
					unverifiedEmails: z.number().int(),
					banned: z.number().int(),
				})
				.openapi("AccountStats"),
			"Counts",
		),
		...errorResponses(401, 403),
	},
});

import { z } from "@hono/zod-openapi";
import { adminOnly, bearerAuth } from "../../../middleware/auth.ts";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import {
	EmailField,
	IldUserSchema,
	LoginPasswordField,
	MessageSchema,
	OneTimeTokenField,
} from "../../shared/schemas.ts";
import { SecurityEventSchema } from "../security-events/security-events.routes.ts";
import { USER_PATH, UserPathParams } from "../user-path.ts";

/** The account lifecycle (contract: "Account lifecycle (v2)"): change the email, export everything, leave. */

const tags = ["ILD: account lifecycle"];

const Time = z.string().openapi({ format: "date-time" });
const TimeOrNull = Time.nullable();

export const requestEmailChange = defineRoute({
	method: "put",
	path: "/user/email",
	operationId: "ildRequestEmailChange",
	tags,
	summary: "Ask to change the email address",
	description:
		"Needs the current password (wrong ones count toward the account's login limit). Always the same 202 whether or " +
		"not the new address is taken: a free address gets a confirmation link (24 hours), a taken one a notice, and " +
		"nothing changes until the link is used. The request spends one mail of each address's budget (3 per hour " +
		"per address, shared with verification and reset mails): over either, 429 and nothing is sent. When the " +
		"change is confirmed, the old address gets a notice with an undo link (7 days) and stays reserved for this " +
		"account until then.",
	middleware: [bearerAuth(), jsonBodyParser()],
	request: jsonBody(z.strictObject({ newEmail: EmailField, currentPassword: LoginPasswordField })),
	responses: {
		202: jsonContent(
			z.object({ pendingEmail: z.string().openapi({ example: "new@example.com" }) }).openapi("PendingEmailChange"),
			"Accepted: a confirmation link is on its way to the new address",
		),
		...errorResponses(...JSON_BODY_ERRORS, 401, 429),
	},
});

export const confirmEmailChange = defineRoute({
	method: "post",
	path: "/sign/email/confirm",
	operationId: "ildConfirmEmailChange",
	tags,
	summary: "Confirm an email change (link from the new address)",
	description:
		"Sets the new address (verified). Single use. If another account took the address since the link was sent, " +
		"409 and nothing changes (of two accounts confirming the same address, exactly one gets it). The old address " +
		"then gets a notice with an undo link.",
	middleware: [jsonBodyParser()],
	request: jsonBody(z.strictObject({ token: OneTimeTokenField })),
	responses: {
		200: jsonContent(IldUserSchema, "The user, with the new email"),
		...errorResponses(...JSON_BODY_ERRORS, 409),
	},
});

export const undoEmailChange = defineRoute({
	method: "post",
	path: "/sign/email/undo",
	operationId: "ildUndoEmailChange",
	tags,
	summary: "Undo an email change (link from the old address)",
	description:
		"Restores the previous address, clears the password (whoever changed the address knew it), revokes every " +
		"session, closes every open one-time token, cancels a pending account deletion, and mails a password-reset " +
		"link to the restored address (sent even past the address's mail limit). Single use, 7 days; a reset, a ban, " +
		"a password change or a later change leaves it working.",
	middleware: [jsonBodyParser()],
	request: jsonBody(z.strictObject({ token: OneTimeTokenField })),
	responses: {
		200: jsonContent(MessageSchema, "Undone"),
		...errorResponses(...JSON_BODY_ERRORS),
	},
});

const AccountExportSchema = z
	.object({
		user: z
			.object({
				id: z.number().int(),
				email: z.string(),
				username: z.string().nullable(),
				firstName: z.string(),
				lastName: z.string(),
				emailVerifiedAt: TimeOrNull,
				tutorialCompletedAt: TimeOrNull,
				profileImageKey: z.string().nullable().openapi({ description: "Stream it at /user/profile/stream/{key}" }),
				provisionedBy: z.number().int().nullable(),
				bannedAt: TimeOrNull,
				bannedUntil: TimeOrNull,
				banReason: z.string().nullable(),
				subscriptionStatus: z.enum(["none", "active", "expired"]),
				subscriptionPlan: z.string().nullable(),
				subscriptionValidUntil: TimeOrNull,
				createdAt: Time,
				updatedAt: Time,
			})
			.openapi({ description: "Every stored field of the account but the password hash" }),
		roles: z.array(z.string()),
		communities: z.array(z.object({ id: z.number().int(), name: z.string(), joinedAt: Time })),
		categories: z.array(z.string()),
		subscriptionPeriods: z.array(
			z.object({
				id: z.number().int(),
				plan: z.string(),
				startsAt: Time,
				endsAt: Time,
				source: z.string(),
				createdAt: Time,
			}),
		),
		moduleProgress: z.array(
			z.object({
				moduleId: z.number().int(),
				title: z.string(),
				score: z.number().int(),
				maxScore: z.number().int(),
				updatedAt: Time,
			}),
		),
		sessions: z
			.array(
				z.object({
					id: z.string(),
					method: z.string(),
					browser: z.string().nullable(),
					os: z.string().nullable(),
					deviceType: z.string(),
					country: z.string().nullable(),
					city: z.string().nullable(),
					userAgent: z.string().nullable(),
					createdAt: Time,
					lastUsedAt: Time,
					rotatedAt: TimeOrNull,
					expiresAt: Time,
					revokedAt: TimeOrNull,
				}),
			)
			.openapi({ description: "Every stored session, live or not; never a token or its hash" }),
		securityEvents: z
			.array(SecurityEventSchema)
			.openapi({ description: "Events about the account, oldest first (as GET /user/security-events shows them)" }),
		deletionRequest: z.object({ requestedAt: Time, scheduledFor: Time }).nullable(),
		emailReservations: z
			.array(z.object({ email: z.string(), until: Time }))
			.openapi({ description: "Previous addresses held for the account while their undo link lives" }),
		oneTimeTokens: z
			.array(
				z.object({
					purpose: z.string(),
					createdAt: Time,
					expiresAt: Time,
					closedAt: TimeOrNull,
					meta: z.record(z.string(), z.unknown()),
				}),
			)
			.openapi({ description: "Mailed and minted links about the account, without the tokens themselves" }),
		integrationKeys: z
			.array(
				z.object({
					id: z.number().int(),
					name: z.string(),
					scope: z.string(),
					ownerUserId: z.number().int().nullable(),
					createdBy: z.number().int().nullable(),
					createdAt: Time,
					lastUsedAt: TimeOrNull,
					revokedAt: TimeOrNull,
				}),
			)
			.openapi({ description: "Keys the account owns or created, without the keys themselves" }),
		exportedAt: Time,
	})
	.openapi("AccountExport");

export const exportAccount = defineRoute({
	method: "get",
	path: "/user/export",
	operationId: "ildExportAccount",
	tags,
	summary: "Download everything stored about the caller",
	description:
		"A JSON attachment (`Content-Disposition: attachment`) with every stored field about the account, no hashes or " +
		"secrets: profile, roles, communities, categories, subscription periods, module progress, sessions, security " +
		"events, the open deletion request, reserved previous addresses, one-time links and integration keys.",
	middleware: [bearerAuth()],
	responses: {
		200: jsonContent(AccountExportSchema, "The export (an attachment)"),
		...errorResponses(401),
	},
});

export const exportUser = defineRoute({
	method: "get",
	path: `${USER_PATH}/export`,
	operationId: "ildExportUser",
	tags,
	summary: "Everything stored about a user (Admin)",
	description:
		"The same export as GET /user/export, for an operator answering a data-subject request on the user's behalf " +
		"(events show every actor's facts, as the Admin event routes do). Unknown user: 404.",
	middleware: adminOnly(),
	request: { params: UserPathParams },
	responses: {
		200: jsonContent(AccountExportSchema, "The export (an attachment)"),
		...errorResponses(401, 403, 404),
	},
});

export const requestDeletion = defineRoute({
	method: "delete",
	path: "/user/account",
	operationId: "ildRequestAccountDeletion",
	tags,
	summary: "Delete the own account (after 7 days)",
	description:
		"Needs the password (wrong ones count toward the account's login limit; an account without a password is " +
		"deleted by an Admin only). Revokes every session, mails a cancel link, and deletes the account when the 7 days " +
		'end unless cancelled by that link or by a password sign-in. Wrong password: 400 "Password is incorrect".',
	middleware: [bearerAuth(), jsonBodyParser()],
	request: jsonBody(z.strictObject({ password: LoginPasswordField })),
	responses: {
		202: jsonContent(
			z.object({ deletionScheduledFor: Time }).openapi("DeletionScheduled"),
			"Scheduled; every session is ended",
		),
		...errorResponses(...JSON_BODY_ERRORS, 401, 429),
	},
});

export const cancelDeletion = defineRoute({
	method: "post",
	path: "/sign/account/cancel-deletion",
	operationId: "ildCancelAccountDeletion",
	tags,
	summary: "Keep the account (cancel link from the deletion mail)",
	description:
		'Single use; an unknown, used or expired token (or a deletion already cancelled) is 400 "Invalid or expired token".',
	middleware: [jsonBodyParser()],
	request: jsonBody(z.strictObject({ token: OneTimeTokenField })),
	responses: {
		200: jsonContent(MessageSchema, "The account is kept"),
		...errorResponses(...JSON_BODY_ERRORS),
	},
});

import { z } from "@hono/zod-openapi";
import { ROLES } from "../../lib/roles.ts";
import { CONTROL_BIDI_OR_INVISIBLE, CONTROL_OR_BIDI_EXCEPT_NEWLINES } from "../../lib/text.ts";
import { parseIsoUtc } from "../../lib/time.ts";
import { usernameProblem } from "../../lib/usernames.ts";
import { ID_PATTERN } from "../../lib/validation.ts";

/** Schemas more than one resource returns or accepts. */

/**
 * A time a client sends (a query filter, a ban's end): ISO 8601, a date or a date-time, read as UTC where it names
 * no zone. Handlers read it with parseIsoUtc.
 */
export const IsoTimeInput = z
	.string()
	.max(64)
	.refine((v) => parseIsoUtc(v) !== null, "must be an ISO 8601 date or date-time")
	.openapi({ description: "ISO 8601; without a zone, UTC (a date alone: its UTC midnight)" });

const RoleSchema = z.enum(ROLES).openapi("Role");

export const IldUserSchema = z
	.object({
		id: z.number().int().openapi({ example: 4 }),
		email: z.string().openapi({ example: "user@example.com" }),
		username: z.string().nullable().openapi({ example: "user" }),
		firstName: z.string(),
		lastName: z.string(),
		roles: z.array(RoleSchema),
		emailVerified: z.boolean(),
		tutorialCompleted: z.boolean(),
		profileImage: z.string().nullable().openapi({ description: "Key for GET /user/profile/stream/{key}, or null" }),
		communities: z.array(z.number().int()).openapi({ description: "Ids of the communities the user belongs to" }),
		categories: z.array(z.string()),
		subscription: z.object({
			status: z.enum(["none", "active", "expired"]),
			plan: z.string().nullable(),
			validUntil: z.string().nullable().openapi({ format: "date-time" }),
		}),
		banned: z.boolean().openapi({ description: "A ban is in force now (a timed ban past its end reads false)" }),
		banReason: z.string().nullable(),
		bannedUntil: z.string().nullable().openapi({ format: "date-time", description: "null: indefinite, or not banned" }),
		createdAt: z.string().openapi({ format: "date-time" }),
		updatedAt: z.string().openapi({ format: "date-time" }),
	})
	.openapi("User");

export const MessageSchema = z.object({ message: z.string() }).openapi("Message");

/** Login identifiers and passwords are bounded so a client gets a 400, not a slow hash of 1 MB. */
export const EmailField = z
	.email({ error: (issue) => (issue.input === undefined ? undefined : "Email must be a valid email address") })
	.max(254)
	.openapi({ example: "user@example.com" });
export const LoginPasswordField = z.string().min(1).max(1024).openapi({ example: "correct-horse-battery-staple" });
/** A one-time token from a mailed link (verification, reset, email change, undo, deletion cancel, "not me"). */
export const OneTimeTokenField = z.string().min(1).max(512);
export const NewPasswordField = z
	.string()
	.refine((p) => [...p].length >= 8, "Password must be at least 8 characters")
	.refine((p) => [...p].length <= 256, "Password must be at most 256 characters")
	.openapi({ description: "8 to 256 Unicode code points, not equal to the email", example: "a-long-new-passphrase" });

/** A positive integer id in a path. Kept a string in the schema; handlers convert with Number(). */
export function idParam(name: string) {
	return z
		.string()
		.regex(ID_PATTERN, `${name.charAt(0).toUpperCase()}${name.slice(1).replace(/_/g, " ")} must be a positive integer`)
		.openapi({ param: { name, in: "path" }, example: "1" });
}

/** KC7 usernames: 3–32 of [A-Za-z0-9_.-], not all digits (those are ids), not "me". */
export const UsernameField = z
	.string()
	.superRefine((value, ctx) => {
		const problem = usernameProblem(value);
		if (problem) ctx.addIssue({ code: "custom", message: problem });
	})
	.openapi({
		example: "new_trainee",
		pattern: "^[A-Za-z0-9_.-]{3,32}$",
		description: "3–32 of A–Z a–z 0–9 _ . -, not all digits, not 'me'",
	});

/** Human text (names, titles): trimmed, bounded, no control, bidi or invisible characters (multi-line: see text.ts). */
export function plainText(max: number, options: { min?: number; multiline?: boolean } = {}) {
	const forbidden = options.multiline ? CONTROL_OR_BIDI_EXCEPT_NEWLINES : CONTROL_BIDI_OR_INVISIBLE;
	return z
		.string()
		.trim()
		.min(options.min ?? 1)
		.max(max)
		.refine((value) => !forbidden.test(value), "must not contain control, bidirectional or invisible characters");
}

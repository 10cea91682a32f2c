import { z } from "@hono/zod-openapi";
import { ROLES } from "../db/schema.ts";

/** Schemas more than one resource returns or accepts. */

export const RoleSchema = z.enum(ROLES).openapi("Role");

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
export const NewPasswordField = z
	.string()
	.refine((p) => [...p].length >= 8, "Password must be at least 8 characters")
	.refine((p) => [...p].length <= 256, "Password must be at most 256 characters")
	.openapi({ description: "8 to 256 Unicode code points, not equal to the email", example: "a-long-new-passphrase" });

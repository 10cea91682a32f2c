import { z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { type AuthEnv, bearerAuth } from "../../../middleware/auth.ts";
import { carriesFile, jsonBodyParser, multipartOrJsonBodyParser } from "../../../middleware/body-parsers.ts";
import { rateLimit } from "../../../middleware/rate-limit.ts";
import { replicaReads } from "../../../middleware/request-context.ts";
import { MAX_IMAGE_BYTES } from "../../../services/profile-images.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import {
	IldUserSchema,
	LoginPasswordField,
	MessageSchema,
	NewPasswordField,
	plainText,
	UsernameField,
} from "../../shared/schemas.ts";

const tags = ["ILD: user"];

export const ownProfile = defineRoute({
	method: "get",
	path: "/user/profile",
	operationId: "ildGetOwnProfile",
	tags,
	summary: "The signed-in user's own user object",
	description: "The ILD user object of the account the access token belongs to (`Cache-Control: no-store`).",
	middleware: [bearerAuth()],
	responses: {
		200: jsonContent(IldUserSchema, "The user"),
		...errorResponses(401),
	},
});

export const changePassword = defineRoute({
	method: "put",
	path: "/user/changepassword",
	operationId: "ildChangePassword",
	tags,
	summary: "Change the password",
	description:
		"Revokes every other session of the user; the calling session stays. Wrong current passwords count toward the account's login limit (429).",
	middleware: [bearerAuth(), jsonBodyParser()],
	request: jsonBody(z.strictObject({ currentPassword: LoginPasswordField, newPassword: NewPasswordField })),
	responses: {
		200: jsonContent(MessageSchema, "Password changed"),
		...errorResponses(...JSON_BODY_ERRORS, 401, 429),
	},
});

// After authentication and parsing (a file part must be seen to count): one hit per upload, per user.
const uploadsPerUser = rateLimit<AuthEnv>("uploadUser", (c) => `user:${c.get("auth").userId}`);
const uploadLimit = createMiddleware<AuthEnv>(async (c, next) =>
	(await carriesFile(c)) ? uploadsPerUser(c, next) : next(),
);

const NameField = plainText(100);
const ProfileText = {
	firstName: NameField.optional(),
	lastName: NameField.optional(),
	username: UsernameField.optional(),
};

export const updateProfile = defineRoute({
	method: "put",
	path: "/user/profile",
	operationId: "ildUpdateProfile",
	tags,
	summary: "Update the own profile (text fields and/or image)",
	description:
		"`multipart/form-data` with `firstName`, `lastName`, `username` and the file `profileImage`, or JSON for the text fields. " +
		"Other fields (`role`, `email`, `id`, …) are rejected. The image: at most 5 MiB (413), JPEG, PNG, WebP or GIF decided " +
		"by its bytes (415 otherwise); it is stored under a new random key and the previous image is deleted after the user " +
		"row points at the new one. A taken username is 409. Uploads (multipart requests carrying a file) are limited " +
		"per user, by default to 30 per rolling hour (429 with Retry-After and RateLimit-* headers); updates without a " +
		"file, JSON or multipart, are not counted.",
	middleware: [bearerAuth(), multipartOrJsonBodyParser(MAX_IMAGE_BYTES + 64 * 1024), uploadLimit],
	request: {
		body: {
			content: {
				"application/json": { schema: z.strictObject(ProfileText) },
				"multipart/form-data": {
					schema: z.strictObject({
						...ProfileText,
						profileImage: z
							.instanceof(File, { message: "Profile image must be a file" })
							.optional()
							.openapi({ type: "string", format: "binary" }),
					}),
				},
			},
		},
	},
	responses: {
		200: jsonContent(IldUserSchema, "The updated user"),
		...errorResponses(400, 401, 409, 413, 415, 429),
	},
});

export const publicProfile = defineRoute({
	method: "get",
	path: "/user/profile/{userId}",
	operationId: "ildGetPublicProfile",
	tags,
	summary: "A user's public profile",
	description: "No authentication. Unknown or non-numeric ids: 404.",
	// Anonymous and public: any D1 replica may answer (or one as fresh as the client's bookmark).
	middleware: [replicaReads],
	request: {
		params: z.object({
			userId: z
				.string()
				.max(32)
				.openapi({ param: { name: "userId", in: "path" }, example: "4" }),
		}),
	},
	responses: {
		200: jsonContent(
			z
				.object({
					id: z.number().int(),
					firstName: z.string(),
					lastName: z.string(),
					profileImage: z.string().nullable(),
				})
				.openapi("PublicProfile"),
			"The public profile",
		),
		...errorResponses(404),
	},
});

export const streamImage = defineRoute({
	method: "get",
	path: "/user/profile/stream/{key}",
	operationId: "ildStreamProfileImage",
	tags,
	summary: "A profile image's bytes",
	description:
		"With its stored `Content-Type`, `ETag`, `Cache-Control: private` (keys are immutable) and `nosniff`. " +
		"Conditional requests (RFC 9110): `If-Match` listing entity tags none of which is the current ETag (strong " +
		"comparison) gives 412; else `If-None-Match` that is `*` or lists the current ETag (weak comparison, `W/` " +
		"ignored) gives 304 and no body. A malformed conditional header is ignored. Unknown keys: 404.",
	middleware: [bearerAuth()],
	request: {
		params: z.object({
			key: z
				.string()
				.max(256)
				.openapi({ param: { name: "key", in: "path" } }),
		}),
	},
	responses: {
		200: {
			description: "The image",
			content: { "image/*": { schema: z.string().openapi({ type: "string", format: "binary" }) } },
		},
		304: { description: "Not modified" },
		...errorResponses(401, 404, 412),
	},
});

export const completeTutorial = defineRoute({
	method: "put",
	path: "/user/tutorial",
	operationId: "ildCompleteTutorial",
	tags,
	summary: "Mark the tutorial completed",
	description: "Idempotent: the first completion time is kept.",
	middleware: [bearerAuth()],
	responses: {
		200: jsonContent(IldUserSchema, "The user, `tutorialCompleted: true`"),
		...errorResponses(401),
	},
});

export const joinCommunity = defineRoute({
	method: "patch",
	path: "/user/community/join/{communityId}",
	operationId: "ildJoinCommunity",
	tags,
	summary: "Join a community",
	description: "Idempotent. The user's `categories` are recomputed in the same transaction.",
	middleware: [bearerAuth()],
	request: {
		params: z.object({
			communityId: z
				.string()
				.max(32)
				.openapi({ param: { name: "communityId", in: "path" }, example: "1" }),
		}),
	},
	responses: {
		200: jsonContent(IldUserSchema, "The user, including the community"),
		...errorResponses(401, 404),
	},
});

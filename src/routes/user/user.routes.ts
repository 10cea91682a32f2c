import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../lib/openapi.ts";
import { bearerAuth } from "../../middleware/auth.ts";
import { jsonBodyParser } from "../../middleware/json-body.ts";
import { IldUserSchema, LoginPasswordField, MessageSchema, NewPasswordField } from "../schemas.ts";

const tags = ["ILD: user"];

export const ownProfile = createRoute({
	method: "get",
	path: "/user/profile",
	operationId: "ildGetOwnProfile",
	tags,
	summary: "The signed-in user's own user object",
	security: bearerSecurity,
	middleware: [bearerAuth()],
	responses: {
		200: jsonContent(IldUserSchema, "The user"),
		...errorResponses(401),
	},
});

export const changePassword = createRoute({
	method: "put",
	path: "/user/changepassword",
	operationId: "ildChangePassword",
	tags,
	summary: "Change the password",
	description:
		"Revokes every other session of the user; the calling session stays. Wrong current passwords count toward the account's login limit (429).",
	security: bearerSecurity,
	middleware: [bearerAuth(), jsonBodyParser()],
	request: jsonBody(z.strictObject({ currentPassword: LoginPasswordField, newPassword: NewPasswordField })),
	responses: {
		200: jsonContent(MessageSchema, "Password changed"),
		...errorResponses(...JSON_BODY_ERRORS, 401, 429),
	},
});

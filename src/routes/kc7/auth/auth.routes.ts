import { z } from "@hono/zod-openapi";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { COOKIE_ENDPOINT_RULES, cookieOriginGuard } from "../../../middleware/origin-guard.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import { LoginPasswordField } from "../../shared/schemas.ts";

const tags = ["KC7: auth"];

export const AccessTokenSchema = z
	.object({ access_token: z.string().openapi({ description: "ES256 access token (JWT, typ at+jwt), 15 minutes" }) })
	.openapi("Kc7AccessToken");

export const authenticate = defineRoute({
	method: "post",
	path: "/api/auth",
	operationId: "kc7Authenticate",
	"x-session": "opens",
	tags,
	summary: "Sign in with username (or email) and password",
	description:
		"Returns the access token and sets the `refresh_token` cookie. Shares the per-account failed-login limit with POST /sign/login. " +
		'A wrong password is 401 "Invalid credentials"; a right one for an account whose email is not verified (when verification ' +
		'is required, as for POST /sign/login) is 403 {"message": "Email not verified"}; a banned account\'s right password is ' +
		'403 {"message": "Account disabled"}. A sign-in from a device not seen in 90 days mails a "New sign-in" notice.',
	middleware: [jsonBodyParser()],
	request: jsonBody(
		z.strictObject({
			username: z.string().trim().min(1).max(254).openapi({ example: "user", description: "Username or email" }),
			password: LoginPasswordField,
		}),
	),
	responses: {
		200: jsonContent(AccessTokenSchema, "Signed in"),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403, 429),
	},
});

export const refreshToken = defineRoute({
	method: "post",
	path: "/auth/refresh-token",
	operationId: "kc7RefreshToken",
	"x-session": "continues",
	tags,
	summary: "New access token from the refresh cookie",
	description: `Rotates the cookie; same rotation, grace and reuse rules as GET /sign/refresh. ${COOKIE_ENDPOINT_RULES}`,
	middleware: [cookieOriginGuard],
	responses: {
		200: jsonContent(AccessTokenSchema, "Refreshed"),
		...errorResponses(401, 403),
	},
});

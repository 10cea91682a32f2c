import { z } from "@hono/zod-openapi";
import { clientIp, networkKey } from "../../../lib/rate-limit.ts";
import { bearerAuth, optionalBearerAuth } from "../../../middleware/auth.ts";
import { jsonBodyParser } from "../../../middleware/body-parsers.ts";
import { COOKIE_ENDPOINT_RULES, cookieOriginGuard } from "../../../middleware/origin-guard.ts";
import { rateLimit } from "../../../middleware/rate-limit.ts";
import type { AppEnv } from "../../../types.ts";
import { defineRoute, errorResponses, JSON_BODY_ERRORS, jsonBody, jsonContent } from "../../shared/openapi.ts";
import {
	EmailField,
	IldUserSchema,
	LoginPasswordField,
	MessageSchema,
	NewPasswordField,
	OneTimeTokenField,
	plainText,
} from "../../shared/schemas.ts";

const tags = ["ILD: sign"];

const TokenSchema = z
	.object({
		token: z.string().openapi({ description: "ES256 access token (JWT, typ at+jwt)" }),
		expiresIn: z.number().int().openapi({ example: 900 }),
	})
	.openapi("IldToken");

export const login = defineRoute({
	method: "post",
	path: "/sign/login",
	operationId: "ildLogin",
	"x-session": "opens",
	tags,
	summary: "Sign in with email and password",
	description:
		"Returns an access token and the user, and sets the `refresh_token` cookie. Unknown email and wrong password give the same 401. " +
		"Failed attempts are limited per account (10 per 15 minutes) and per IP; while limited, every attempt gets 429. " +
		'An unverified email (when required) is 403 "Email not verified", a banned account 403 "Account disabled" — both only ' +
		'after the right password. A sign-in from a device not seen in 90 days mails a "New sign-in" notice with a ' +
		'"This wasn\'t me" link (POST /sign/not-me).',
	middleware: [jsonBodyParser()],
	request: jsonBody(z.strictObject({ email: EmailField, password: LoginPasswordField })),
	responses: {
		200: jsonContent(TokenSchema.extend({ user: IldUserSchema }).openapi("IldLogin"), "Signed in"),
		...errorResponses(...JSON_BODY_ERRORS, 401, 403, 429),
	},
});

export const register = defineRoute({
	method: "post",
	path: "/sign/register",
	operationId: "ildRegister",
	tags,
	summary: "Create an account",
	description:
		"Creates the user and sends a verification email (24 hours, single use). Limited to 60 registrations per hour per IP (malformed attempts count too).",
	middleware: [rateLimit<AppEnv>("registerIp", (c) => networkKey(clientIp(c.req.raw.headers))), jsonBodyParser()],
	request: jsonBody(
		z.strictObject({
			email: EmailField,
			password: NewPasswordField,
			firstName: plainText(100),
			lastName: plainText(100),
		}),
	),
	responses: {
		201: jsonContent(IldUserSchema, "Created"),
		...errorResponses(...JSON_BODY_ERRORS, 409, 429),
	},
});

export const check = defineRoute({
	method: "get",
	path: "/sign/check",
	operationId: "ildCheck",
	tags,
	summary: "Check the access token",
	description:
		"Decided from the access token alone (no database read): a token stays valid until it expires, even after logout.",
	middleware: [bearerAuth({ liveness: false })],
	responses: {
		200: jsonContent(
			z
				.object({
					authenticated: z.literal(true),
					userId: z.number().int(),
					roles: z.array(z.string()),
					expiresAt: z.string().openapi({ format: "date-time" }),
				})
				.openapi("IldCheck"),
			"The token is valid",
		),
		...errorResponses(401),
	},
});

export const refresh = defineRoute({
	method: "get",
	path: "/sign/refresh",
	operationId: "ildRefresh",
	"x-session": "continues",
	tags,
	summary: "New access token from the refresh cookie",
	description:
		"Rotates the refresh cookie. The token rotated less than 10 seconds ago (a second tab) gets a new access token without a cookie; " +
		"an older token revokes the session. " +
		COOKIE_ENDPOINT_RULES,
	middleware: [cookieOriginGuard],
	responses: {
		200: jsonContent(TokenSchema, "Refreshed"),
		...errorResponses(401, 403),
	},
});

export const logout = defineRoute({
	method: "get",
	path: "/sign/logout",
	operationId: "ildLogout",
	"x-session": "ends",
	tags,
	summary: "Sign out",
	description:
		"Revokes the session named by the Bearer token, or else the one of the refresh cookie, and clears the cookie. " +
		COOKIE_ENDPOINT_RULES,
	middleware: [cookieOriginGuard, optionalBearerAuth()],
	responses: {
		200: jsonContent(MessageSchema, "Signed out"),
		...errorResponses(401, 403),
	},
});

export const verify = defineRoute({
	method: "post",
	path: "/sign/verify",
	operationId: "ildVerifyEmail",
	tags,
	summary: "Verify the email address",
	description:
		"Consumes the verification token mailed at registration (valid 24 hours, single use) and marks the email " +
		'verified. An unknown, used or expired token is 400 `"Invalid or expired token"`.',
	middleware: [jsonBodyParser()],
	request: jsonBody(z.strictObject({ token: OneTimeTokenField })),
	responses: {
		200: jsonContent(MessageSchema, "Email verified"),
		...errorResponses(...JSON_BODY_ERRORS),
	},
});

export const requestReset = defineRoute({
	method: "post",
	path: "/sign/reset",
	operationId: "ildRequestPasswordReset",
	tags,
	summary: "Ask for a password reset mail",
	description:
		"Always the same 200 whether or not the account exists. Limited to 3 mails per hour per address (existing or not) " +
		"and 30 requests per hour per IP network (an IPv4 address, or an IPv6 /64); a request over either limit counts toward neither.",
	middleware: [jsonBodyParser()],
	request: jsonBody(z.strictObject({ email: EmailField })),
	responses: {
		200: jsonContent(MessageSchema, "Accepted"),
		...errorResponses(...JSON_BODY_ERRORS, 429),
	},
});

export const completeReset = defineRoute({
	method: "post",
	path: "/sign/reset/{token}",
	operationId: "ildResetPassword",
	tags,
	summary: "Set a new password with a reset token",
	description:
		"Marks the email verified and revokes every session. A rejected password (400) does not use up the token.",
	middleware: [jsonBodyParser()],
	request: {
		params: z.object({ token: OneTimeTokenField }),
		...jsonBody(z.strictObject({ password: NewPasswordField })),
	},
	responses: {
		200: jsonContent(MessageSchema, "Password changed"),
		...errorResponses(...JSON_BODY_ERRORS),
	},
});

export const notMe = defineRoute({
	method: "post",
	path: "/sign/not-me",
	operationId: "ildNotMe",
	tags,
	summary: '"This wasn\'t me" (from a New sign-in mail)',
	description:
		"Ends exactly the session the notice was about and mails a password-reset link. The token is single use and " +
		'lives 24 hours; an unknown, used or expired one is 400 "Invalid or expired token".',
	middleware: [jsonBodyParser()],
	request: jsonBody(z.strictObject({ token: OneTimeTokenField })),
	responses: {
		200: jsonContent(z.object({}).openapi("Empty"), "Done: that session is ended and a reset mail is on its way"),
		...errorResponses(...JSON_BODY_ERRORS),
	},
});

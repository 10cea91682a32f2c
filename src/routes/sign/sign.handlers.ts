import type { RouteHandler } from "@hono/zod-openapi";
import { clearRefreshCookie, noStore, readRefreshCookie } from "../../lib/cookies.ts";
import { ApiError } from "../../lib/errors.ts";
import { ACCESS_TOKEN_TTL_SECONDS, verifyAccessToken } from "../../lib/jwt.ts";
import { clientIp } from "../../lib/rate-limit.ts";
import * as auth from "../../services/auth.ts";
import { depsOf } from "../../services/deps.ts";
import { toIldUser } from "../../services/users.ts";
import type { AppEnv } from "../../types.ts";
import { refreshFromCookie, startSession } from "../session-responses.ts";
import type * as routes from "./sign.routes.ts";

const INVALID_LOGIN = "Invalid email or password";
const INVALID_TOKEN = "Invalid or expired token";

export const login: RouteHandler<typeof routes.login, AppEnv> = async (c) => {
	const { email, password } = c.req.valid("json");
	const result = await auth.loginWithPassword(depsOf(c), {
		identifier: email,
		by: "email",
		password,
		ip: clientIp(c.req.raw.headers),
		userAgent: c.req.header("User-Agent"),
	});
	if (!result.ok) {
		throw result.reason === "unverified" ? new ApiError(403, "Email not verified") : new ApiError(401, INVALID_LOGIN);
	}
	const { signedIn } = result;
	startSession(c, signedIn);
	return c.json(
		{ token: signedIn.accessToken, expiresIn: ACCESS_TOKEN_TTL_SECONDS, user: toIldUser(signedIn.user) },
		200,
	);
};

export const register: RouteHandler<typeof routes.register, AppEnv> = async (c) => {
	const input = c.req.valid("json");
	const user = await auth.register(depsOf(c), input);
	return c.json(toIldUser(user), 201);
};

export const check: RouteHandler<typeof routes.check, AppEnv> = (c) => {
	const { userId, roles, expiresAt } = c.var.auth;
	noStore(c);
	return c.json(
		{ authenticated: true as const, userId, roles, expiresAt: new Date(expiresAt * 1000).toISOString() },
		200,
	);
};

export const refresh: RouteHandler<typeof routes.refresh, AppEnv> = async (c) => {
	const token = await refreshFromCookie(c);
	return c.json({ token, expiresIn: ACCESS_TOKEN_TTL_SECONDS }, 200);
};

export const logout: RouteHandler<typeof routes.logout, AppEnv> = async (c) => {
	const bearer = c.req.header("Authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
	const claims = bearer ? await verifyAccessToken(c.env.JWT_PRIVATE_KEYS, c.var.config, bearer) : null;
	const signedOut = await auth.logout(depsOf(c), { sessionId: claims?.sessionId, refreshToken: readRefreshCookie(c) });
	clearRefreshCookie(c);
	noStore(c);
	if (!signedOut) throw new ApiError(401, "Authentication required");
	return c.json({ message: "Signed out" }, 200);
};

export const verify: RouteHandler<typeof routes.verify, AppEnv> = async (c) => {
	const { token } = c.req.valid("json");
	if (!(await auth.verifyEmail(depsOf(c), token))) throw new ApiError(400, INVALID_TOKEN);
	return c.json({ message: "Email verified" }, 200);
};

export const requestReset: RouteHandler<typeof routes.requestReset, AppEnv> = async (c) => {
	const { email } = c.req.valid("json");
	await auth.requestPasswordReset(depsOf(c), email, clientIp(c.req.raw.headers));
	return c.json({ message: "If an account exists for this email, a reset link has been sent" }, 200);
};

export const completeReset: RouteHandler<typeof routes.completeReset, AppEnv> = async (c) => {
	const { token } = c.req.valid("param");
	const { password } = c.req.valid("json");
	if ((await auth.resetPassword(depsOf(c), token, password)) !== "ok") throw new ApiError(400, INVALID_TOKEN);
	return c.json({ message: "Password changed" }, 200);
};

import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import { ACCESS_TOKEN_TTL_SECONDS } from "../../../lib/jwt.ts";
import { clientIp } from "../../../lib/rate-limit.ts";
import { iso } from "../../../lib/time.ts";
import type { AuthEnv, OptionalAuthEnv } from "../../../middleware/auth.ts";
import * as auth from "../../../services/auth.ts";
import type { AppEnv } from "../../../types.ts";
import { clearRefreshCookie, noStore, readRefreshCookie } from "../../shared/cookies.ts";
import { refreshFromCookie, signInWithPassword, startSession } from "../../shared/session.ts";
import { ILD } from "../messages.ts";
import { toIldUser } from "../presenters.ts";
import type * as routes from "./sign.routes.ts";

export const login: RouteHandler<typeof routes.login, AppEnv> = async (c) => {
	const { email, password } = c.req.valid("json");
	const result = await signInWithPassword(c, { identifier: email, by: "email", password });
	if (!result.ok) {
		if (result.reason === "invalid") throw new ApiError(401, ILD.invalidLogin);
		throw new ApiError(403, result.reason === "disabled" ? ILD.accountDisabled : ILD.emailNotVerified);
	}
	const { signedIn } = result;
	startSession(c, signedIn);
	return c.json(
		{ token: signedIn.accessToken, expiresIn: ACCESS_TOKEN_TTL_SECONDS, user: toIldUser(signedIn.user) },
		200,
	);
};

export const register: RouteHandler<typeof routes.register, AppEnv> = async (c) => {
	const user = await auth.register(c.get("deps"), c.req.valid("json"));
	return c.json(toIldUser(user), 201);
};

export const check: RouteHandler<typeof routes.check, AuthEnv> = (c) => {
	const { userId, roles, expiresAt } = c.get("auth");
	noStore(c);
	return c.json({ authenticated: true as const, userId, roles: [...roles], expiresAt: iso(expiresAt * 1000) }, 200);
};

export const refresh: RouteHandler<typeof routes.refresh, AppEnv> = async (c) => {
	const token = await refreshFromCookie(c);
	return c.json({ token, expiresIn: ACCESS_TOKEN_TTL_SECONDS }, 200);
};

export const logout: RouteHandler<typeof routes.logout, OptionalAuthEnv> = async (c) => {
	const sessionId = c.get("auth")?.sessionId;
	const signedOut = await auth.logout(c.get("deps"), { sessionId, refreshToken: readRefreshCookie(c) });
	noStore(c);
	// A valid token whose session already ended is refused like on every Bearer route (revoked means revoked),
	// and the cookie — possibly another, live session's — is left alone.
	if (sessionId && !signedOut) throw new ApiError(401, ILD.invalidOrExpiredToken);
	clearRefreshCookie(c);
	if (!signedOut) throw new ApiError(401, ILD.authenticationRequired);
	return c.json({ message: ILD.signedOut }, 200);
};

export const verify: RouteHandler<typeof routes.verify, AppEnv> = async (c) => {
	if (!(await auth.verifyEmail(c.get("deps"), c.req.valid("json").token)))
		throw new ApiError(400, ILD.invalidOrExpiredToken);
	return c.json({ message: ILD.emailVerified }, 200);
};

export const requestReset: RouteHandler<typeof routes.requestReset, AppEnv> = async (c) => {
	await auth.requestPasswordReset(c.get("deps"), c.req.valid("json").email, clientIp(c.req.raw.headers));
	return c.json({ message: ILD.resetRequested }, 200);
};

export const completeReset: RouteHandler<typeof routes.completeReset, AppEnv> = async (c) => {
	const { token } = c.req.valid("param");
	const { password } = c.req.valid("json");
	if ((await auth.resetPassword(c.get("deps"), token, password)) !== "ok")
		throw new ApiError(400, ILD.invalidOrExpiredToken);
	return c.json({ message: ILD.passwordChanged }, 200);
};

export const notMe: RouteHandler<typeof routes.notMe, AppEnv> = async (c) => {
	if (!(await auth.notMe(c.get("deps"), c.req.valid("json").token))) throw new ApiError(400, ILD.invalidOrExpiredToken);
	return c.json({}, 200);
};

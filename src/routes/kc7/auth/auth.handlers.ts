import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import type { AppEnv } from "../../../types.ts";
import { refreshFromCookie, signInWithPassword, startSession } from "../../shared/session.ts";
import { KC7 } from "../messages.ts";
import type * as routes from "./auth.routes.ts";

export const authenticate: RouteHandler<typeof routes.authenticate, AppEnv> = async (c) => {
	const { username, password } = c.req.valid("json");
	const result = await signInWithPassword(c, { identifier: username, by: "emailOrUsername", password });
	if (!result.ok) {
		if (result.reason === "invalid") throw new ApiError(401, KC7.invalidCredentials);
		throw new ApiError(403, result.reason === "disabled" ? KC7.accountDisabled : KC7.emailNotVerified);
	}
	startSession(c, result.signedIn);
	return c.json({ access_token: result.signedIn.accessToken }, 200);
};

export const refreshToken: RouteHandler<typeof routes.refreshToken, AppEnv> = async (c) => {
	return c.json({ access_token: await refreshFromCookie(c) }, 200);
};

import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../../lib/errors.ts";
import { allowedRedirect, safeRedirect } from "../../../lib/redirects.ts";
import type { PartnerEnv } from "../../../middleware/integration-key.ts";
import { createLoginLink, redeemLoginToken } from "../../../services/login-links.ts";
import type { AppEnv } from "../../../types.ts";
import { noStore } from "../../shared/cookies.ts";
import { startSession } from "../../shared/session.ts";
import { KC7 } from "../messages.ts";
import type * as routes from "./login-links.routes.ts";

export const create: RouteHandler<typeof routes.create, PartnerEnv> = async (c) => {
	const userId = Number(c.req.valid("param").user_id);
	const { next } = c.req.valid("json");
	// Refused here, not silently replaced at redemption: the partner learns its link would not go where it meant.
	if (next !== undefined && !allowedRedirect(c.get("config"), next)) {
		throw new ApiError(400, KC7.nextNotAllowed, { issues: [{ path: "next", message: KC7.nextNotAllowed }] });
	}
	const result = await createLoginLink(c.get("deps"), {
		caller: c.get("auth"),
		key: c.get("integrationKey"),
		targetUserId: userId,
		next,
	});
	if (!result.ok)
		throw result.reason === "not-found" ? new ApiError(404, KC7.userNotFound) : new ApiError(403, KC7.unauthorized);
	noStore(c);
	return c.json({ login_link: result.link }, 200);
};

async function redeem<E extends AppEnv>(c: Context<E>, token: string | undefined) {
	const result = token ? await redeemLoginToken(c.get("deps"), token) : null;
	if (!result?.ok) throw new ApiError(401, KC7.invalidToken);
	startSession(c, result.signedIn);
	return result.signedIn;
}

// HEAD and prefetches never reach these handlers: answerPeeks (in the routes) answers them first.
export const magicLink: RouteHandler<typeof routes.magicLink, AppEnv> = async (c) => {
	const { token, next } = c.req.valid("query");
	await redeem(c, token);
	return c.redirect(safeRedirect(c.get("config"), next), 302);
};

export const tokenLogin: RouteHandler<typeof routes.tokenLogin, AppEnv> = async (c) => {
	const signedIn = await redeem(c, c.req.valid("query").token);
	return c.json({ access_token: signedIn.accessToken }, 200);
};

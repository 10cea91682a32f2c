import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import { noStore } from "../../lib/cookies.ts";
import { ApiError } from "../../lib/errors.ts";
import { allowedRedirect, safeRedirect } from "../../lib/redirects.ts";
import { depsOf } from "../../services/deps.ts";
import { createLoginLink, redeemLoginToken } from "../../services/login-links.ts";
import type { AppEnv } from "../../types.ts";
import { startSession } from "../session-responses.ts";
import type * as routes from "./login-links.routes.ts";

export const create: RouteHandler<typeof routes.create, AppEnv> = async (c) => {
	const userId = Number(c.req.valid("param").user_id);
	const { next } = c.req.valid("json");
	// Refused here, not silently replaced at redemption: the partner learns its link would not go where it meant.
	if (next !== undefined && !allowedRedirect(c.var.config, next)) {
		const message = "next must be a path or URL on an allowed origin";
		throw new ApiError(400, message, { issues: [{ path: "next", message }] });
	}
	const result = await createLoginLink(depsOf(c), {
		caller: c.var.auth,
		key: c.var.integrationKey,
		targetUserId: userId,
		next,
	});
	if (!result.ok)
		throw result.reason === "not-found" ? new ApiError(404, "User not found") : new ApiError(403, "Unauthorized");
	noStore(c);
	return c.json({ login_link: result.link }, 200);
};

/** Link scanners and browsers' prefetchers must not burn a single-use token. */
function isPeek(c: Context<AppEnv>): boolean {
	if (c.req.method === "HEAD") return true;
	const purpose = `${c.req.header("Sec-Purpose") ?? ""} ${c.req.header("Purpose") ?? ""}`.toLowerCase();
	return purpose.includes("prefetch") || purpose.includes("prerender");
}

async function redeem(c: Context<AppEnv>, token: string | undefined) {
	const result = token ? await redeemLoginToken(depsOf(c), token, c.req.header("User-Agent")) : null;
	if (!result?.ok) throw new ApiError(401, "Invalid token");
	startSession(c, result.signedIn);
	return result.signedIn;
}

export const magicLink: RouteHandler<typeof routes.magicLink, AppEnv> = async (c) => {
	if (isPeek(c)) return c.body(null, 204);
	const { token, next } = c.req.valid("query");
	await redeem(c, token);
	return c.redirect(safeRedirect(c.var.config, next), 302);
};

export const tokenLogin: RouteHandler<typeof routes.tokenLogin, AppEnv> = async (c) => {
	if (isPeek(c)) return c.body(null, 204);
	const signedIn = await redeem(c, c.req.valid("query").token);
	return c.json({ access_token: signedIn.accessToken }, 200);
};

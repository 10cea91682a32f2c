import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import { self } from "../../../services/security-events.ts";
import { listLiveSessions, revokeSessions } from "../../../services/sessions.ts";
import { clearRefreshCookie } from "../../shared/cookies.ts";
import { ILD } from "../messages.ts";
import { toIldSession } from "../presenters.ts";
import type * as routes from "./sessions.routes.ts";

export const listOwn: RouteHandler<typeof routes.listOwn, AuthEnv> = async (c) => {
	const { userId, sessionId } = c.get("auth");
	const sessions = await listLiveSessions(c.get("deps"), userId);
	if (!sessions) throw new ApiError(401, ILD.invalidOrExpiredToken);
	return c.json(
		sessions.map((s) => toIldSession(s, sessionId)),
		200,
	);
};

export const revokeOne: RouteHandler<typeof routes.revokeOne, AuthEnv> = async (c) => {
	const auth = c.get("auth");
	const { sessionId } = c.req.valid("param");
	if ((await revokeSessions(c.get("deps"), auth.userId, { sessionId }, self(auth.userId))) === 0)
		throw new ApiError(404, ILD.sessionNotFound);
	// Its own session: like a logout, the refresh cookie goes too.
	if (sessionId === auth.sessionId) clearRefreshCookie(c);
	return c.body(null, 204);
};

export const revokeOthers: RouteHandler<typeof routes.revokeOthers, AuthEnv> = async (c) => {
	const { userId, sessionId } = c.get("auth");
	return c.json(
		{ revoked: await revokeSessions(c.get("deps"), userId, { exceptSessionId: sessionId }, self(userId)) },
		200,
	);
};

export const listForUser: RouteHandler<typeof routes.listForUser, AuthEnv> = async (c) => {
	const sessions = await listLiveSessions(c.get("deps"), Number(c.req.valid("param").userId));
	if (!sessions) throw new ApiError(404, ILD.userNotFound);
	return c.json(
		sessions.map((s) => toIldSession(s)),
		200,
	);
};

export const revokeForUser: RouteHandler<typeof routes.revokeForUser, AuthEnv> = async (c) => {
	const userId = Number(c.req.valid("param").userId);
	// The existence check rides along: listing is one round trip, and an unknown user must be 404, not 0.
	if (!(await listLiveSessions(c.get("deps"), userId))) throw new ApiError(404, ILD.userNotFound);
	const revoked = await revokeSessions(c.get("deps"), userId, "all", { type: "admin", id: c.get("auth").userId });
	return c.json({ revoked }, 200);
};

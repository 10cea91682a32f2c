import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import { parseIsoUtc } from "../../../lib/time.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import { deleteUserNow } from "../../../services/account-deletion.ts";
import { banUser, unbanUser } from "../../../services/bans.ts";
import { reindexCategories } from "../../../services/communities.ts";
import {
	grantPeriod as grant,
	listPeriods as periodsOf,
	recalculateSubscription,
} from "../../../services/subscriptions.ts";
import { accountStats, findUserById, listUsers } from "../../../services/users.ts";
import { ILD } from "../messages.ts";
import { toIldBan, toIldPeriod, toIldSubscription, toIldUser } from "../presenters.ts";
import type * as routes from "./user-admin.routes.ts";

export const list: RouteHandler<typeof routes.list, AuthEnv> = async (c) => {
	const query = c.req.valid("query");
	const limit = Math.min(200, Number(query.limit ?? 50));
	// Past the last user whatever its size (a 30-digit offset reads as a number beyond any row count).
	const offset = Math.min(Number.MAX_SAFE_INTEGER, Number(query.offset ?? 0));
	const { total, users } = await listUsers(c.get("deps"), { limit, offset, q: query.q || undefined });
	c.header("X-Total-Count", String(total));
	return c.json(users.map(toIldUser), 200);
};

export const get: RouteHandler<typeof routes.get, AuthEnv> = async (c) => {
	const user = await findUserById(c.get("deps"), Number(c.req.valid("param").userId));
	if (!user) throw new ApiError(404, ILD.userNotFound);
	return c.json(toIldUser(user), 200);
};

export const reindex: RouteHandler<typeof routes.reindex, AuthEnv> = async (c) => {
	const reindexed = await reindexCategories(c.get("deps"), Number(c.req.valid("param").userId));
	if (!reindexed) throw new ApiError(404, ILD.userNotFound);
	return c.json(reindexed, 200);
};

export const recalculate: RouteHandler<typeof routes.recalculate, AuthEnv> = async (c) => {
	const id = Number(c.req.valid("param").userId);
	const subscription = await recalculateSubscription(c.get("deps"), id);
	if (!subscription) throw new ApiError(404, ILD.userNotFound);
	return c.json({ id, subscription: toIldSubscription(subscription) }, 200);
};

export const grantPeriod: RouteHandler<typeof routes.grantPeriod, AuthEnv> = async (c) => {
	const body = c.req.valid("json");
	const granted = await grant(c.get("deps"), Number(c.req.valid("param").userId), {
		plan: body.plan,
		startsAt: Date.parse(body.startsAt),
		endsAt: Date.parse(body.endsAt),
		source: body.source,
	});
	if (!granted) throw new ApiError(404, ILD.userNotFound);
	return c.json({ period: toIldPeriod(granted.period), subscription: toIldSubscription(granted.subscription) }, 201);
};

export const listPeriods: RouteHandler<typeof routes.listPeriods, AuthEnv> = async (c) => {
	const periods = await periodsOf(c.get("deps"), Number(c.req.valid("param").userId));
	if (!periods) throw new ApiError(404, ILD.userNotFound);
	return c.json(periods.map(toIldPeriod), 200);
};

export const ban: RouteHandler<typeof routes.ban, AuthEnv> = async (c) => {
	const userId = Number(c.req.valid("param").userId);
	const { reason, until } = c.req.valid("json");
	if (userId === c.get("auth").userId) throw new ApiError(403, ILD.cannotBanSelf);
	const untilMs = until ? parseIsoUtc(until) : null;
	if (untilMs !== null && untilMs <= Date.now())
		throw new ApiError(400, ILD.untilInPast, { issues: [{ path: "until", message: ILD.untilInPast }] });
	const user = await banUser(c.get("deps"), c.get("auth").userId, userId, { reason: reason ?? null, until: untilMs });
	if (!user) throw new ApiError(404, ILD.userNotFound);
	return c.json({ id: user.id, ...toIldBan(user) }, 200);
};

export const unban: RouteHandler<typeof routes.unban, AuthEnv> = async (c) => {
	const user = await unbanUser(c.get("deps"), c.get("auth").userId, Number(c.req.valid("param").userId));
	if (!user) throw new ApiError(404, ILD.userNotFound);
	return c.json({ id: user.id, ...toIldBan(user) }, 200);
};

export const stats: RouteHandler<typeof routes.stats, AuthEnv> = async (c) =>
	c.json(await accountStats(c.get("deps")), 200);

export const remove: RouteHandler<typeof routes.remove, AuthEnv> = async (c) => {
	const userId = Number(c.req.valid("param").userId);
	if (userId === c.get("auth").userId) throw new ApiError(403, ILD.cannotDeleteSelf);
	if (!(await deleteUserNow(c.get("deps"), userId, c.get("auth").userId))) throw new ApiError(404, ILD.userNotFound);
	return c.body(null, 204);
};

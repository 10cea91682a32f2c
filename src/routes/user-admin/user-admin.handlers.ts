import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { recomputeCategories } from "../../services/communities.ts";
import {
	grantPeriod as grant,
	listPeriods as periodsOf,
	recalculateSubscription,
	toIsoSubscription,
} from "../../services/subscriptions.ts";
import { findUserById, listUsers, toIldUser } from "../../services/users.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./user-admin.routes.ts";

const USER_NOT_FOUND = "User not found";
const iso = (ms: number) => new Date(ms).toISOString();
const toPeriod = (p: { id: number; plan: string; startsAt: number; endsAt: number; source: string }) => ({
	id: p.id,
	plan: p.plan,
	startsAt: iso(p.startsAt),
	endsAt: iso(p.endsAt),
	source: p.source,
});

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) => {
	const query = c.req.valid("query");
	const limit = Math.min(200, Number(query.limit ?? 50));
	const offset = Number(query.offset ?? 0);
	const { total, users } = await listUsers(c.var.db, { limit, offset, q: query.q || undefined });
	c.header("X-Total-Count", String(total));
	return c.json(users.map(toIldUser), 200);
};

export const get: RouteHandler<typeof routes.get, AppEnv> = async (c) => {
	const user = await findUserById(c.var.db, Number(c.req.valid("param").userId));
	if (!user) throw new ApiError(404, USER_NOT_FOUND);
	return c.json(toIldUser(user), 200);
};

export const reindex: RouteHandler<typeof routes.reindex, AppEnv> = async (c) => {
	const [row] = await recomputeCategories(c.var.db, Number(c.req.valid("param").userId));
	if (!row) throw new ApiError(404, USER_NOT_FOUND);
	return c.json({ id: row.id, categories: JSON.parse(row.categories) as string[] }, 200);
};

export const recalculate: RouteHandler<typeof routes.recalculate, AppEnv> = async (c) => {
	const id = Number(c.req.valid("param").userId);
	const subscription = await recalculateSubscription(c.var.db, id);
	if (!subscription) throw new ApiError(404, USER_NOT_FOUND);
	return c.json({ id, subscription: toIsoSubscription(subscription) }, 200);
};

export const grantPeriod: RouteHandler<typeof routes.grantPeriod, AppEnv> = async (c) => {
	const body = c.req.valid("json");
	const granted = await grant(c.var.db, Number(c.req.valid("param").userId), {
		plan: body.plan,
		startsAt: Date.parse(body.startsAt),
		endsAt: Date.parse(body.endsAt),
		source: body.source,
	});
	if (!granted) throw new ApiError(404, USER_NOT_FOUND);
	return c.json({ period: toPeriod(granted.period), subscription: toIsoSubscription(granted.subscription) }, 201);
};

export const listPeriods: RouteHandler<typeof routes.listPeriods, AppEnv> = async (c) => {
	const periods = await periodsOf(c.var.db, Number(c.req.valid("param").userId));
	if (!periods) throw new ApiError(404, USER_NOT_FOUND);
	return c.json(periods.map(toPeriod), 200);
};

import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { cacheableJson } from "../../lib/http-cache.ts";
import { createCommunity, listCommunities, updateCommunity } from "../../services/communities.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./communities.routes.ts";

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) => {
	const communities = (await listCommunities(c.var.db)).map(({ id, name, categories }) => ({ id, name, categories }));
	if (await cacheableJson(c, communities, 60)) return c.body(null, 304);
	return c.json(communities, 200);
};

export const create: RouteHandler<typeof routes.create, AppEnv> = async (c) =>
	c.json(await createCommunity(c.var.db, c.req.valid("json")), 201);

export const update: RouteHandler<typeof routes.update, AppEnv> = async (c) => {
	if (Object.keys(c.req.valid("json")).length === 0)
		throw new ApiError(400, "Nothing to update: give name, description or categories");
	const community = await updateCommunity(c.var.db, Number(c.req.valid("param").communityId), c.req.valid("json"));
	if (!community) throw new ApiError(404, "Community not found");
	return c.json(community, 200);
};

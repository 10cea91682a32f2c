import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import { createCommunity, listCommunities, updateCommunity } from "../../../services/communities.ts";
import type { AppEnv } from "../../../types.ts";
import { cacheableJson } from "../../shared/http-cache.ts";
import { ILD } from "../messages.ts";
import { toIldCatalogEntry } from "../presenters.ts";
import type * as routes from "./communities.routes.ts";

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) => {
	const communities = (await listCommunities(c.get("deps"))).map(toIldCatalogEntry);
	if (await cacheableJson(c, communities, 60)) return c.body(null, 304);
	return c.json(communities, 200);
};

export const create: RouteHandler<typeof routes.create, AuthEnv> = async (c) =>
	c.json(await createCommunity(c.get("deps"), c.req.valid("json")), 201);

export const update: RouteHandler<typeof routes.update, AuthEnv> = async (c) => {
	if (Object.keys(c.req.valid("json")).length === 0) throw new ApiError(400, ILD.nothingToUpdateCommunity);
	const community = await updateCommunity(c.get("deps"), Number(c.req.valid("param").communityId), c.req.valid("json"));
	if (!community) throw new ApiError(404, ILD.communityNotFound);
	return c.json(community, 200);
};

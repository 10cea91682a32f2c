import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { createIntegrationKey, listIntegrationKeys, revokeIntegrationKey } from "../../services/integration-keys.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./integration-keys.routes.ts";

export const create: RouteHandler<typeof routes.create, AppEnv> = async (c) => {
	c.header("Cache-Control", "no-store");
	const { name, owner_user_id: ownerUserId, scope } = c.req.valid("json");
	return c.json(await createIntegrationKey(c.var.db, { name, ownerUserId, scope }, c.var.auth.userId), 201);
};

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) =>
	c.json(await listIntegrationKeys(c.var.db), 200);

export const revoke: RouteHandler<typeof routes.revoke, AppEnv> = async (c) => {
	if (!(await revokeIntegrationKey(c.var.db, Number(c.req.valid("param").id)))) {
		throw new ApiError(404, "Integration key not found");
	}
	return c.body(null, 204);
};

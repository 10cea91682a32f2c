import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { createIntegrationKey, listIntegrationKeys, revokeIntegrationKey } from "../../services/integration-keys.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./integration-keys.routes.ts";

export const create: RouteHandler<typeof routes.create, AppEnv> = async (c) => {
	c.header("Cache-Control", "no-store");
	return c.json(await createIntegrationKey(c.var.db, c.req.valid("json").name, c.var.auth.userId), 201);
};

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) =>
	c.json(await listIntegrationKeys(c.var.db), 200);

export const revoke: RouteHandler<typeof routes.revoke, AppEnv> = async (c) => {
	if (!(await revokeIntegrationKey(c.var.db, Number(c.req.valid("param").id)))) {
		throw new ApiError(404, "Integration key not found");
	}
	return c.body(null, 204);
};

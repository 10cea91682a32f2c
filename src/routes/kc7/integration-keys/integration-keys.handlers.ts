import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import { createIntegrationKey, listIntegrationKeys, revokeIntegrationKey } from "../../../services/integration-keys.ts";
import { KC7 } from "../messages.ts";
import { toKc7CreatedIntegrationKey, toKc7IntegrationKey } from "../presenters.ts";
import type * as routes from "./integration-keys.routes.ts";

export const create: RouteHandler<typeof routes.create, AuthEnv> = async (c) => {
	const { name, owner_user_id: ownerUserId, scope } = c.req.valid("json");
	const created = await createIntegrationKey(c.get("deps"), { name, ownerUserId, scope }, c.get("auth").userId);
	return c.json(toKc7CreatedIntegrationKey(created), 201);
};

export const list: RouteHandler<typeof routes.list, AuthEnv> = async (c) =>
	c.json((await listIntegrationKeys(c.get("deps"))).map(toKc7IntegrationKey), 200);

export const revoke: RouteHandler<typeof routes.revoke, AuthEnv> = async (c) => {
	if (!(await revokeIntegrationKey(c.get("deps"), Number(c.req.valid("param").id), c.get("auth").userId))) {
		throw new ApiError(404, KC7.integrationKeyNotFound);
	}
	return c.body(null, 204);
};

import { createMiddleware } from "hono/factory";
import { ApiError } from "../lib/errors.ts";
import { findLiveIntegrationKey } from "../services/integration-keys.ts";
import type { AppEnv } from "../types.ts";

/** `X-Integration-Key` must be a live partner key; missing, unknown or revoked: 401 "Unauthorized". */
export const integrationKeyAuth = createMiddleware<AppEnv>(async (c, next) => {
	const key = await findLiveIntegrationKey(c.var.db, c.req.header("X-Integration-Key") ?? "");
	if (!key) throw new ApiError(401, "Unauthorized");
	c.set("integrationKey", key);
	await next();
});

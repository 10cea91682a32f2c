import { createMiddleware } from "hono/factory";
import { ApiError } from "../lib/errors.ts";
import { findUsableIntegrationKey } from "../services/integration-keys.ts";
import type { AppEnv } from "../types.ts";

/**
 * After bearerAuth: `X-Integration-Key` must be a live partner key the caller may use (a key bound
 * to an owner only with the owner's token); otherwise 401 "Unauthorized".
 */
export const integrationKeyAuth = createMiddleware<AppEnv>(async (c, next) => {
	const key = await findUsableIntegrationKey(c.var.db, c.req.header("X-Integration-Key") ?? "", c.var.auth.userId);
	if (!key) throw new ApiError(401, "Unauthorized");
	c.set("integrationKey", key);
	await next();
});

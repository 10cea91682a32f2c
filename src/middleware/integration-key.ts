import { createMiddleware } from "hono/factory";
import { ApiError } from "../lib/errors.ts";
import type { UsableIntegrationKey } from "../services/integration-keys.ts";
import { findUsableIntegrationKey } from "../services/integration-keys.ts";
import type { AuthEnv } from "./auth.ts";
import { declaresSecurity } from "./security.ts";

/** Behind integrationKeyAuth: the partner key the request presented. */
export type PartnerEnv = AuthEnv & { Variables: { integrationKey: UsableIntegrationKey } };

/**
 * After bearerAuth: `X-Integration-Key` must be a live partner key the caller may use (a key bound
 * to an owner only with the owner's token); otherwise 401 "Unauthorized".
 */
export const integrationKeyAuth = declaresSecurity(
	createMiddleware<PartnerEnv>(async (c, next) => {
		const key = await findUsableIntegrationKey(
			c.get("deps"),
			c.req.header("X-Integration-Key") ?? "",
			c.get("auth").userId,
		);
		if (!key) throw new ApiError(401, "Unauthorized");
		c.set("integrationKey", key);
		await next();
	}),
	[{ integrationKey: [] }],
);

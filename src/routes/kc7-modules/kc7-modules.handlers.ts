import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { cacheableJson } from "../../lib/http-cache.ts";
import * as modules from "../../services/modules.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./kc7-modules.routes.ts";

const NOT_FOUND: Record<"no-user" | "no-module" | "not-enrolled", string> = {
	"no-user": "User not found",
	"no-module": "Module not found",
	"not-enrolled": "User is not enrolled in this module",
};

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) => {
	const catalog = await modules.listCoreModules(c.var.db);
	if (await cacheableJson(c, catalog, 300)) return c.body(null, 304);
	return c.json(catalog, 200);
};

export const userModules: RouteHandler<typeof routes.userModules, AppEnv> = async (c) => {
	const progress = await modules.userModuleProgress(c.var.db, Number(c.req.valid("param").user_id));
	if (!progress) throw new ApiError(404, NOT_FOUND["no-user"]);
	return c.json(progress, 200);
};

export const userModule: RouteHandler<typeof routes.userModule, AppEnv> = async (c) => {
	const { user_id, module_id } = c.req.valid("param");
	const result = await modules.oneModuleProgress(c.var.db, Number(user_id), Number(module_id));
	if (result.kind !== "ok") throw new ApiError(404, NOT_FOUND[result.kind]);
	return c.json(result.progress, 200);
};

export const recordScore: RouteHandler<typeof routes.recordScore, AppEnv> = async (c) => {
	const { user_id, module_id } = c.req.valid("param");
	const { score } = c.req.valid("json");
	const result = await modules.recordScore(c.var.db, Number(user_id), Number(module_id), score);
	if (result.kind === "out-of-range") {
		const message = `Score must be between 0 and ${result.maxScore}`;
		throw new ApiError(400, message, { issues: [{ path: "score", message }] });
	}
	if (result.kind !== "ok") throw new ApiError(404, NOT_FOUND[result.kind]);
	return c.json(result.progress, 200);
};

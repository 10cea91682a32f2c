import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import * as modules from "../../../services/modules.ts";
import type { AppEnv } from "../../../types.ts";
import { cachedJsonResponse } from "../../shared/http-cache.ts";
import { KC7 } from "../messages.ts";
import { toKc7Module, toKc7ModuleRow, toKc7Progress } from "../presenters.ts";
import type * as routes from "./modules.routes.ts";

const NOT_FOUND: Record<"no-user" | "no-module" | "not-enrolled", string> = {
	"no-user": KC7.userNotFound,
	"no-module": KC7.moduleNotFound,
	"not-enrolled": KC7.notEnrolled,
};

export const list: RouteHandler<typeof routes.list, AppEnv> = async (c) => {
	// While the catalog is cached the service hands out the same rows: body and ETag are built once for them.
	const rows = await modules.listCoreModules(c.get("deps"));
	return cachedJsonResponse(c, rows, () => rows.map(toKc7Module), 300);
};

export const userModules: RouteHandler<typeof routes.userModules, AuthEnv> = async (c) => {
	const progress = await modules.userModuleProgress(c.get("deps"), Number(c.req.valid("param").user_id));
	if (!progress) throw new ApiError(404, KC7.userNotFound);
	return c.json(progress.map(toKc7ModuleRow), 200);
};

export const userModule: RouteHandler<typeof routes.userModule, AuthEnv> = async (c) => {
	const { user_id, module_id } = c.req.valid("param");
	const result = await modules.oneModuleProgress(c.get("deps"), Number(user_id), Number(module_id));
	if (result.kind !== "ok") throw new ApiError(404, NOT_FOUND[result.kind]);
	return c.json(toKc7Progress(result.progress), 200);
};

export const recordScore: RouteHandler<typeof routes.recordScore, AuthEnv> = async (c) => {
	const { user_id, module_id } = c.req.valid("param");
	const { score } = c.req.valid("json");
	const result = await modules.recordScore(c.get("deps"), Number(user_id), Number(module_id), score);
	if (result.kind === "out-of-range") {
		const message = `Score must be between 0 and ${result.maxScore}`;
		throw new ApiError(400, message, { issues: [{ path: "score", message }] });
	}
	if (result.kind !== "ok") throw new ApiError(404, NOT_FOUND[result.kind]);
	return c.json(toKc7Progress(result.progress), 200);
};

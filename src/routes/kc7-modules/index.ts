import { createRouter } from "../../lib/openapi.ts";
import * as handlers from "./kc7-modules.handlers.ts";
import * as routes from "./kc7-modules.routes.ts";

export const kc7ModulesRouter = createRouter()
	.openapi(routes.list, handlers.list)
	.openapi(routes.userModules, handlers.userModules)
	.openapi(routes.userModule, handlers.userModule)
	.openapi(routes.recordScore, handlers.recordScore);

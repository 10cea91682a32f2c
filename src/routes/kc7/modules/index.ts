import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./modules.handlers.ts";
import * as routes from "./modules.routes.ts";

export const kc7ModulesRouter = createRouter()
	.openapi(routes.list, handlers.list)
	.openapi(routes.userModules, handlers.userModules)
	.openapi(routes.userModule, handlers.userModule)
	.openapi(routes.recordScore, handlers.recordScore);

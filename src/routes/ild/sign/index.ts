import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./sign.handlers.ts";
import * as routes from "./sign.routes.ts";

export const signRouter = createRouter()
	.openapi(routes.login, handlers.login)
	.openapi(routes.register, handlers.register)
	.openapi(routes.check, handlers.check)
	.openapi(routes.refresh, handlers.refresh)
	.openapi(routes.logout, handlers.logout)
	.openapi(routes.verify, handlers.verify)
	.openapi(routes.requestReset, handlers.requestReset)
	.openapi(routes.completeReset, handlers.completeReset)
	.openapi(routes.notMe, handlers.notMe);

import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./user-admin.handlers.ts";
import * as routes from "./user-admin.routes.ts";

export const userAdminRouter = createRouter()
	.openapi(routes.list, handlers.list)
	.openapi(routes.stats, handlers.stats)
	.openapi(routes.get, handlers.get)
	.openapi(routes.remove, handlers.remove)
	.openapi(routes.reindex, handlers.reindex)
	.openapi(routes.recalculate, handlers.recalculate)
	.openapi(routes.grantPeriod, handlers.grantPeriod)
	.openapi(routes.listPeriods, handlers.listPeriods)
	.openapi(routes.ban, handlers.ban)
	.openapi(routes.unban, handlers.unban);

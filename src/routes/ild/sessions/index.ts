import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./sessions.handlers.ts";
import * as routes from "./sessions.routes.ts";

export const sessionsRouter = createRouter()
	.openapi(routes.listOwn, handlers.listOwn)
	.openapi(routes.revokeOne, handlers.revokeOne)
	.openapi(routes.revokeOthers, handlers.revokeOthers)
	.openapi(routes.listForUser, handlers.listForUser)
	.openapi(routes.revokeForUser, handlers.revokeForUser);

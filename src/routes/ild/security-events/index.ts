import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./security-events.handlers.ts";
import * as routes from "./security-events.routes.ts";

export const securityEventsRouter = createRouter()
	.openapi(routes.listOwn, handlers.listOwn)
	.openapi(routes.listForUser, handlers.listForUser)
	.openapi(routes.listAll, handlers.listAll);

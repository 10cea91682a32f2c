import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./communities.handlers.ts";
import * as routes from "./communities.routes.ts";

export const communitiesRouter = createRouter()
	.openapi(routes.list, handlers.list)
	.openapi(routes.create, handlers.create)
	.openapi(routes.update, handlers.update);

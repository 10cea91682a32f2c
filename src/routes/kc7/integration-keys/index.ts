import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./integration-keys.handlers.ts";
import * as routes from "./integration-keys.routes.ts";

export const integrationKeysRouter = createRouter()
	.openapi(routes.create, handlers.create)
	.openapi(routes.list, handlers.list)
	.openapi(routes.revoke, handlers.revoke);

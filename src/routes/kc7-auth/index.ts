import { createRouter } from "../../lib/openapi.ts";
import * as handlers from "./kc7-auth.handlers.ts";
import * as routes from "./kc7-auth.routes.ts";

export const kc7AuthRouter = createRouter()
	.openapi(routes.authenticate, handlers.authenticate)
	.openapi(routes.refreshToken, handlers.refreshToken);

import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./auth.handlers.ts";
import * as routes from "./auth.routes.ts";

export const kc7AuthRouter = createRouter()
	.openapi(routes.authenticate, handlers.authenticate)
	.openapi(routes.refreshToken, handlers.refreshToken);

import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./login-links.handlers.ts";
import * as routes from "./login-links.routes.ts";

export const loginLinksRouter = createRouter()
	.openapi(routes.create, handlers.create)
	.openapi(routes.magicLink, handlers.magicLink)
	.openapi(routes.tokenLogin, handlers.tokenLogin);

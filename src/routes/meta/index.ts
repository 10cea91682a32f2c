import { createRouter } from "../shared/openapi.ts";
import * as handlers from "./meta.handlers.ts";
import * as routes from "./meta.routes.ts";

export const metaRouter = createRouter()
	.openapi(routes.hello, handlers.hello)
	.openapi(routes.docs, handlers.docs)
	.openapi(routes.jwks, handlers.jwks);

import { createRouter } from "../../lib/openapi.ts";
import * as handlers from "./user.handlers.ts";
import * as routes from "./user.routes.ts";

export const userRouter = createRouter()
	.openapi(routes.ownProfile, handlers.ownProfile)
	.openapi(routes.changePassword, handlers.changePassword);

import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./user.handlers.ts";
import * as routes from "./user.routes.ts";

export const userRouter = createRouter()
	.openapi(routes.ownProfile, handlers.ownProfile)
	.openapi(routes.updateProfile, handlers.updateProfile)
	.openapi(routes.publicProfile, handlers.publicProfile)
	.openapi(routes.streamImage, handlers.streamImage)
	.openapi(routes.changePassword, handlers.changePassword)
	.openapi(routes.completeTutorial, handlers.completeTutorial)
	.openapi(routes.joinCommunity, handlers.joinCommunity);

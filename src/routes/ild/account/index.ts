import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./account.handlers.ts";
import * as routes from "./account.routes.ts";

export const accountRouter = createRouter()
	.openapi(routes.requestEmailChange, handlers.requestEmailChange)
	.openapi(routes.confirmEmailChange, handlers.confirmEmailChange)
	.openapi(routes.undoEmailChange, handlers.undoEmailChange)
	.openapi(routes.exportAccount, handlers.exportAccount)
	.openapi(routes.exportUser, handlers.exportUser)
	.openapi(routes.requestDeletion, handlers.requestDeletion)
	.openapi(routes.cancelDeletion, handlers.cancelDeletion);

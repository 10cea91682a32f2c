import { createRouter } from "../../shared/openapi.ts";
import * as handlers from "./users.handlers.ts";
import * as routes from "./users.routes.ts";

// Order matters, as in KC7: `me` and `email/…` before the catch-all `{user}`.
export const kc7UsersRouter = createRouter()
	.openapi(routes.me, handlers.me)
	.openapi(routes.byEmail, handlers.byEmail)
	.openapi(routes.create, handlers.create)
	.openapi(routes.byRef, handlers.byRef);

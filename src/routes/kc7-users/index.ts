import { createRouter } from "../../lib/openapi.ts";
import * as handlers from "./kc7-users.handlers.ts";
import * as routes from "./kc7-users.routes.ts";

export const kc7UsersRouter = createRouter().openapi(routes.me, handlers.me);

import type { RouteHandler } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { users } from "../../db/schema.ts";
import { ApiError } from "../../lib/errors.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./kc7-users.routes.ts";

export const me: RouteHandler<typeof routes.me, AppEnv> = async (c) => {
	const user = await c.var.db
		.select({ user_id: users.id, username: users.username })
		.from(users)
		.where(eq(users.id, c.var.auth.userId))
		.get();
	if (!user) throw new ApiError(401, "Invalid or expired token");
	return c.json(user, 200);
};

import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { changePassword as changeUserPassword } from "../../services/auth.ts";
import { depsOf } from "../../services/deps.ts";
import { findUserById, toIldUser } from "../../services/users.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./user.routes.ts";

export const ownProfile: RouteHandler<typeof routes.ownProfile, AppEnv> = async (c) => {
	const user = await findUserById(c.var.db, c.var.auth.userId);
	// A valid token for a user that no longer exists is no credential.
	if (!user) throw new ApiError(401, "Invalid or expired token");
	return c.json(toIldUser(user), 200);
};

export const changePassword: RouteHandler<typeof routes.changePassword, AppEnv> = async (c) => {
	await changeUserPassword(depsOf(c), c.var.auth, c.req.valid("json"));
	return c.json({ message: "Password changed" }, 200);
};

import type { RouteHandler } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import { users } from "../../db/schema.ts";
import { ApiError } from "../../lib/errors.ts";
import { depsOf } from "../../services/deps.ts";
import { normalizeEmail, provisionUser } from "../../services/users.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./kc7-users.routes.ts";

const kc7User = { user_id: users.id, username: users.username };
const USER_NOT_FOUND = "User not found";

export const me: RouteHandler<typeof routes.me, AppEnv> = async (c) => {
	const user = await c.var.db.select(kc7User).from(users).where(eq(users.id, c.var.auth.userId)).get();
	if (!user) throw new ApiError(401, "Invalid or expired token");
	return c.json(user, 200);
};

export const byEmail: RouteHandler<typeof routes.byEmail, AppEnv> = async (c) => {
	const { email } = c.req.valid("param");
	const user = await c.var.db
		.select({ user_id: users.id })
		.from(users)
		.where(eq(users.email, normalizeEmail(email)))
		.get();
	if (!user) throw new ApiError(404, USER_NOT_FOUND);
	return c.json(user, 200);
};

export const byRef: RouteHandler<typeof routes.byRef, AppEnv> = async (c) => {
	const { user: ref } = c.req.valid("param");
	const isId = /^\d+$/.test(ref);
	// An all-digit ref beyond any possible id cannot match: no query needed.
	if (isId && !Number.isSafeInteger(Number(ref))) throw new ApiError(404, USER_NOT_FOUND);
	const where = isId ? eq(users.id, Number(ref)) : sql`lower(${users.username}) = lower(${ref})`;
	const user = await c.var.db.select(kc7User).from(users).where(where).get();
	if (!user) throw new ApiError(404, USER_NOT_FOUND);
	return c.json(user, 200);
};

export const create: RouteHandler<typeof routes.create, AppEnv> = async (c) => {
	const { email, username } = c.req.valid("json");
	const user = await provisionUser(depsOf(c), { email, username }, c.var.auth.userId);
	return c.json(
		{
			user_id: user.id,
			username: user.username as string,
			email: user.email,
			created_at: new Date(user.createdAt).toISOString(),
		},
		201,
	);
};

import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import { findUserIdentity, provisionUser } from "../../../services/users.ts";
import { KC7 } from "../messages.ts";
import { toKc7ProvisionedUser, toKc7User } from "../presenters.ts";
import type * as routes from "./users.routes.ts";

export const me: RouteHandler<typeof routes.me, AuthEnv> = async (c) => {
	const user = await findUserIdentity(c.get("deps"), { id: c.get("auth").userId });
	if (!user) throw new ApiError(401, KC7.invalidOrExpiredToken); // a valid token whose user is gone is no credential
	return c.json(toKc7User(user), 200);
};

export const byEmail: RouteHandler<typeof routes.byEmail, AuthEnv> = async (c) => {
	const user = await findUserIdentity(c.get("deps"), { email: c.req.valid("param").email });
	if (!user) throw new ApiError(404, KC7.userNotFound);
	return c.json({ user_id: user.id }, 200);
};

export const byRef: RouteHandler<typeof routes.byRef, AuthEnv> = async (c) => {
	const { user: ref } = c.req.valid("param");
	// All digits: an id (usernames cannot be all digits); one beyond any possible id cannot match, so nothing is
	// looked up. Anything else: a username, in any case.
	const id = /^\d+$/.test(ref) ? Number(ref) : null;
	const user =
		id === null
			? await findUserIdentity(c.get("deps"), { username: ref })
			: Number.isSafeInteger(id)
				? await findUserIdentity(c.get("deps"), { id })
				: null;
	if (!user) throw new ApiError(404, KC7.userNotFound);
	return c.json(toKc7User(user), 200);
};

export const create: RouteHandler<typeof routes.create, AuthEnv> = async (c) => {
	const user = await provisionUser(c.get("deps"), c.req.valid("json"), c.get("auth"));
	return c.json(toKc7ProvisionedUser(user), 201);
};

import { z } from "@hono/zod-openapi";

/**
 * The path of one user for Admin routes. `{userId{[0-9]+}}`: Hono matches digits only, so /user/profile,
 * /user/sessions, /user/security-events and the other /user paths stay theirs; the OpenAPI document shows it as
 * `{userId}`.
 */
export const USER_PATH = "/user/{userId{[0-9]+}}";

export const UserPathParams = z.object({
	userId: z.string().openapi({ param: { name: "userId", in: "path" }, example: "4", pattern: "^[0-9]+$" }),
});

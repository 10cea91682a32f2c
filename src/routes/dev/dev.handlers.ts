import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { iso } from "../../lib/time.ts";
import { listOutbox } from "../../services/mail.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./dev.routes.ts";

export const outbox: RouteHandler<typeof routes.outbox, AppEnv> = async (c) => {
	const mail = await listOutbox(c.get("deps"), c.req.valid("query").to);
	if (!mail) throw new ApiError(404, "Resource not found"); // development only: elsewhere it does not exist
	return c.json(
		mail.map((m) => ({ to: m.to, subject: m.subject, text: m.text, createdAt: iso(m.createdAt) })),
		200,
	);
};

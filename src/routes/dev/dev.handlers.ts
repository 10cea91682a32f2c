import type { RouteHandler } from "@hono/zod-openapi";
import { desc, eq } from "drizzle-orm";
import { devOutbox } from "../../db/schema.ts";
import { ApiError } from "../../lib/errors.ts";
import { normalizeEmail } from "../../services/users.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./dev.routes.ts";

export const outbox: RouteHandler<typeof routes.outbox, AppEnv> = async (c) => {
	if (!c.var.config.isDevelopment) throw new ApiError(404, "Resource not found");
	const { to } = c.req.valid("query");
	const rows = await c.var.db
		.select()
		.from(devOutbox)
		.where(to ? eq(devOutbox.to, normalizeEmail(to)) : undefined)
		.orderBy(desc(devOutbox.id))
		.limit(100);
	return c.json(
		rows.map((m) => ({ to: m.to, subject: m.subject, text: m.text, createdAt: new Date(m.createdAt).toISOString() })),
		200,
	);
};

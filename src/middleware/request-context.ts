import { createMiddleware } from "hono/factory";
import { ConfigError, getConfig } from "../config.ts";
import { createDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { describeError } from "../lib/log.ts";
import type { AppEnv } from "../types.ts";

/**
 * Parsed configuration and the service dependencies (`deps`), set once for every request, after Hono's
 * request-id middleware (`c.var.requestId`, echoed in `X-Request-Id`). Invalid
 * configuration fails closed: every request gets the 500 envelope (the variable is named in the
 * log once per isolate by getConfig), never an answer computed with a guessed setting.
 */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
	const { requestId } = c.var;
	try {
		c.set("config", getConfig(c.env));
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		c.header("Cache-Control", "no-store");
		return c.json(new ApiError(500, "An unexpected error occurred").body(), 500);
	}
	const db = createDb(c.env.DB);
	c.set("deps", {
		env: c.env,
		config: c.var.config,
		db,
		request: {
			ip: c.req.header("CF-Connecting-IP") ?? null,
			country: cfString(c.req.raw, "country"),
			city: cfString(c.req.raw, "city"),
			userAgent: c.req.header("User-Agent")?.slice(0, 512) ?? null,
			requestId,
		},
		defer: (work) =>
			c.executionCtx.waitUntil(
				work.catch((error: unknown) =>
					console.error(JSON.stringify({ level: "error", requestId, deferred: describeError(error) })),
				),
			),
	});
	await next();
});

/** A string field of the edge's `request.cf` (absent locally, where workerd has no edge facts). */
function cfString(request: Request, field: "country" | "city"): string | null {
	const value = (request as { cf?: Record<string, unknown> }).cf?.[field];
	return typeof value === "string" && value !== "" ? value.slice(0, 128) : null;
}

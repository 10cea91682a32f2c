import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { RateLimitName } from "../config.ts";
import { rateLimitHeaders } from "../lib/rate-limit.ts";
import { enforce } from "../services/rate-limits.ts";
import type { AppEnv } from "../types.ts";

/**
 * Route-level limit: one hit per request on the key `keyOf` picks (an IP, the caller), 429
 * with Retry-After and RateLimit-* when the window is full; the RateLimit-* headers ride on
 * successful answers too, so clients can pace themselves.
 */
export function rateLimit<E extends AppEnv = AppEnv>(name: RateLimitName, keyOf: (c: Context<E>) => string) {
	return createMiddleware<E>(async (c, next) => {
		const [decision] = await enforce(c.env, c.get("config"), { name, key: keyOf(c) });
		await next();
		if (decision)
			for (const [header, value] of Object.entries(rateLimitHeaders(decision))) c.res.headers.set(header, value);
	});
}

import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { RateLimitName } from "../config.ts";
import { rateLimitHeaders } from "../lib/rate-limit.ts";
import { enforce, refund } from "../services/rate-limits.ts";
import type { AppEnv } from "../types.ts";

/**
 * Route-level limit: one hit per request on the key `keyOf` picks (an IP, the caller), 429
 * with Retry-After and RateLimit-* when the window is full; the RateLimit-* headers ride on
 * successful answers too, so clients can pace themselves.
 *
 * A request answered 401 gives its hit back: behind the token check, that is a session found ended by the
 * revocation check in the request's first query (which comes after this hit), so a revoked token cannot spend
 * the budget of the account it was issued for.
 */
export function rateLimit<E extends AppEnv = AppEnv>(name: RateLimitName, keyOf: (c: Context<E>) => string) {
	return createMiddleware<E>(async (c, next) => {
		const target = { name, key: keyOf(c) };
		const [decision] = await enforce(c.env, c.get("config"), target);
		await next();
		if (c.res.status === 401) {
			c.get("deps").defer(refund(c.env, c.get("config"), target));
			return;
		}
		if (decision)
			for (const [header, value] of Object.entries(rateLimitHeaders(decision))) c.res.headers.set(header, value);
	});
}

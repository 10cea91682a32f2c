import type { Config, RateLimitName } from "../config.ts";
import { sha256 } from "../lib/encoding.ts";
import { type RateLimitDecision, rejection } from "../lib/rate-limit.ts";

/**
 * Client side of the RATE_LIMITER Durable Object. A limited key (an email, an IP, a user id)
 * is hashed before it names an object, so no address appears in object names or logs.
 */
export interface Limited {
	name: RateLimitName;
	key: string;
}

async function stub(env: Env, { name, key }: Limited) {
	return env.RATE_LIMITER.getByName(`${name}:${await sha256(key.toLowerCase())}`);
}

async function hit(env: Env, config: Config, target: Limited): Promise<RateLimitDecision> {
	const rule = config.rateLimits[target.name];
	return (await stub(env, target)).hit(rule.limit, rule.windowSeconds * 1000);
}

export async function refund(env: Env, config: Config, target: Limited): Promise<void> {
	const rule = config.rateLimits[target.name];
	await (await stub(env, target)).refund(rule.windowSeconds * 1000);
}

/**
 * Counts one hit on every target, or on none: if any target is full, the hits the others
 * counted are taken back and a 429 (with the longest Retry-After) is thrown.
 */
export async function enforce(env: Env, config: Config, ...targets: Limited[]): Promise<RateLimitDecision[]> {
	const decisions = await Promise.all(targets.map((t) => hit(env, config, t)));
	const refused = decisions.filter((d) => !d.allowed).sort((a, b) => b.retryAfterMs - a.retryAfterMs);
	if (refused[0]) {
		await Promise.all(targets.filter((_, i) => decisions[i]?.allowed).map((t) => refund(env, config, t)));
		throw rejection(refused[0]);
	}
	return decisions;
}

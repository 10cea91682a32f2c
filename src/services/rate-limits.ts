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

/** The object's name: the limit and a hash of the key (so it names no person). */
export async function limiterObjectName({ name, key }: Limited): Promise<string> {
	return `${name}:${await sha256(key.toLowerCase())}`;
}

async function stub(env: Env, target: Limited) {
	return env.RATE_LIMITER.getByName(await limiterObjectName(target));
}

/** Erases one limiter object's state (a deleted account's counters), by the name limiterObjectName gave. */
export async function forgetLimiter(env: Pick<Env, "RATE_LIMITER">, objectName: string): Promise<void> {
	await env.RATE_LIMITER.getByName(objectName).forget();
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

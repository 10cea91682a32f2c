import type { Config, RateLimitName } from "../config.ts";
import type { RateLimitDecision } from "../durable-objects/rate-limiter.ts";
import { sha256 } from "./encoding.ts";
import { tooManyRequests } from "./errors.ts";

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

export async function hit(env: Env, config: Config, target: Limited): Promise<RateLimitDecision> {
	const rule = config.rateLimits[target.name];
	return (await stub(env, target)).hit(rule.limit, rule.windowSeconds * 1000);
}

export async function refund(env: Env, config: Config, target: Limited): Promise<void> {
	const rule = config.rateLimits[target.name];
	await (await stub(env, target)).refund(rule.windowSeconds * 1000);
}

export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
	return {
		"RateLimit-Limit": String(decision.limit),
		"RateLimit-Remaining": String(decision.remaining),
		"RateLimit-Reset": String(Math.ceil(decision.resetMs / 1000)),
	};
}

export function rejection(decision: RateLimitDecision) {
	return tooManyRequests(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)), rateLimitHeaders(decision));
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

/** The client address Cloudflare saw; tests and local dev send it themselves. */
export function clientIp(headers: Headers): string {
	return headers.get("CF-Connecting-IP") ?? "unknown";
}

/** An IPv6 address as its eight 16-bit groups (`::`, an embedded IPv4 tail and a zone id allowed), or null. */
function ipv6Groups(address: string): number[] | null {
	let text = address.replace(/%.*$/, "");
	const v4 = text.match(/^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
	if (v4) {
		const octets = v4.slice(2, 6).map(Number);
		if (octets.some((o) => o > 255)) return null;
		const [a, b, c, d] = octets as [number, number, number, number];
		text = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
	}
	const halves = text.split("::");
	if (halves.length > 2) return null;
	const parse = (part: string | undefined) => (part ? part.split(":") : []);
	const head = parse(halves[0]);
	const tail = parse(halves[1]);
	const missing = 8 - head.length - tail.length;
	if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
	const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
	if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
	return groups.map((g) => Number.parseInt(g, 16));
}

/**
 * The key per-IP limits count by: IPv4 addresses one by one, IPv6 by /64 — a single customer
 * usually holds a whole /64 and can rotate through it freely — and IPv4-mapped IPv6 as the IPv4
 * address it is. Anything unparsable is counted as itself.
 */
export function networkKey(ip: string): string {
	const address = ip.trim().toLowerCase();
	if (!address.includes(":")) return address;
	const g = ipv6Groups(address);
	if (!g) return address;
	const [g5, g6, g7] = [g[5] ?? 0, g[6] ?? 0, g[7] ?? 0];
	if (g.slice(0, 5).every((x) => x === 0) && g5 === 0xffff) {
		return `${g6 >> 8}.${g6 & 255}.${g7 >> 8}.${g7 & 255}`;
	}
	return `${g
		.slice(0, 4)
		.map((x) => x.toString(16))
		.join(":")}::/64`;
}

import { tooManyRequests } from "./errors.ts";

/** What the limiter answers for one hit (see durable-objects/rate-limiter.ts). */
export interface RateLimitDecision {
	allowed: boolean;
	limit: number;
	/** Hits left in the window after this decision. */
	remaining: number;
	/** Milliseconds until the oldest counted hit leaves the window (0 when nothing is counted). */
	resetMs: number;
	/** Milliseconds until one more hit would be allowed (0 when allowed). */
	retryAfterMs: number;
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

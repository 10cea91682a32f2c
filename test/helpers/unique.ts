/** Collision-free values: tests share one database and one set of rate limiters, so nothing may be reused by chance. */

let counter = 0;
/** Unique per call, so tests sharing one database never collide (emails, usernames, IPs). */
export function unique(prefix = "u"): string {
	counter += 1;
	return `${prefix}${Date.now().toString(36)}${counter}${Math.random().toString(36).slice(2, 6)}`;
}
export const uniqueEmail = () => `${unique()}@example.com`;
// Client addresses key the per-IP rate limiters, so two tests sharing one would count each other's attempts.
// Limits count IPv6 by /64, so each call gets its own /64: a random group per module load and a counter per
// call inside the network part (2001:db8::/32 is for documentation).
const ipGroup = crypto.getRandomValues(new Uint16Array(1))[0]?.toString(16);
let ipCounter = 0;
export const uniqueIp = () => `2001:db8:${ipGroup}:${(++ipCounter & 0xffff).toString(16)}::1`;

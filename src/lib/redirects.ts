import { isLoopbackOrigin } from "./origins.ts";
import { CONTROL_BIDI_OR_INVISIBLE } from "./text.ts";

/** What decides a redirect (the configuration satisfies it). */
export interface RedirectPolicy {
	dashboardUrl: string;
	allowedRedirectOrigins: ReadonlySet<string>;
	isDevelopment: boolean;
}

/**
 * Where a login link may send the browser: `next` resolved against the dashboard URL, kept only
 * when its origin is the dashboard's, a configured redirect origin, or (development) loopback.
 * Resolving with the URL parser — not string checks — is what defeats `//evil`, `/\evil`,
 * tabs and other parser tricks; `javascript:` and friends have an opaque ("null") origin.
 * Returns the absolute target, or null when `next` may not be used.
 */
export function allowedRedirect(config: RedirectPolicy, next: string): string | null {
	// Control characters, whitespace, bidi marks and invisible characters have no place in a redirect target.
	if (CONTROL_BIDI_OR_INVISIBLE.test(next) || /\s/.test(next)) return null;
	let target: URL;
	try {
		target = new URL(next, config.dashboardUrl);
	} catch {
		return null;
	}
	if (target.protocol !== "https:" && target.protocol !== "http:") return null;
	if (target.username || target.password) return null;
	// `..//evil.com` resolves to `https://<dashboard>//evil.com`: harmless here, but a SPA that reads the path and
	// navigates to it has a protocol-relative URL in hand. No path we hand out starts with `//`.
	if (target.pathname.startsWith("//")) return null;
	const origin = target.origin;
	const allowed =
		origin === new URL(config.dashboardUrl).origin ||
		config.allowedRedirectOrigins.has(origin) ||
		(config.isDevelopment && isLoopbackOrigin(origin));
	return allowed ? target.href : null;
}

/** The redirect target for a login link: `next` when allowed, else the dashboard. */
export function safeRedirect(config: RedirectPolicy, next: string | undefined | null): string {
	return (next && allowedRedirect(config, next)) || config.dashboardUrl;
}

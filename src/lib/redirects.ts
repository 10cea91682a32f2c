import type { Config } from "../config.ts";
import { isAllowedOrigin } from "../config.ts";

/**
 * Where a login link may send the browser: `next` resolved against the dashboard URL, kept only
 * when its origin is the dashboard's, a configured redirect origin, or (development) loopback.
 * Resolving with the URL parser — not string checks — is what defeats `//evil`, `/\evil`,
 * tabs and other parser tricks; `javascript:` and friends have an opaque ("null") origin.
 */
export function safeRedirect(config: Config, next: string | undefined | null): string {
	const fallback = config.dashboardUrl;
	if (!next) return fallback;
	let target: URL;
	try {
		target = new URL(next, fallback);
	} catch {
		return fallback;
	}
	if (target.protocol !== "https:" && target.protocol !== "http:") return fallback;
	if (target.username || target.password) return fallback;
	const origin = target.origin;
	const allowed =
		origin === new URL(fallback).origin ||
		config.allowedRedirectOrigins.has(origin) ||
		(config.isDevelopment && isAllowedOrigin({ ...config, allowedOrigins: new Set() }, origin));
	return allowed ? target.href : fallback;
}

/**
 * Hosted pages: the Worker's own small web pages for every link it mails (verify email, reset password, "this
 * wasn't me", confirm/undo an email change, cancel a deletion) and a sign-in page showing the cookie flow.
 * They are not API operations, so they stay out of the OpenAPI document: a middleware answers their fixed paths
 * when HOSTED_PAGES is on (development's default) and lets everything else through; when it is off, the paths are
 * 404 like any unknown path, free for an operator's own app to take over (it receives the same links).
 */
import { createMiddleware } from "hono/factory";
import { ApiError } from "../../lib/errors.ts";
import type { AppEnv } from "../../types.ts";
import { PAGE_ICON, PAGE_ICON_PATH, PAGE_SCRIPT, PAGE_SCRIPT_PATH, PAGE_STYLE, PAGE_STYLE_PATH } from "./assets.ts";
import { PAGES } from "./templates.ts";

/** Nothing inline, nothing from elsewhere: the script and stylesheet come from this origin, calls go to it. */
const PAGE_CSP = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self'",
	"connect-src 'self'",
	"form-action 'self'",
	"frame-ancestors 'none'",
	"base-uri 'none'",
].join("; ");

const ASSETS: ReadonlyMap<string, { body: string; type: string }> = new Map([
	[PAGE_SCRIPT_PATH, { body: PAGE_SCRIPT, type: "text/javascript; charset=utf-8" }],
	[PAGE_STYLE_PATH, { body: PAGE_STYLE, type: "text/css; charset=utf-8" }],
	[PAGE_ICON_PATH, { body: PAGE_ICON, type: "image/svg+xml" }],
]);

export const hostedPages = createMiddleware<AppEnv>(async (c, next) => {
	const path = c.req.path;
	const html = PAGES.get(path);
	const asset = html === undefined ? ASSETS.get(path) : undefined;
	if ((html === undefined && asset === undefined) || !c.get("config").hostedPages) return next();
	if (c.req.method !== "GET" && c.req.method !== "HEAD") {
		throw new ApiError(405, `Method ${c.req.method} is not allowed on this path`, { headers: { Allow: "GET, HEAD" } });
	}
	if (html !== undefined) {
		// A token in the address must not leak: no-store (the default of every answer here), no referrer.
		c.header("Content-Security-Policy", PAGE_CSP);
		return c.html(html);
	}
	if (asset === undefined) return next();
	// Revalidated on every use, so a page never runs with an older script than the one it was written for.
	c.header("Cache-Control", "no-cache");
	return c.body(asset.body, 200, { "Content-Type": asset.type });
});

/** The paths the pages answer (README, and an operator's app taking the links over). */
export const HOSTED_PAGE_PATHS = [...PAGES.keys()];

/** Every path the middleware answers, pages and their assets: it is mounted on these alone (no other request pays). */
export const HOSTED_PATHS = [...HOSTED_PAGE_PATHS, ...ASSETS.keys()];

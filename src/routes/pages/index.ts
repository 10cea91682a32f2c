/**
 * Hosted pages: the Worker's own small web pages for every link it mails (verify email, reset password, "this
 * wasn't me", confirm/undo an email change, cancel a deletion) and a sign-in page showing the cookie flow.
 * They are not API operations, so they stay out of the OpenAPI document: a middleware answers their fixed paths
 * when HOSTED_PAGES is on (development's default) and lets everything else through; when it is off, the paths are
 * 404 like any unknown path, free for an operator's own app to take over (it receives the same links).
 * Their files are static assets (./assets.ts), served here so that the configuration and the headers apply.
 */
import { createMiddleware } from "hono/factory";
import { ApiError } from "../../lib/errors.ts";
import { staticAsset } from "../../lib/static-assets.ts";
import type { AppEnv } from "../../types.ts";
import { PAGE_ICON_PATH, PAGE_NAMES, PAGE_SCRIPT_PATH, PAGE_STYLE_PATH, pageFile, pagePath } from "./assets.ts";

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

const HTML = "text/html; charset=UTF-8";

/** Served path → the file in the assets and its type. */
interface ServedFile {
	file: string;
	type: string;
	/** An HTML page (its CSP), not one of its files. */
	page: boolean;
}

const FILES: ReadonlyMap<string, ServedFile> = new Map<string, ServedFile>([
	...PAGE_NAMES.map((name): [string, ServedFile] => [pagePath(name), { file: pageFile(name), type: HTML, page: true }]),
	[PAGE_SCRIPT_PATH, { file: PAGE_SCRIPT_PATH, type: "text/javascript; charset=utf-8", page: false }],
	[PAGE_STYLE_PATH, { file: PAGE_STYLE_PATH, type: "text/css; charset=utf-8", page: false }],
	[PAGE_ICON_PATH, { file: PAGE_ICON_PATH, type: "image/svg+xml", page: false }],
]);

export const hostedPages = createMiddleware<AppEnv>(async (c, next) => {
	const served = FILES.get(c.req.path);
	if (served === undefined || !c.get("config").hostedPages) return next();
	if (c.req.method !== "GET" && c.req.method !== "HEAD") {
		throw new ApiError(405, `Method ${c.req.method} is not allowed on this path`, { headers: { Allow: "GET, HEAD" } });
	}
	const body = await staticAsset(c.env.ASSETS, served.file);
	if (served.page) {
		// A token in the address must not leak: no-store (the default of every answer here), no referrer.
		c.header("Content-Security-Policy", PAGE_CSP);
	} else {
		// Revalidated on every use, so a page never runs with an older script than the one it was written for.
		c.header("Cache-Control", "no-cache");
	}
	return c.body(body, 200, { "Content-Type": served.type });
});

/** The paths the pages answer (README, and an operator's app taking the links over). */
export const HOSTED_PAGE_PATHS = PAGE_NAMES.map(pagePath);

/** Every path the middleware answers, pages and their files: it is mounted on these alone (no other request pays). */
export const HOSTED_PATHS = [...FILES.keys()];

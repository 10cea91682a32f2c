import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { ConfigError, getConfig } from "../config.ts";
import { createDb, type Db } from "../db/client.ts";
import { ANY_REPLICA, isBookmark, openD1Session, PRIMARY } from "../db/d1-session.ts";
import { ApiError } from "../lib/errors.ts";
import { describeError } from "../lib/log.ts";
import type { Deps } from "../services/deps.ts";
import type { AppEnv } from "../types.ts";

/**
 * Parsed configuration and the service dependencies (`deps`), set once for every request, after Hono's
 * request-id middleware (`c.var.requestId`, echoed in `X-Request-Id`). Invalid
 * configuration fails closed: every request gets the 500 envelope (the variable is named in the
 * log once per isolate by getConfig), never an answer computed with a guessed setting.
 */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
	const { requestId } = c.var;
	try {
		c.set("config", getConfig(c.env));
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		c.header("Cache-Control", "no-store");
		return c.json(new ApiError(500, "An unexpected error occurred").body(), 500);
	}
	// Every request starts at the D1 primary; only an anonymous public read moves elsewhere (replicaReads below).
	const d1 = openD1Session(c.env.DB, PRIMARY);
	c.set("d1", d1);
	c.set(
		"deps",
		depsOver(
			{
				env: c.env,
				config: c.var.config,
				request: {
					ip: c.req.header("CF-Connecting-IP") ?? null,
					country: cfString(c.req.raw, "country"),
					city: cfString(c.req.raw, "city"),
					userAgent: c.req.header("User-Agent")?.slice(0, 512) ?? null,
					requestId,
				},
				defer: (work) =>
					c.executionCtx.waitUntil(
						work.catch((error: unknown) =>
							console.error(JSON.stringify({ level: "error", requestId, deferred: describeError(error) })),
						),
					),
			},
			d1.d1,
		),
	);
	await next();
	// Read-your-writes across requests and locations: the session's bookmark goes back, errors included.
	const bookmark = c.var.d1.bookmark();
	if (bookmark) {
		c.header("X-D1-Bookmark", bookmark);
		setCookie(c, BOOKMARK_COOKIE, bookmark, { httpOnly: true, secure: true, sameSite: "Lax", path: "/" });
	}
});

const BOOKMARK_HEADER = "X-D1-Bookmark";
const BOOKMARK_COOKIE = "d1_bookmark";

/**
 * Where a public read starts: at the client's bookmark (header first, then cookie); at any replica when it sent
 * none; at the primary when what it sent is not a bookmark (ignored, never an error).
 */
function publicReadStart(c: Context<AppEnv>): string {
	const sent = c.req.header(BOOKMARK_HEADER)?.trim() ?? getCookie(c, BOOKMARK_COOKIE);
	if (sent === undefined || sent === "") return ANY_REPLICA;
	return isBookmark(sent) ? sent : PRIMARY;
}

/**
 * For anonymous public reads (the module catalog, communities, public profiles): the request may be served by any
 * replica — at least as fresh as the client's bookmark when it sends one. Placed before the handler, before any
 * query ran. Nothing that decides security may sit behind it. Every other request starts at the primary, with or
 * without a bookmark: its first query carries the revocation check or reads credentials, which the contract keeps
 * on the primary, and the primary is at least as fresh as any bookmark.
 */
export const replicaReads = createMiddleware<AppEnv>(async (c, next) => {
	const d1 = openD1Session(c.env.DB, publicReadStart(c));
	c.set("d1", d1);
	c.set("deps", depsOver(c.var.deps, d1.d1));
	await next();
});

/**
 * The request's deps with their queries going to `d1` (the request's session, the liveness guard's binding, a
 * replica session). `db` is built at its first use: Drizzle's database object costs more to build than a request
 * that never queries (the greeting, a token check, a refusal) costs in all. (A spread, `{ ...deps }`, would build
 * it: derive deps with this function.)
 */
export function depsOver(deps: Omit<Deps, "db">, d1: D1Database): Deps {
	let db: Db | undefined;
	return {
		env: deps.env,
		config: deps.config,
		request: deps.request,
		defer: deps.defer,
		get db() {
			db ??= createDb(d1);
			return db;
		},
	};
}

/** A string field of the edge's `request.cf` (absent locally, where workerd has no edge facts). */
function cfString(request: Request, field: "country" | "city"): string | null {
	const value = (request as { cf?: Record<string, unknown> }).cf?.[field];
	return typeof value === "string" && value !== "" ? value.slice(0, 128) : null;
}

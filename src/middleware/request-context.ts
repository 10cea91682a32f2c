import type { Context } from "hono";
import { generateCookie, getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { type Config, ConfigError, getConfig } from "../config.ts";
import { createDb, type Db } from "../db/client.ts";
import { ANY_REPLICA, isBookmark, openD1Session, PRIMARY } from "../db/d1-session.ts";
import { ApiError } from "../lib/errors.ts";
import { describeError } from "../lib/log.ts";
import type { Deps, RequestFacts } from "../services/deps.ts";
import type { AppEnv } from "../types.ts";
import { finishHeaders } from "./response-headers.ts";

/**
 * An incoming `X-Request-Id` is echoed when it is a sane token (letters, digits and the `._:=-` of common trace
 * ids, at most 128), else a UUID is generated.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:=-]{1,128}$/;

/**
 * What every request is given before anything else runs: its id (`c.get("requestId")`, echoed in `X-Request-Id`
 * on every answer), the parsed configuration and the service dependencies (`deps`). One middleware rather than
 * Hono's request-id middleware beside it: every request pays each middleware layer (README "Bench"). Invalid
 * configuration fails closed: every request gets the 500 envelope (the variable is named in the log once per
 * isolate by getConfig), never an answer computed with a guessed setting.
 */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
	const incoming = c.req.header("X-Request-Id");
	const requestId = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
	c.set("requestId", requestId);
	c.header("X-Request-Id", requestId);
	let config: Config;
	try {
		config = getConfig(c.env);
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		// No CORS without a configuration; every other header an answer carries, as responseHeaders would.
		const res = c.json(new ApiError(500, "An unexpected error occurred").body(), 500);
		res.headers.set("Vary", "Origin");
		finishHeaders(res.headers);
		return res;
	}
	c.set("config", config);
	// Every request starts at the D1 primary; only an anonymous public read moves elsewhere (replicaReads below).
	const d1 = openD1Session(c.env.DB, PRIMARY);
	c.set("d1", d1);
	c.set("deps", new RequestDeps(c, config, d1.d1));
	await next();
	// Read-your-writes across requests and locations: the session's bookmark goes back, errors included. Set on the
	// answer itself (responseHeaders has just written to the same headers): Hono's c.header() after the handler
	// copies the whole Response once per call (`--profile`: 15 µs per D1 request).
	const bookmark = d1.bookmark();
	if (bookmark) {
		const headers = c.res.headers;
		headers.set(BOOKMARK_HEADER, bookmark);
		headers.append(
			"Set-Cookie",
			generateCookie(BOOKMARK_COOKIE, bookmark, { httpOnly: true, secure: true, sameSite: "Lax", path: "/" }),
		);
	}
});

/**
 * A request's deps. What most requests never use is made at its first use: Drizzle's database object (it costs
 * more to build than a request that never queries costs in all) and the client facts (headers and `request.cf`
 * read for sessions and events). One object with its getters on the prototype: a light request allocates little.
 */
class RequestDeps implements Deps {
	#db: Db | undefined;
	#request: RequestFacts | undefined;
	constructor(
		private readonly c: Context<AppEnv>,
		readonly config: Config,
		private readonly d1: D1Database,
	) {}
	get env() {
		return this.c.env;
	}
	get db() {
		this.#db ??= createDb(this.d1);
		return this.#db;
	}
	get request() {
		this.#request ??= requestFacts(this.c);
		return this.#request;
	}
	readonly defer = (work: Promise<unknown>) => {
		const requestId = this.c.get("requestId");
		this.c.executionCtx.waitUntil(
			work.catch((error: unknown) =>
				console.error(JSON.stringify({ level: "error", requestId, deferred: describeError(error) })),
			),
		);
	};
	/** The same deps with their queries going to `d1` (the liveness guard's binding). */
	over(d1: D1Database): Deps {
		const deps = new RequestDeps(this.c, this.config, d1);
		deps.#request = this.#request;
		return deps;
	}
}

function requestFacts(c: Context<AppEnv>): RequestFacts {
	return {
		ip: c.req.header("CF-Connecting-IP") ?? null,
		country: cfString(c.req.raw, "country"),
		city: cfString(c.req.raw, "city"),
		userAgent: c.req.header("User-Agent")?.slice(0, 512) ?? null,
		requestId: c.get("requestId"),
	};
}

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
	c.get("d1").startAt(publicReadStart(c));
	await next();
});

/** The request's deps with their queries going to `d1` (the liveness guard's binding). */
export function depsOver(deps: Deps, d1: D1Database): Deps {
	if (!(deps instanceof RequestDeps)) throw new Error("depsOver: deps of a request expected");
	return deps.over(d1);
}

/** A string field of the edge's `request.cf` (absent locally, where workerd has no edge facts). */
function cfString(request: Request, field: "country" | "city"): string | null {
	const value = (request as { cf?: Record<string, unknown> }).cf?.[field];
	return typeof value === "string" && value !== "" ? value.slice(0, 128) : null;
}

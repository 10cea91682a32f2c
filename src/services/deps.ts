import type { Context } from "hono";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { describeError } from "../lib/log.ts";
import type { AppEnv } from "../types.ts";

/** What the service layer needs from a request, so services never see Hono. */
export interface Deps {
	env: Env;
	config: Config;
	db: Db;
	/** Work that must finish but must not delay (or shape) the response. */
	defer: (work: Promise<unknown>) => void;
}

export function depsOf(c: Context<AppEnv>): Deps {
	return {
		env: c.env,
		config: c.var.config,
		db: c.var.db,
		defer: (work) =>
			c.executionCtx.waitUntil(
				work.catch((error: unknown) =>
					console.error(JSON.stringify({ level: "error", requestId: c.var.requestId, deferred: describeError(error) })),
				),
			),
	};
}

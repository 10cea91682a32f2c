import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";

/**
 * What the service layer needs from a request, built once per request by the request-context middleware
 * (`c.get("deps")`) and by the cron, so services never see Hono. Every stateful service function takes it (or the
 * part of it it uses) first.
 */
export interface Deps {
	env: Env;
	config: Config;
	db: Db;
	/** Work that must finish but must not delay (or shape) the response; a failure is logged, never thrown. */
	defer: (work: Promise<unknown>) => void;
	/** What the request says about its client, for sessions (the device) and audit events; null for the cron. */
	request: RequestFacts;
}

export interface RequestFacts {
	ip: string | null;
	/** From the edge (`request.cf`); null locally and in tests unless a test sets it. */
	country: string | null;
	city: string | null;
	userAgent: string | null;
	requestId: string | null;
}

export const NO_REQUEST: RequestFacts = { ip: null, country: null, city: null, userAgent: null, requestId: null };

/** The part of Deps a function that only reads or writes D1 needs (tests and the cron pass `{ db }`). */
export type DbDeps = Pick<Deps, "db">;

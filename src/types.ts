import type { Config } from "./config.ts";
import type { D1Session } from "./db/d1-session.ts";
import type { Deps } from "./services/deps.ts";

/**
 * What every request carries, set by the request-context middleware. Variables that only some routes have
 * (`auth`, `integrationKey`) are typed by the middleware that sets them: see AuthEnv, OptionalAuthEnv
 * (middleware/auth.ts) and PartnerEnv (middleware/integration-key.ts).
 */
export interface AppEnv {
	Bindings: Env;
	Variables: {
		config: Config;
		/** What services need, built once per request. */
		deps: Deps;
		/** The request's D1 session (db/d1-session.ts): where its reads start, and its bookmark. */
		d1: D1Session;
		requestId: string;
	};
}

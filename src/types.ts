import type { Config } from "./config.ts";
import type { Db } from "./db/client.ts";
import type { AccessClaims } from "./lib/jwt.ts";

export interface AppEnv {
	Bindings: Env;
	Variables: {
		config: Config;
		db: Db;
		requestId: string;
		/** Set by the bearer-auth middleware. */
		auth: AccessClaims;
		/** Set by the integration-key middleware. */
		integrationKey: { id: number; name: string };
	};
}

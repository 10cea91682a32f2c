import type { Config } from "./config.ts";
import type { Db } from "./db/client.ts";
import type { AccessClaims } from "./lib/jwt.ts";
import type { UsableIntegrationKey } from "./services/integration-keys.ts";

export interface AppEnv {
	Bindings: Env;
	Variables: {
		config: Config;
		db: Db;
		requestId: string;
		/** Set by the bearer-auth middleware. */
		auth: AccessClaims;
		/** Set by the integration-key middleware. */
		integrationKey: UsableIntegrationKey;
	};
}

declare namespace Cloudflare {
	interface Env {
		TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
		TEST_SECONDARY_JWK: string;
		TEST_FOREIGN_JWK: string;
		/** JSON: the top-level vars of wrangler.toml, what a plain `wrangler deploy` publishes. */
		TEST_DEPLOYED_VARS: string;
	}
}

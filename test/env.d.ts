declare namespace Cloudflare {
	interface Env {
		TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
		TEST_SECONDARY_JWK: string;
		TEST_FOREIGN_JWK: string;
	}
}

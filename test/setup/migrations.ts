import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// The migrations test/vitest.config.ts read (the same files wrangler applies locally and remotely), applied to
// this isolate's D1 before any test runs.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

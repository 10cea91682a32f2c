import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { unstable_readConfig } from "wrangler";
import { generateSigningJwk } from "../src/scripts/dev-vars.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig(async () => {
	// Migrations are read here (Node) and applied inside workerd by test/setup/migrations.ts: the same
	// files wrangler applies locally and remotely.
	const migrations = await readD1Migrations(`${root}/migrations`);
	// The vars a plain `wrangler deploy` would publish (the top level), so tests can run the Worker as deployed.
	const deployedVars = unstable_readConfig({ config: `${root}/wrangler.toml` }).vars;
	// Two configured keys (the first signs, both verify) and one foreign key tokens must fail with.
	const [signing, secondary, foreign] = await Promise.all([
		generateSigningJwk("test-signing"),
		generateSigningJwk("test-secondary"),
		generateSigningJwk("test-foreign"),
	]);
	return {
		root,
		test: {
			projects: [
				{
					plugins: [
						cloudflareTest({
							wrangler: { configPath: `${root}/wrangler.toml`, environment: "development" },
							miniflare: {
								bindings: {
									TEST_MIGRATIONS: migrations,
									TEST_DEPLOYED_VARS: JSON.stringify(deployedVars),
									JWT_PRIVATE_KEYS: JSON.stringify([signing, secondary]),
									TEST_SECONDARY_JWK: JSON.stringify(secondary),
									TEST_FOREIGN_JWK: JSON.stringify(foreign),
									PASSWORD_PEPPERS: "t2:test-pepper-current,t1:test-pepper-previous",
									// Suites add modules and read the catalog at once; the cache is tested with its own setting.
									CATALOG_CACHE_SECONDS: "0",
									// The suites run against a dashboard on another origin (an operator's own app), as in
									// production; development's default (links to the Worker's hosted pages) is what
									// `npm run test:browser` clicks through.
									DASHBOARD_URL: "http://localhost:5173/dashboard",
								},
							},
						}),
					],
					test: {
						name: "workers",
						root,
						include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
						setupFiles: ["test/setup/pbkdf2-cap.ts", "test/setup/migrations.ts"],
						testTimeout: 30_000,
					},
				},
				{
					// A few checks need Node (see each file): plain Vitest, no Workers runtime.
					test: { name: "node", root, include: ["test/node/**/*.test.ts"], environment: "node" },
				},
			],
		},
	};
});

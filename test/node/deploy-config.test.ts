import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";

// Runs in Node: reads wrangler.toml the way `wrangler deploy` does. The top level is what a plain
// `wrangler deploy` publishes, so it must be the production configuration.
const configPath = fileURLToPath(new URL("../../wrangler.toml", import.meta.url).href);

describe("wrangler.toml", () => {
	it("a plain `wrangler deploy` (top level) publishes production: no development behaviour, no extra URLs", () => {
		const config = unstable_readConfig({ config: configPath });
		expect(config.vars.ENVIRONMENT).toBe("production");
		expect(config.vars.MAIL_PROVIDER).toBe("http");
		expect(String(config.vars.PUBLIC_BASE_URL)).toMatch(/^https:\/\//);
		expect(String(config.vars.ALLOWED_ORIGINS)).not.toMatch(/localhost|127\.0\.0\.1/);
		expect(config.workers_dev).toBe(false);
		expect(config.preview_urls).toBe(false);
	});

	it("static assets run the Worker first in production and development: no file is served by its own name", () => {
		for (const env of [undefined, "development"]) {
			const { assets } = unstable_readConfig({ config: configPath, env });
			expect(assets, env ?? "top level").toMatchObject({
				directory: "./assets",
				binding: "ASSETS",
				run_worker_first: true,
				html_handling: "none",
				not_found_handling: "none",
			});
		}
	});

	it("development is an explicit environment, also without public URLs", () => {
		const config = unstable_readConfig({ config: configPath, env: "development" });
		expect(config.vars.ENVIRONMENT).toBe("development");
		expect(config.workers_dev).toBe(false);
		expect(config.preview_urls).toBe(false);
		expect(config.name).not.toBe(unstable_readConfig({ config: configPath }).name);
	});
});

import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { dotenvKeys, PORT_FOLLOWING_VARS, portFromArgs, portVarArgs } from "../../src/scripts/dev-port.ts";

// Runs in Node: `npm run dev -- --port N` turns its arguments into wrangler `--var` overrides.
const configPath = fileURLToPath(new URL("../../wrangler.toml", import.meta.url).href);
const devVars = unstable_readConfig({ config: configPath, env: "development" }).vars;
const none = new Set<string>();

describe("npm run dev -- --port N", () => {
	it("moves the issuer, PUBLIC_BASE_URL and DASHBOARD_URL of wrangler.toml's development vars to port N", () => {
		expect(portVarArgs({ args: ["--port", "9000"], configVars: devVars, devVarsKeys: none })).toEqual([
			"--var",
			"JWT_ISSUER:http://localhost:9000",
			"--var",
			"PUBLIC_BASE_URL:http://localhost:9000",
			"--var",
			"DASHBOARD_URL:http://localhost:9000/sign-in",
		]);
		expect(portVarArgs({ args: ["--ip", "0.0.0.0", "--port=9001"], configVars: devVars, devVarsKeys: none })).toContain(
			"PUBLIC_BASE_URL:http://localhost:9001",
		);
	});

	it("changes nothing without --port, or on the default port", () => {
		expect(portVarArgs({ args: [], configVars: devVars, devVarsKeys: none })).toEqual([]);
		expect(portVarArgs({ args: ["--port", "8787"], configVars: devVars, devVarsKeys: none })).toEqual([]);
	});

	it("leaves what .dev.vars or the caller's own --var sets, and URLs that are not the Worker's", () => {
		const keys = dotenvKeys("# comment\nJWT_PRIVATE_KEYS='[]'\nexport DASHBOARD_URL=http://localhost:3000/app\n");
		expect(keys).toEqual(new Set(["JWT_PRIVATE_KEYS", "DASHBOARD_URL"]));
		const args = ["--port", "9000", "--var", "JWT_ISSUER:https://issuer.test"];
		expect(portVarArgs({ args, configVars: devVars, devVarsKeys: keys })).toEqual([
			"--var",
			"PUBLIC_BASE_URL:http://localhost:9000",
		]);
		const elsewhere = {
			JWT_ISSUER: "edge-identity",
			PUBLIC_BASE_URL: "http://127.0.0.1:8787",
			DASHBOARD_URL: "http://localhost:87870/x",
		};
		expect(portVarArgs({ args: ["--port", "9000"], configVars: elsewhere, devVarsKeys: none })).toEqual([
			"--var",
			"PUBLIC_BASE_URL:http://127.0.0.1:9000",
		]);
	});

	it("refuses a port that is not one", () => {
		for (const bad of ["0", "65536", "80a", ""]) expect(() => portFromArgs(["--port", bad]), bad).toThrow(/--port/);
		expect(portFromArgs(["--port", "1", "--port=2"])).toBe(2);
	});
});

describe("wrangler.toml: mailed links and the hosted pages", () => {
	it("development sends every link to the Worker's own pages, which it serves", () => {
		const origin = new URL(String(devVars.PUBLIC_BASE_URL)).origin;
		for (const name of PORT_FOLLOWING_VARS) expect(String(devVars[name]), name).toMatch(/^http:\/\/localhost:8787/);
		expect(new URL(String(devVars.DASHBOARD_URL)).origin).toBe(origin);
		expect(devVars.HOSTED_PAGES).toBe("true");
	});

	it("production keeps links on the operator's DASHBOARD_URL and serves no pages unless asked", () => {
		const deployed = unstable_readConfig({ config: configPath }).vars;
		expect(deployed.HOSTED_PAGES).toBe("false");
		expect(new URL(String(deployed.DASHBOARD_URL)).origin).not.toBe(new URL(String(deployed.PUBLIC_BASE_URL)).origin);
	});
});

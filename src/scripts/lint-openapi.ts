/**
 * `npm run lint:openapi`
 *
 * Writes the OpenAPI document the Worker serves at GET /openapi.json (built from the app itself, no server,
 * as test/node/openapi-schema.test.ts does) to a temporary folder — the development document (which adds
 * /dev/outbox) and the production one — and lints both with Redocly (`redocly.yaml`, the `recommended`
 * ruleset) and Spectral (`.spectral.yaml`, `spectral:oas`). Any warning or error fails (exit 1). The
 * exceptions the contract forces are switched off in those two files, each at its spot, with its reason.
 *
 * Runs under `node --experimental-transform-types`: the app's code uses TypeScript syntax that plain type
 * stripping refuses (parameter properties).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = (name: string) => join(root, "node_modules", ".bin", process.platform === "win32" ? `${name}.cmd` : name);

// The app is Worker code, typed by the root tsconfig (workerd types); this Node script needs only these two
// functions of it, so it imports them at run time rather than typechecking the Worker against Node's types.
interface AppModule {
	createApp(): unknown;
	openApiDocument(app: unknown, config: { publicBaseUrl: string; isDevelopment: boolean }): unknown;
}
const appUrl = pathToFileURL(join(root, "src", "app.ts")).href;
const { createApp, openApiDocument } = (await import(appUrl)) as AppModule;

// The documents and the linters' configuration side by side in a temporary folder, so that the per-spot
// exceptions (.redocly.lint-ignore.yaml; Spectral's `overrides`) name the documents by their file names.
const dir = mkdtempSync(join(tmpdir(), "edge-identity-openapi-"));
let failed = false;
try {
	for (const config of ["redocly.yaml", ".redocly.lint-ignore.yaml", ".spectral.yaml"])
		copyFileSync(join(root, config), join(dir, config));
	const files = [true, false].map((isDevelopment) => {
		const file = `openapi.${isDevelopment ? "development" : "production"}.json`;
		// The server is the development default of PUBLIC_BASE_URL, as `npm run dev` serves it.
		const document = openApiDocument(createApp(), { publicBaseUrl: "http://localhost:8787", isDevelopment });
		writeFileSync(join(dir, file), `${JSON.stringify(document, null, 2)}\n`);
		return file;
	});
	const run = (label: string, command: string, args: string[], check: (output: string) => boolean) => {
		console.log(`\n$ ${label}`);
		const result = spawnSync(command, args, {
			cwd: dir,
			encoding: "utf8",
			shell: process.platform === "win32",
			// No telemetry, no update check: the lint reads nothing but the files above.
			env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
		});
		// Both streams to stdout (Redocly reports on stderr, Spectral on stdout).
		process.stdout.write(`${result.stdout}${result.stderr}`);
		if (result.status !== 0 || !check(`${result.stdout}${result.stderr}`)) {
			console.error(`${label}: failed (exit ${result.status ?? result.signal})`);
			failed = true;
		}
	};
	// Redocly exits 0 on warnings: neither a reported warning nor the summary's count of them may appear.
	run(
		"redocly lint (recommended)",
		bin("redocly"),
		["lint", "--config", "redocly.yaml", "--format", "stylish", "--max-problems", "1000", ...files],
		(output) => !/^\s+\d+:\d+\s+warning\s/m.test(output) && !/You have \d+ warnings?/.test(output),
	);
	// Spectral fails on anything at or above --fail-severity: hint is the lowest.
	run(
		"spectral lint (spectral:oas)",
		bin("spectral"),
		["lint", "--ruleset", ".spectral.yaml", "--fail-severity", "hint", "--format", "text", ...files],
		() => true,
	);
} finally {
	rmSync(dir, { recursive: true, force: true });
}
if (failed) process.exit(1);
console.log("\nOpenAPI lint: no problems (contract exceptions: .redocly.lint-ignore.yaml, .spectral.yaml)");

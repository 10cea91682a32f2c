/**
 * Builds what the bench runs and measures: the instrumented app and the floor Workers (esbuild, the bundler
 * wrangler uses, with workerd's resolution conditions), and the deployable bundle's gzip size (from
 * `wrangler deploy --dry-run`, the exact upload).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

export const FLOORS = ["floor-hello", "floor-pbkdf2", "floor-jwt", "floor-d1"] as const;
export type WorkerName = "app" | (typeof FLOORS)[number];

/** Bundles each bench Worker to `<outdir>/<name>.js`. */
export async function buildWorkers(root: string, outdir: string): Promise<Record<WorkerName, string>> {
	const source = join(root, "src", "scripts", "bench", "worker");
	const names: WorkerName[] = ["app", ...FLOORS];
	await build({
		entryPoints: Object.fromEntries(names.map((name) => [name, join(source, `${name}.ts`)])),
		outdir,
		bundle: true,
		format: "esm",
		platform: "browser",
		target: "es2024",
		conditions: ["workerd", "worker", "browser"],
		mainFields: ["browser", "module", "main"],
		external: ["cloudflare:*"],
		logLevel: "error",
	});
	return Object.fromEntries(names.map((name) => [name, join(outdir, `${name}.js`)])) as Record<WorkerName, string>;
}

export interface BundleSize {
	/** Our own gzip (zlib default level) of every uploaded module. */
	gzipKiB: number | null;
	rawKiB: number | null;
	/** What wrangler itself printed ("Total Upload: … / gzip: …"), for comparison. */
	wranglerLine: string | null;
	error?: string;
}

/** The production bundle, as `wrangler deploy` would upload it (top-level configuration, no deploy). */
export function measureBundle(root: string, outdir: string): BundleSize {
	const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
	const result = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outdir], {
		cwd: root,
		encoding: "utf8",
		env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
	});
	const output = `${result.stdout}\n${result.stderr}`;
	if (result.status !== 0)
		return {
			gzipKiB: null,
			rawKiB: null,
			wranglerLine: null,
			error: `wrangler deploy --dry-run failed: ${output.slice(-800)}`,
		};
	const modules = readdirSync(outdir).filter((f) => !f.endsWith(".map") && f !== "README.md");
	let raw = 0;
	let gzip = 0;
	for (const file of modules) {
		const path = join(outdir, file);
		if (!statSync(path).isFile()) continue;
		const bytes = readFileSync(path);
		raw += bytes.length;
		gzip += gzipSync(bytes).length;
	}
	return {
		gzipKiB: gzip / 1024,
		rawKiB: raw / 1024,
		wranglerLine: output.match(/Total Upload:[^\n]*/)?.[0]?.trim() ?? null,
	};
}

/**
 * Builds what the bench runs and measures: the instrumented app and the floor Workers (esbuild, the bundler
 * wrangler uses, with workerd's resolution conditions), and the deployable bundle's gzip size (from
 * `wrangler deploy --dry-run`, the exact upload).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { build, type Plugin } from "esbuild";
import { unstable_readConfig } from "wrangler";

export const FLOORS = [
	"floor-hello",
	"floor-hello-headers",
	"floor-pbkdf2",
	"floor-sign-in",
	"floor-jwt",
	"floor-d1",
] as const;
export type WorkerName = "app" | (typeof FLOORS)[number];

/**
 * Bundles each bench Worker to `<outdir>/<name>.js` as `wrangler deploy` bundles the production Worker: with
 * wrangler.toml's top-level `minify`, `keep_names` (wrangler's default: true) and `[alias]`. The profile mode asks
 * for it unminified (`readable`), so that its frames name the source's functions.
 */
export async function buildWorkers(
	root: string,
	outdir: string,
	{ readable = false }: { readable?: boolean } = {},
): Promise<Record<WorkerName, string>> {
	const source = join(root, "src", "scripts", "bench", "worker");
	const names: WorkerName[] = ["app", ...FLOORS];
	const config = unstable_readConfig({ config: join(root, "wrangler.toml") });
	await build({
		minify: readable ? false : (config.minify ?? false),
		keepNames: config.keep_names ?? true,
		plugins: [wranglerAliases(root, config.alias ?? {})],
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

/**
 * wrangler.toml's top-level `[alias]` table, applied the way wrangler applies it: an import whose specifier equals a
 * key (relative ones included) resolves to the value, from the project root.
 */
function wranglerAliases(root: string, alias: Record<string, string>): Plugin {
	return {
		name: "wrangler-aliases",
		setup(build) {
			for (const [from, to] of Object.entries(alias)) {
				const filter = new RegExp(`^${from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
				build.onResolve({ filter }, () => ({ path: resolve(root, to) }));
			}
		},
	};
}

export interface BundleSize {
	/** Our own gzip (zlib default level) of every uploaded module. */
	gzipKiB: number | null;
	rawKiB: number | null;
	/** What wrangler itself printed ("Total Upload: … / gzip: …"), for comparison. */
	wranglerLine: string | null;
	/** What the bundle is made of: minified bytes per package or source file (esbuild's metafile), largest first. */
	composition: BundlePart[];
	error?: string;
}

interface BundlePart {
	/** A package (zod by its parts), or one of our files. */
	part: string;
	rawKiB: number;
	/** Share of the bundle's minified bytes. */
	share: number;
}

/**
 * Writes the upload to `outdir` exactly as `wrangler deploy` would make it (top-level configuration, no deploy), and
 * esbuild's metafile beside it (`metafile`), not in it: every file in there counts as uploaded.
 */
export function buildUpload(root: string, outdir: string) {
	const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
	const metafile = `${outdir}-meta.json`;
	const args = [wrangler, "deploy", "--dry-run", "--outdir", outdir, "--metafile", metafile];
	const result = spawnSync(process.execPath, args, {
		cwd: root,
		encoding: "utf8",
		env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
	});
	return { ok: result.status === 0, output: `${result.stdout}\n${result.stderr}`, metafile };
}

/** The production bundle's size and parts, as `wrangler deploy` would upload it. */
export function measureBundle(root: string, outdir: string): BundleSize {
	const { ok, output, metafile } = buildUpload(root, outdir);
	if (!ok)
		return {
			gzipKiB: null,
			rawKiB: null,
			wranglerLine: null,
			composition: [],
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
		composition: composition(metafile),
	};
}

interface Metafile {
	outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/**
 * The bundle's minified bytes by where they come from: a package by its name (zod by its parts: core, classic,
 * locales — the part a build can leave out is the point), our own files each by path. gzip cannot be attributed
 * to parts (it compresses across them); the shares are of the minified bytes.
 */
function composition(metafile: string): BundlePart[] {
	const meta = JSON.parse(readFileSync(metafile, "utf8")) as Metafile;
	const bytes = new Map<string, number>();
	let total = 0;
	for (const output of Object.values(meta.outputs))
		for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
			const part = partOf(input);
			bytes.set(part, (bytes.get(part) ?? 0) + bytesInOutput);
			total += bytesInOutput;
		}
	return [...bytes]
		.map(([part, n]) => ({ part, rawKiB: n / 1024, share: total > 0 ? n / total : 0 }))
		.sort((a, b) => b.rawKiB - a.rawKiB);
}

function partOf(input: string): string {
	const pkg = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/);
	if (!pkg) return input.replace(/^.*?\bsrc\//, "src/");
	const [, name, rest] = pkg as unknown as [string, string, string];
	if (name === "zod") return `zod (${rest.match(/^v4\/(core|classic|locales)\//)?.[1] ?? "other"})`;
	return name;
}

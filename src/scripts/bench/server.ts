/**
 * Runs the bench Workers on workerd through Miniflare's API, each on a direct socket (no wrangler dev proxy, no
 * Miniflare entry worker), on a fresh persistence directory with the D1 migrations applied; finds the workerd
 * process and reads its CPU time; opens workerd's V8 inspector when asked (--profile).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { convertV4MiniflareOptions, Miniflare, Response, type V4WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { FLOORS, type WorkerName } from "./build.ts";

export interface Secrets {
	JWT_PRIVATE_KEYS: string;
	PASSWORD_PEPPERS: string;
	/** Public JWKs of JWT_PRIVATE_KEYS, for the JWT floor. */
	publicJwks: string;
}

export interface Delays {
	primaryMs: number;
	replicaMs: number;
	doMs: number;
}

/** Every limit of src/config.ts (DEFAULT_RATE_LIMITS) lifted: the bench's load must never meet a 429. */
const RATE_LIMIT_NAMES = [
	"loginAccount",
	"loginIp",
	"mailAddress",
	"registerIp",
	"provisionCaller",
	"resetIp",
	"uploadUser",
];
const NO_RATE_LIMITS = JSON.stringify(
	Object.fromEntries(RATE_LIMIT_NAMES.map((name) => [name, { limit: 1_000_000, windowSeconds: 60 }])),
);

export interface Server {
	mf: Miniflare;
	urls: Record<WorkerName, string>;
	/** The workerd process, or why it cannot be read. */
	cpu: { pid: number } | { unavailable: string };
	/** workerd's own inspector (ws://127.0.0.1:<port>, one target per Worker), when started with `inspector`. */
	inspector: URL | null;
	db(): Promise<D1Like>;
	logTail(): string;
	dispose(): Promise<void>;
}

/** The part of Miniflare's D1 binding the bench uses from Node. */
export interface D1Like {
	prepare(sql: string): { bind(...values: unknown[]): D1Statement } & D1Statement;
	batch(statements: D1Statement[]): Promise<unknown[]>;
}
interface D1Statement {
	first<T = Record<string, unknown>>(): Promise<T | null>;
	run(): Promise<unknown>;
}

/**
 * The ASSETS binding as files read from disk (the common-password list the seed's registrations check, read once
 * per isolate). Not Miniflare's `assets` option: that routes every request through an asset router Worker first,
 * a hop production does not charge to the Worker, which would add to every endpoint's CPU and not the floors'.
 */
function assetsFromDisk(directory: string) {
	return async (request: { url: string }) => {
		const path = join(directory, new URL(request.url).pathname);
		if (!path.startsWith(`${directory}/`)) return new Response("not found", { status: 404 });
		try {
			return new Response(readFileSync(path));
		} catch {
			return new Response("not found", { status: 404 });
		}
	};
}

export async function startServer(opts: {
	root: string;
	state: string;
	scripts: Record<WorkerName, string>;
	secrets: Secrets;
	delays: Delays;
	/** Open workerd's inspector on a free port (only --profile: nothing else should pay for it). */
	inspector?: boolean;
}): Promise<Server> {
	const config = unstable_getMiniflareWorkerOptions(join(opts.root, "wrangler.toml"), "development")
		.workerOptions as V4WorkerOptions;
	const { compatibilityDate, compatibilityFlags, bindings, d1Databases, kvNamespaces, r2Buckets, durableObjects } =
		config;
	const vars = Object.fromEntries(Object.entries(bindings ?? {}).filter(([, v]) => typeof v === "string"));
	const socket = [{ host: "127.0.0.1", port: 0 }];
	// Modules are named relative to modulesRoot: the build directory (workerd refuses names with "..").
	const common = {
		modules: true,
		modulesRoot: dirname(opts.scripts.app),
		compatibilityDate,
		compatibilityFlags,
		unsafeDirectSockets: socket,
	};
	const log: string[] = [];
	const mf = new Miniflare(
		convertV4MiniflareOptions({
			resourcePersistencePath: opts.state,
			// Port 0: workerd picks a free one; no Miniflare inspector proxy, the bench talks to workerd's directly.
			...(opts.inspector ? { inspectorPort: 0 } : {}),
			handleStructuredLogs: ({ level, message }) => {
				log.push(`${level}: ${message}`);
				if (log.length > 50) log.shift();
			},
			workers: [
				{
					...common,
					name: "app",
					scriptPath: opts.scripts.app,
					bindings: {
						...vars,
						JWT_PRIVATE_KEYS: opts.secrets.JWT_PRIVATE_KEYS,
						PASSWORD_PEPPERS: opts.secrets.PASSWORD_PEPPERS,
						RATE_LIMITS: NO_RATE_LIMITS,
						BENCH_INSTRUMENT: JSON.stringify(opts.delays),
					},
					d1Databases,
					kvNamespaces,
					r2Buckets,
					durableObjects,
					serviceBindings: { ASSETS: assetsFromDisk(join(opts.root, "assets")) },
				},
				...FLOORS.map((name) => ({
					...common,
					name,
					scriptPath: opts.scripts[name],
					bindings: {
						FLOOR_JWKS: opts.secrets.publicJwks,
						JWT_ISSUER: String(vars.JWT_ISSUER),
						JWT_AUDIENCE: String(vars.JWT_AUDIENCE),
						...(name === "floor-sign-in" ? { JWT_PRIVATE_KEYS: opts.secrets.JWT_PRIVATE_KEYS } : {}),
					},
					...(name === "floor-d1" || name === "floor-sign-in" ? { d1Databases } : {}),
					// The app's own rate-limiter class and objects (the sign-in floor hits them as the app does).
					...(name === "floor-sign-in"
						? { durableObjects: { RATE_LIMITER: { className: "RateLimiter", scriptName: "app" } } }
						: {}),
				})),
			],
		}),
	);
	await mf.ready;
	const urls = {} as Record<WorkerName, string>;
	for (const name of ["app", ...FLOORS] as const) urls[name] = (await mf.unsafeGetDirectURL(name)).origin;
	const db = async () => (await mf.getD1Database("DB", "app")) as unknown as D1Like;
	await applyMigrations(await db(), join(opts.root, "migrations"));
	return {
		mf,
		urls,
		cpu: findWorkerd(),
		inspector: opts.inspector ? await mf.getInspectorURL() : null,
		db,
		logTail: () => log.join("\n"),
		dispose: () => mf.dispose(),
	};
}

/** migrations/*.sql in order, each file as one batch of its `--> statement-breakpoint` parts (drizzle-kit's format). */
export async function applyMigrations(db: D1Like, dir: string) {
	const files = readdirSync(dir)
		.filter((f) => f.endsWith(".sql"))
		.sort();
	for (const file of files) {
		const statements = readFileSync(join(dir, file), "utf8")
			.split("--> statement-breakpoint")
			.map((s) => s.trim())
			.filter((s) => s.replace(/^--.*$/gm, "").trim() !== "");
		try {
			await db.batch(statements.map((s) => db.prepare(s)));
		} catch (error) {
			throw new Error(`migration ${file} failed: ${(error as Error).message}`);
		}
	}
}

/** The workerd child of this process (Miniflare spawns it), from /proc. */
function findWorkerd(): { pid: number } | { unavailable: string } {
	let entries: string[];
	try {
		entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
	} catch {
		return { unavailable: "no /proc on this system: server CPU time cannot be read" };
	}
	for (const entry of entries) {
		try {
			const stat = parseStat(readFileSync(`/proc/${entry}/stat`, "utf8"));
			if (stat.ppid === process.pid && stat.comm.startsWith("workerd")) return { pid: Number(entry) };
		} catch {
			// a process that ended meanwhile
		}
	}
	return { unavailable: "no workerd child process found under this process" };
}

function parseStat(text: string) {
	const close = text.lastIndexOf(")");
	const comm = text.slice(text.indexOf("(") + 1, close);
	// Fields after the command: state(3) ppid(4) … utime(14) stime(15), counted from 1 over the whole line.
	const rest = text
		.slice(close + 2)
		.trim()
		.split(/\s+/);
	return { comm, ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
}

let ticksPerSecond: number | undefined;

/** User + system CPU time of the process, in milliseconds. */
export function cpuMs(pid: number): number {
	ticksPerSecond ??= (() => {
		try {
			return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
		} catch {
			return 100;
		}
	})();
	const stat = parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
	return ((stat.utime + stat.stime) * 1000) / ticksPerSecond;
}

/**
 * The machine's CPU time so far (all cores, in ticks) and the part of it the hypervisor gave to other guests
 * ("steal", /proc/stat): on a shared VM a run that lost CPU to its neighbours measures them as much as the Worker.
 * null where there is no /proc/stat (not Linux).
 */
export function machineTicks(): { total: number; steal: number } | null {
	try {
		const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
		// user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
		const total = fields.slice(0, 8).reduce((sum, n) => sum + n, 0);
		const steal = fields[7];
		return steal === undefined || !Number.isFinite(total) ? null : { total, steal };
	} catch {
		return null;
	}
}

/** The counts instrument.ts keeps inside a Worker. */
export interface Counts {
	started: number;
	finished: number;
	primary: number;
	replica: number;
	statements: number;
	durableObjectCalls: number;
}

export async function counts(url: string): Promise<Counts> {
	const res = await fetch(`${url}/__bench/stats`);
	if (!res.ok) throw new Error(`${url}/__bench/stats answered ${res.status}`);
	return (await res.json()) as Counts;
}

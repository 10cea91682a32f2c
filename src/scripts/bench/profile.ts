/**
 * --profile: records a V8 CPU profile of one Worker's isolate (through workerd's inspector) while load.ts loads an
 * endpoint, and reads it: self and inclusive time per function, self time per module of the bundle.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { WorkerName } from "./build.ts";
import { type Endpoint, runLoad, type Sample } from "./load.ts";
import type { Server } from "./server.ts";

/** The parts of V8's Profiler.Profile the analysis reads (the whole object is what DevTools loads). */
export interface CpuProfile {
	nodes: {
		id: number;
		callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
		children?: number[];
	}[];
	startTime: number;
	endTime: number;
	samples: number[];
	timeDeltas: number[];
}

/** Sampling period: fine enough for sub-millisecond requests, coarse enough not to swamp the isolate. */
const SAMPLING_INTERVAL_US = 100;

/** A minimal Chrome DevTools Protocol client over Node's global WebSocket: commands and their answers. */
async function connectInspector(url: string) {
	const ws = new WebSocket(url);
	await new Promise<void>((resolve, reject) => {
		ws.addEventListener("open", () => resolve(), { once: true });
		ws.addEventListener("error", () => reject(new Error(`inspector: cannot connect to ${url}`)), { once: true });
	});
	let nextId = 1;
	const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
	ws.addEventListener("message", (event) => {
		const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
		const waiter = message.id === undefined ? undefined : pending.get(message.id);
		if (!waiter) return; // events (console messages…) are not needed
		pending.delete(message.id as number);
		if (message.error) waiter.reject(new Error(`inspector: ${message.error.message}`));
		else waiter.resolve(message.result);
	});
	ws.addEventListener("close", () => {
		for (const waiter of pending.values()) waiter.reject(new Error("inspector: connection closed"));
		pending.clear();
	});
	return {
		send<T = unknown>(method: string, params: object = {}): Promise<T> {
			const id = nextId++;
			ws.send(JSON.stringify({ id, method, params }));
			return new Promise((resolve, reject) =>
				pending.set(id, { resolve: resolve as (result: unknown) => void, reject }),
			);
		},
		close: () => ws.close(),
	};
}

/** workerd lists one inspector target per Worker, with the id "core:user:<name>". */
async function targetUrl(inspector: URL, worker: WorkerName): Promise<string> {
	const list = (await (await fetch(`http://${inspector.host}/json/list`)).json()) as {
		id: string;
		webSocketDebuggerUrl: string;
	}[];
	const found = list.find((t) => t.id === `core:user:${worker}`);
	if (!found) throw new Error(`no inspector target for Worker ${worker}; targets: ${list.map((t) => t.id).join(", ")}`);
	return found.webSocketDebuggerUrl;
}

/** runLoad, with the endpoint's Worker profiled for the whole run. */
export async function profileLoad(
	server: Server,
	endpoint: Endpoint,
	load: { connections: number; durationS: number },
): Promise<{ sample: Sample; profile: CpuProfile }> {
	if (!server.inspector) throw new Error("the server was started without an inspector");
	const inspector = await connectInspector(await targetUrl(server.inspector, endpoint.worker));
	try {
		await inspector.send("Profiler.enable");
		await inspector.send("Profiler.setSamplingInterval", { interval: SAMPLING_INTERVAL_US });
		await inspector.send("Profiler.start");
		const sample = await runLoad(server, endpoint, load);
		const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
		await inspector.send("Profiler.disable");
		return { sample, profile };
	} finally {
		inspector.close();
	}
}

/**
 * Which module each line of an unminified esbuild bundle comes from: esbuild writes `// <path>` (relative to the
 * working directory) at column 0 after a blank line before each module's code. (It keeps some source comments too,
 * but those are indented or not a lone path.)
 */
export class ModuleMap {
	readonly file: string;
	private readonly starts: { line: number; module: string }[] = [];

	constructor(bundlePath: string) {
		this.file = basename(bundlePath);
		const lines = readFileSync(bundlePath, "utf8").split("\n");
		lines.forEach((text, line) => {
			const match = /^\/\/ (\S+\.[cm]?[jt]sx?)$/.exec(text);
			if (match?.[1] && (line === 0 || lines[line - 1] === "")) this.starts.push({ line, module: match[1] });
		});
	}

	/** The module holding a 0-based line (binary search over the module starts). */
	moduleAt(line: number): string {
		let low = 0;
		let high = this.starts.length - 1;
		let found = "(esbuild helpers)"; // __name (keepNames), __export…: the lines before the first module
		while (low <= high) {
			const mid = (low + high) >> 1;
			const start = this.starts[mid] as { line: number; module: string };
			if (start.line <= line) {
				found = start.module;
				low = mid + 1;
			} else high = mid - 1;
		}
		return found;
	}
}

/** V8's pseudo-frames: they keep their names and have no module. */
const SPECIAL = new Set(["(root)", "(program)", "(idle)", "(garbage collector)"]);

/** node_modules code grouped by package, our own by file. */
function moduleGroup(module: string): string {
	const inPackage = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(module);
	return inPackage?.[1] ?? module;
}

interface Row {
	name: string;
	/** Module (file) and line in the bundle, 1-based; a native function's JS caller; empty for pseudo-frames. */
	where: string;
	ms: number;
	/** Share of the non-idle sampled time. */
	percent: number;
	/** Microseconds per request the Worker finished during the run. */
	usPerRequest: number | null;
}

export interface Analysis {
	/** Samples taken, and those of them idle (excluded from every figure below). */
	samples: number;
	idleSamples: number;
	/** The median time between samples: what one sample stands for. */
	intervalUs: number;
	/** Busy (non-idle) samples × interval. */
	busyMs: number;
	requests: number;
	self: Row[];
	inclusive: Row[];
	modules: Row[];
}

/** The profiles of one endpoint's runs (one per round), read together; `requests` the Worker finished in them. */
export function analyze(profiles: CpuProfile[], modules: ModuleMap, requests: number, top = 15): Analysis {
	const self = new Map<string, { name: string; where: string; us: number }>();
	const inclusive = new Map<string, { name: string; where: string; us: number }>();
	const byModule = new Map<string, number>();
	let samples = 0;
	let idleSamples = 0;
	let busyUs = 0;
	for (const profile of profiles) {
		const totals = read(profile, modules, self, inclusive, byModule);
		samples += totals.samples;
		idleSamples += totals.idleSamples;
		busyUs += totals.busyUs;
	}
	const row = (name: string, where: string, us: number): Row => ({
		name,
		where,
		ms: us / 1000,
		percent: busyUs > 0 ? (us / busyUs) * 100 : 0,
		usPerRequest: requests > 0 ? us / requests : null,
	});
	const ranked = (map: typeof self, limit: number) =>
		[...map.values()]
			.sort((a, b) => b.us - a.us)
			.slice(0, limit)
			.map((r) => row(r.name, r.where, r.us));
	return {
		samples,
		idleSamples,
		intervalUs: samples > idleSamples ? busyUs / (samples - idleSamples) : 0,
		busyMs: busyUs / 1000,
		requests,
		self: ranked(self, top),
		inclusive: ranked(inclusive, top),
		modules: [...byModule.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => row(name, "", us)),
	};
}

type Totals = Map<string, { name: string; where: string; us: number }>;
/** One function as the tables show it; `group` is its row in the module table. */
interface Frame {
	key: string;
	name: string;
	where: string;
	group: string;
}

/**
 * Adds one profile's samples to the totals (microseconds). Each sample stands for the profile's median interval,
 * not for the time until the next one (as DevTools draws it): V8 samples the isolate only while it runs, so a
 * gap between two samples is mostly time the thread spent elsewhere (D1's own Worker running a query, other
 * requests' I/O), which a time-until-next count would charge to whatever function happened to be sampled last.
 */
function read(profile: CpuProfile, modules: ModuleMap, self: Totals, inclusive: Totals, byModule: Map<string, number>) {
	const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
	const parent = new Map<number, number>();
	for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
	const deltas = profile.timeDeltas.slice(1).sort((a, b) => a - b);
	const intervalUs = deltas[deltas.length >> 1] ?? 0;
	const hits = new Map<number, number>();
	for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

	const frame = (id: number) => (nodes.get(id) as CpuProfile["nodes"][number]).callFrame;
	const described = new Map<number, Frame>();
	const describe = (id: number): Frame => {
		const known = described.get(id);
		if (known) return known;
		const { functionName, url, lineNumber, columnNumber } = frame(id);
		let d: Frame;
		if (SPECIAL.has(functionName)) d = { key: functionName, name: functionName, where: "", group: functionName };
		else if (url === "") {
			// A function without a script is workerd's or V8's, in C++ (Response, Headers, crypto.subtle…). Its name is
			// not reliable (V8 names a C++ callback after one method using it, and workerd's look shared: `set tracing`
			// shows up where the JS calls no such setter), so it is told apart, and grouped, by its nearest JS caller.
			let caller = parent.get(id);
			while (caller !== undefined && frame(caller).url === "" && !SPECIAL.has(frame(caller).functionName))
				caller = parent.get(caller);
			const from = caller !== undefined && frame(caller).url !== "" ? describe(caller) : undefined;
			d = {
				key: `${functionName}<${from?.key ?? ""}`,
				name: `${functionName || "(anonymous)"} [native]`,
				where: from ? `called by ${from.name} · ${from.where}` : "no JS caller: workerd's own callbacks",
				group: from ? `${from.group} (native calls)` : "(native, no JS caller)",
			};
		} else {
			const ours = basename(url) === modules.file;
			const module = ours ? modules.moduleAt(lineNumber) : url; // e.g. workerd's cloudflare-internal:d1-api
			d = {
				key: `${functionName}@${url}:${lineNumber}:${columnNumber}`,
				name: functionName || "(anonymous)",
				where: ours ? `${module} (${modules.file}:${lineNumber + 1})` : module,
				group: moduleGroup(module),
			};
		}
		described.set(id, d);
		return d;
	};

	let idleSamples = 0;
	let busyUs = 0;
	const add = (map: Totals, d: Frame, us: number) => {
		const row = map.get(d.key) ?? { name: d.name, where: d.where, us: 0 };
		row.us += us;
		map.set(d.key, row);
	};
	for (const [id, count] of hits) {
		const d = describe(id);
		if (d.key === "(idle)") {
			idleSamples += count;
			continue;
		}
		const us = count * intervalUs;
		busyUs += us;
		add(self, d, us);
		byModule.set(d.group, (byModule.get(d.group) ?? 0) + us);
		// Every distinct function on the stack, once even when it recurses.
		const seen = new Set<string>();
		for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
			const frame = describe(n);
			if (SPECIAL.has(frame.key) || seen.has(frame.key)) continue;
			seen.add(frame.key);
			add(inclusive, frame, us);
		}
	}
	return {
		samples: profile.samples.length,
		idleSamples,
		busyUs,
	};
}

/** One endpoint's analysis as printed: the per-function tables, then the modules (those past `top` summed up). */
export function analysisText(endpoint: string, a: Analysis, sample: Sample, top = 15): string {
	const modules = a.modules.slice(0, top);
	const rest = a.modules.slice(top);
	const sum = (pick: (r: Row) => number) => rest.reduce((total, r) => total + pick(r), 0);
	if (rest.length > 0)
		modules.push({
			name: `(${rest.length} more modules)`,
			where: "",
			ms: sum((r) => r.ms),
			percent: sum((r) => r.percent),
			usPerRequest: sum((r) => r.usPerRequest ?? 0),
		});
	const tables: [string, Row[], boolean][] = [
		["self time, top functions", a.self, true],
		["inclusive time, top functions", a.inclusive, true],
		["self time by module", modules, false],
	];
	const width = Math.min(
		56,
		Math.max(...tables.flatMap(([title, rows]) => [title, ...rows.map((r) => r.name)].map((n) => n.length))),
	);
	const cells = (name: string, ms: string, percent: string, us: string, where: string) =>
		`  ${(name.length > width ? `${name.slice(0, width - 1)}…` : name).padEnd(width)}${ms.padStart(9)}${percent.padStart(7)}${us.padStart(9)}${where ? `  ${where}` : ""}`;
	const workerd =
		sample.cpuMsPerRequest === null ? "" : `; workerd process CPU ${(sample.cpuMsPerRequest * 1000).toFixed(0)} µs/req`;
	const perRequest = a.requests > 0 ? `${((a.busyMs * 1000) / a.requests).toFixed(0)} µs/req` : "n/a";
	return [
		`== ${endpoint}: ${a.samples - a.idleSamples} busy samples × ${a.intervalUs.toFixed(0)} µs = ${a.busyMs.toFixed(1)} ms, ${perRequest} over ${a.requests} requests (${a.idleSamples} idle samples left out)${workerd}`,
		...tables.flatMap(([title, rows, withWhere]) => [
			cells(title, "ms", "%", "µs/req", withWhere ? "where" : ""),
			...rows.map((r) =>
				cells(
					r.name,
					r.ms.toFixed(1),
					r.percent.toFixed(1),
					r.usPerRequest?.toFixed(1) ?? "n/a",
					withWhere ? r.where : "",
				),
			),
		]),
	].join("\n");
}

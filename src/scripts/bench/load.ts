/**
 * Loads one endpoint with autocannon for a fixed time and measures it: throughput, latency, the server
 * process's CPU per request and, from the Worker's own counts, D1 round trips and rate-limiter calls per request.
 */
import autocannon from "autocannon";
import type { WorkerName } from "./build.ts";
import { type Counts, counts, cpuMs, machineTicks, type Server } from "./server.ts";

export interface Endpoint {
	name: string;
	worker: WorkerName;
	method: "GET" | "POST";
	path: string;
	headers?: Record<string, string>;
	/** Request bodies, used in turn (e.g. one sign-in per account in rotation). */
	bodies?: string[];
	/** Extra headers, one set per request in turn (e.g. a different access token each time). */
	headerSets?: Record<string, string>[];
	/** A refresh-cookie pool: each request takes the latest cookie of one session and gives back its successor. */
	refresh?: RefreshPool;
}

export interface Sample {
	reqPerSec: number;
	p50Ms: number;
	p99Ms: number;
	/** Responses the load generator received, and those that were not 2xx (plus socket errors and timeouts). */
	responses: number;
	non2xx: number;
	errors: number;
	timeouts: number;
	statusCodes: Record<string, number>;
	/** Requests the Worker finished during the run (the denominator of the per-request figures below). */
	serverRequests: number;
	cpuMsPerRequest: number | null;
	d1PrimaryPerRequest: number;
	d1ReplicaPerRequest: number;
	d1StatementsPerRequest: number;
	durableObjectCallsPerRequest: number;
	/**
	 * CPU time over wall time while the load ran: the workerd process's, and the bench's own Node process's
	 * (the load generator). A generator near 1.0 (one core) may be the bottleneck, not the Worker.
	 */
	serverCpuShare: number | null;
	generatorCpuShare: number;
	/** The share of the machine's CPU time the hypervisor gave to other guests while the load ran (null: unknown). */
	stealShare: number | null;
}

/** The latest refresh cookie of each session not in flight. */
export class RefreshPool {
	private readonly available: string[] = [];
	/** 2xx answers that carried no new cookie (the grace answer to a stale cookie): should stay 0. */
	answersWithoutCookie = 0;
	get size() {
		return this.available.length;
	}
	give(cookie: string) {
		this.available.push(cookie);
	}
	take(): string | undefined {
		return this.available.shift();
	}
}

export function refreshCookieOf(setCookie: string | string[] | undefined): string | undefined {
	for (const line of [setCookie ?? []].flat()) {
		const match = /^refresh_token=([^;]*)/.exec(line);
		if (match?.[1]) return match[1];
	}
	return undefined;
}

function header(headers: Record<string, unknown>, name: string): string | string[] | undefined {
	for (const [key, value] of Object.entries(headers))
		if (key.toLowerCase() === name) return value as string | string[] | undefined;
	return undefined;
}

/** Waits until the Worker has finished every request it started (the load generator stops mid-flight). */
async function settle(url: string, timeoutMs = 5_000): Promise<Counts> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const now = await counts(url);
		if (now.started === now.finished || Date.now() > deadline) {
			// Work a handler left to ctx.waitUntil (mail, bookkeeping) belongs to its request too.
			await new Promise((r) => setTimeout(r, 200));
			return counts(url);
		}
		await new Promise((r) => setTimeout(r, 50));
	}
}

export async function runLoad(
	server: Server,
	endpoint: Endpoint,
	load: { connections: number; durationS: number },
): Promise<Sample> {
	const url = server.urls[endpoint.worker];
	const bodies = endpoint.bodies;
	let next = 0;
	const pool = endpoint.refresh;
	const request: autocannon.Request = {
		method: endpoint.method,
		path: endpoint.path,
		headers: { ...endpoint.headers },
		...(bodies?.[0] ? { body: bodies[0] } : {}),
	};
	if (bodies && bodies.length > 1)
		request.setupRequest = (req) => {
			req.body = bodies[next++ % bodies.length];
			return req;
		};
	const headerSets = endpoint.headerSets;
	if (headerSets && headerSets.length > 0)
		request.setupRequest = (req) => {
			req.headers = { ...endpoint.headers, ...headerSets[next++ % headerSets.length] };
			return req;
		};
	if (pool) {
		request.setupRequest = (req) => {
			const cookie = pool.take();
			req.headers = { ...endpoint.headers, ...(cookie ? { cookie: `refresh_token=${cookie}` } : {}) };
			return req;
		};
		request.onResponse = (status, _body, _context, headers) => {
			const cookie = refreshCookieOf(header(headers as Record<string, unknown>, "set-cookie"));
			if (cookie) pool.give(cookie);
			else if (status < 300) pool.answersWithoutCookie += 1;
		};
	}

	const before = await settle(url);
	const cpuBefore = "pid" in server.cpu ? cpuMs(server.cpu.pid) : null;
	const wallStart = performance.now();
	const generatorBefore = process.cpuUsage();
	const machineBefore = machineTicks();
	const result = await autocannon({
		url,
		connections: load.connections,
		duration: load.durationS,
		requests: [request],
		timeout: 30,
	});
	const generator = process.cpuUsage(generatorBefore);
	const machineAfter = machineTicks();
	const wallMs = performance.now() - wallStart;
	const cpuAtEnd = "pid" in server.cpu ? cpuMs(server.cpu.pid) : null;
	const after = await settle(url);
	const cpuAfter = "pid" in server.cpu ? cpuMs(server.cpu.pid) : null;

	const served = after.finished - before.finished;
	const per = (key: keyof Counts) => (served > 0 ? (after[key] - before[key]) / served : 0);
	const statusCodes: Record<string, number> = {};
	for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
		statusCodes[code] = (stat as { count: number }).count;
	return {
		reqPerSec: result.requests.total / result.duration,
		p50Ms: result.latency.p50,
		p99Ms: result.latency.p99,
		responses: result.requests.total,
		non2xx: result.non2xx,
		errors: result.errors,
		timeouts: result.timeouts,
		statusCodes,
		serverRequests: served,
		cpuMsPerRequest: cpuBefore !== null && cpuAfter !== null && served > 0 ? (cpuAfter - cpuBefore) / served : null,
		d1PrimaryPerRequest: per("primary"),
		d1ReplicaPerRequest: per("replica"),
		d1StatementsPerRequest: per("statements"),
		durableObjectCallsPerRequest: per("durableObjectCalls"),
		serverCpuShare: cpuBefore !== null && cpuAtEnd !== null ? (cpuAtEnd - cpuBefore) / wallMs : null,
		generatorCpuShare: (generator.user + generator.system) / 1000 / wallMs,
		stealShare:
			machineBefore && machineAfter && machineAfter.total > machineBefore.total
				? (machineAfter.steal - machineBefore.steal) / (machineAfter.total - machineBefore.total)
				: null,
	};
}

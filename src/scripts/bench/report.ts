/** Turns samples into what the bench prints and saves: medians over rounds, tables, targets with PASS/FAIL, failures. */
import type { Sample } from "./load.ts";

export interface Measured {
	/** Median of each figure over the rounds; counts of failures summed. */
	median: Sample;
	rounds: Sample[];
}

export function summarize(rounds: Sample[]): Measured {
	const median = (pick: (s: Sample) => number | null): number | null => {
		const values = rounds
			.map(pick)
			.filter((v): v is number => v !== null)
			.sort((a, b) => a - b);
		if (values.length === 0) return null;
		const mid = Math.floor(values.length / 2);
		return values.length % 2 ? (values[mid] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
	};
	const sum = (pick: (s: Sample) => number) => rounds.reduce((total, s) => total + pick(s), 0);
	const statusCodes: Record<string, number> = {};
	for (const s of rounds)
		for (const [code, n] of Object.entries(s.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
	return {
		median: {
			reqPerSec: median((s) => s.reqPerSec) ?? 0,
			p50Ms: median((s) => s.p50Ms) ?? 0,
			p99Ms: median((s) => s.p99Ms) ?? 0,
			responses: sum((s) => s.responses),
			non2xx: sum((s) => s.non2xx),
			errors: sum((s) => s.errors),
			timeouts: sum((s) => s.timeouts),
			statusCodes,
			serverRequests: sum((s) => s.serverRequests),
			cpuMsPerRequest: median((s) => s.cpuMsPerRequest),
			d1PrimaryPerRequest: median((s) => s.d1PrimaryPerRequest) ?? 0,
			d1ReplicaPerRequest: median((s) => s.d1ReplicaPerRequest) ?? 0,
			d1StatementsPerRequest: median((s) => s.d1StatementsPerRequest) ?? 0,
			durableObjectCallsPerRequest: median((s) => s.durableObjectCallsPerRequest) ?? 0,
			serverCpuShare: median((s) => s.serverCpuShare),
			generatorCpuShare: median((s) => s.generatorCpuShare) ?? 0,
			stealShare: median((s) => s.stealShare),
		},
		rounds,
	};
}

export interface Target {
	name: string;
	/** e.g. "≤ 1.15 × floor" */
	rule: string;
	actual: number | null;
	limit: number;
	kind: "max" | "min";
	/** Why `actual` is null, when it is. */
	unmeasured?: string;
	pass: boolean | null;
}

export function target(
	name: string,
	rule: string,
	actual: number | null,
	kind: "max" | "min",
	limit: number,
	unmeasured?: string,
): Target {
	const pass = actual === null || !Number.isFinite(actual) ? null : kind === "max" ? actual <= limit : actual >= limit;
	return {
		name,
		rule,
		actual,
		limit,
		kind,
		pass,
		...(actual === null ? { unmeasured: unmeasured ?? "not measured" } : {}),
	};
}

export const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
	a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

/**
 * An endpoint's figure over its floor's, round by round (the two ran minutes apart at most, adjacent in each round),
 * then the median of those ratios: steadier than the ratio of the two medians when the machine's speed drifts.
 * Only the rounds where neither side lost CPU to other guests of the VM count, when there is one such round (a
 * steal share above STEAL_LIMIT, or unknown, on either side rules a round out); otherwise every round does.
 */
export function pairedRatio(
	a: Measured | undefined,
	b: Measured | undefined,
	pick: (s: Sample) => number | null,
): number | null {
	if (!a || !b) return null;
	const pairs = a.rounds.flatMap((sample, i) => {
		const floor = b.rounds[i];
		const value = floor ? ratio(pick(sample), pick(floor)) : null;
		return floor && value !== null ? [{ value, clean: isClean(sample) && isClean(floor) }] : [];
	});
	const clean = pairs.filter((p) => p.clean);
	const ratios = (clean.length > 0 ? clean : pairs).map((p) => p.value).sort((x, y) => x - y);
	if (ratios.length === 0) return null;
	const mid = Math.floor(ratios.length / 2);
	return ratios.length % 2 ? (ratios[mid] as number) : ((ratios[mid - 1] as number) + (ratios[mid] as number)) / 2;
}

const isClean = (s: Sample) => s.stealShare !== null && s.stealShare <= STEAL_LIMIT;

const fmt = (v: number | null, digits = 1) => (v === null ? "n/a" : v.toFixed(digits));

export type Column = [header: string, width: number, cell: (m: Sample) => string];

export const NORMAL_COLUMNS: Column[] = [
	["req/s", 9, (m) => fmt(m.reqPerSec)],
	["p50 ms", 8, (m) => fmt(m.p50Ms)],
	["p99 ms", 8, (m) => fmt(m.p99Ms)],
	["CPU ms/req", 11, (m) => fmt(m.cpuMsPerRequest, 2)],
	["D1 rt/req", 10, (m) => fmt(m.d1PrimaryPerRequest + m.d1ReplicaPerRequest, 2)],
	["DO/req", 7, (m) => fmt(m.durableObjectCallsPerRequest, 2)],
	["srv CPU", 8, (m) => (m.serverCpuShare === null ? "n/a" : `${(m.serverCpuShare * 100).toFixed(0)}%`)],
	["gen CPU", 8, (m) => `${(m.generatorCpuShare * 100).toFixed(0)}%`],
	["steal", 6, (m) => (m.stealShare === null ? "n/a" : `${(m.stealShare * 100).toFixed(0)}%`)],
	["requests", 9, (m) => String(m.responses)],
	["non-2xx", 8, (m) => String(m.non2xx + m.errors + m.timeouts)],
];

export const LEGEND =
	"CPU ms/req: workerd process CPU time ÷ requests the Worker finished; D1 rt/req: D1 round trips; DO/req: rate-limiter calls; " +
	"srv CPU / gen CPU: CPU time ÷ wall time of workerd / of the load generator (100% = one core); " +
	"steal: the machine's CPU time its hypervisor gave to other guests during the run; latency has 1 ms resolution";

/** Above this steal share a run measured the neighbours of a shared VM as much as the Worker. */
const STEAL_LIMIT = 0.05;

/** A note on the runs (endpoint × round) that lost CPU to other guests, or null when none did (or unknown). */
export function stealNote(results: Record<string, Measured>): string | null {
	const runs = Object.values(results).flatMap((r) => r.rounds);
	const shares = runs.map((s) => s.stealShare).filter((v): v is number => v !== null);
	const stolen = shares.filter((v) => v > STEAL_LIMIT);
	if (stolen.length === 0) return null;
	return `steal: ${stolen.length} of ${runs.length} runs lost more than ${STEAL_LIMIT * 100}% of the machine's CPU to other guests (up to ${(Math.max(...stolen) * 100).toFixed(0)}%): they measure the neighbours too, so a ratio uses only the rounds where neither side did, when there is one — with many such runs, run again`;
}

export const FAR_COLUMNS: Column[] = [
	["p50 ms", 8, (m) => fmt(m.p50Ms)],
	["p99 ms", 8, (m) => fmt(m.p99Ms)],
	["primary/req", 12, (m) => fmt(m.d1PrimaryPerRequest, 2)],
	["replica/req", 12, (m) => fmt(m.d1ReplicaPerRequest, 2)],
	["DO/req", 7, (m) => fmt(m.durableObjectCallsPerRequest, 2)],
	["requests", 9, (m) => String(m.responses)],
	["non-2xx", 8, (m) => String(m.non2xx + m.errors + m.timeouts)],
];

export function table(rows: [string, Sample][], columns: Column[]): string {
	const nameWidth = Math.max(10, ...rows.map(([name]) => name.length)) + 2;
	const head = "endpoint".padEnd(nameWidth) + columns.map(([h, w]) => h.padStart(w)).join(" ");
	const lines = rows.map(
		([name, m]) => name.padEnd(nameWidth) + columns.map(([, w, cell]) => cell(m).padStart(w)).join(" "),
	);
	return [head, "-".repeat(head.length), ...lines].join("\n");
}

export function targetLines(targets: Target[]): string {
	return targets
		.map((t) => {
			const verdict = t.pass === null ? "N/A " : t.pass ? "PASS" : "FAIL";
			const actual = t.actual === null ? `not measured (${t.unmeasured})` : fmt(t.actual, 3);
			return `${verdict}  ${t.name}: ${actual} (target ${t.rule})`;
		})
		.join("\n");
}

/** Endpoints that had any non-2xx answer, socket error or timeout: the figures of such a run are suspect. */
export function failures(results: Record<string, Measured>): string[] {
	return Object.entries(results)
		.filter(([, r]) => r.median.non2xx + r.median.errors + r.median.timeouts > 0)
		.map(
			([name, r]) =>
				`${name}: ${r.median.non2xx} non-2xx, ${r.median.errors} errors, ${r.median.timeouts} timeouts (status counts ${JSON.stringify(r.median.statusCodes)})`,
		);
}

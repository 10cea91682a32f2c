import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Sample } from "../../src/scripts/bench/load.ts";
import { type Measured, pairedRatio, stealNote, summarize } from "../../src/scripts/bench/report.ts";
import { machineTicks } from "../../src/scripts/bench/server.ts";

// The bench's arithmetic (its figures are what README "Bench" reports): per-round ratios and the steal warning.
function sample(overrides: Partial<Sample>): Sample {
	return {
		reqPerSec: 100,
		p50Ms: 1,
		p99Ms: 2,
		responses: 100,
		non2xx: 0,
		errors: 0,
		timeouts: 0,
		statusCodes: { 200: 100 },
		serverRequests: 100,
		cpuMsPerRequest: 1,
		d1PrimaryPerRequest: 0,
		d1ReplicaPerRequest: 0,
		d1StatementsPerRequest: 0,
		durableObjectCallsPerRequest: 0,
		serverCpuShare: 1,
		generatorCpuShare: 0.2,
		stealShare: 0,
		...overrides,
	};
}

const rounds = (...values: Partial<Sample>[]): Measured => summarize(values.map(sample));

describe("bench report", () => {
	it("a ratio is the median of the per-round ratios (each round's endpoint over the same round's floor)", () => {
		const endpoint = rounds({ reqPerSec: 80 }, { reqPerSec: 40 }, { reqPerSec: 90 });
		// The machine was slow in round 2 for both: per round 0.8, 0.8, 0.9 (the medians' ratio would say 0.8 too,
		// but a round where only one side was slow moves one ratio, not the medians of both).
		const floor = rounds({ reqPerSec: 100 }, { reqPerSec: 50 }, { reqPerSec: 100 });
		expect(pairedRatio(endpoint, floor, (s) => s.reqPerSec)).toBeCloseTo(0.8);
		const oneBadRound = rounds({ reqPerSec: 100 }, { reqPerSec: 100 }, { reqPerSec: 20 });
		expect(
			pairedRatio(rounds({ reqPerSec: 80 }, { reqPerSec: 90 }, { reqPerSec: 85 }), oneBadRound, (s) => s.reqPerSec),
		).toBeCloseTo(0.9);
		expect(pairedRatio(endpoint, undefined, (s) => s.reqPerSec)).toBeNull();
		expect(pairedRatio(endpoint, rounds({ cpuMsPerRequest: null }), (s) => s.cpuMsPerRequest)).toBeNull();
	});

	it("a ratio uses only the rounds where neither side lost CPU to other guests, when there is one", () => {
		const endpoint = rounds({ reqPerSec: 50, stealShare: 0.3 }, { reqPerSec: 90 }, { reqPerSec: 60 });
		const floor = rounds({ reqPerSec: 100 }, { reqPerSec: 100 }, { reqPerSec: 100, stealShare: 0.2 });
		expect(pairedRatio(endpoint, floor, (s) => s.reqPerSec)).toBeCloseTo(0.9);
		// No clean round: every round counts (0.5, 0.6 → 0.55).
		const stolen = rounds({ reqPerSec: 50, stealShare: 0.3 }, { reqPerSec: 60, stealShare: null });
		expect(pairedRatio(stolen, rounds({ reqPerSec: 100 }, { reqPerSec: 100 }), (s) => s.reqPerSec)).toBeCloseTo(0.55);
	});

	it("warns when runs lost CPU to other guests of the VM, and only then", () => {
		expect(
			stealNote({ a: rounds({ stealShare: 0.01 }, { stealShare: 0.05 }), b: rounds({ stealShare: null }) }),
		).toBeNull();
		const note = stealNote({ a: rounds({ stealShare: 0.01 }, { stealShare: 0.2 }), b: rounds({ stealShare: 0.06 }) });
		expect(note).toMatch(/^steal: 2 of 3 runs lost more than 5% .* \(up to 20%\)/);
		expect(
			summarize([sample({ stealShare: 0.1 }), sample({ stealShare: 0.3 }), sample({ stealShare: 0.2 })]).median
				.stealShare,
		).toBeCloseTo(0.2);
	});

	it.runIf(existsSync("/proc/stat"))("reads the machine's CPU ticks and their stolen part from /proc/stat", () => {
		const ticks = machineTicks();
		expect(ticks).not.toBeNull();
		expect(ticks?.total).toBeGreaterThan(0);
		expect(ticks?.steal).toBeGreaterThanOrEqual(0);
		expect(ticks?.steal).toBeLessThanOrEqual(ticks?.total ?? 0);
	});
});

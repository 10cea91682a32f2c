import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { unique } from "../helpers/unique.ts";

const limiter = () => env.RATE_LIMITER.getByName(unique("rl"));

describe("RateLimiter Durable Object", () => {
	afterEach(() => vi.useRealTimers());

	it("allows exactly `limit` hits per window and says when to retry", async () => {
		const stub = limiter();
		const decisions = [];
		for (let i = 0; i < 4; i++) decisions.push(await stub.hit(3, 60_000));
		expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
		expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
		const refused = decisions[3];
		expect(refused?.retryAfterMs).toBeGreaterThan(59_000);
		expect(refused?.retryAfterMs).toBeLessThanOrEqual(60_000);
	});

	it("is exact under concurrency: 20 parallel hits against a limit of 5 allow 5", async () => {
		const stub = limiter();
		const decisions = await Promise.all(Array.from({ length: 20 }, () => stub.hit(5, 60_000)));
		expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
		// A refused hit counts nothing: the window holds exactly the 5 allowed.
		await runInDurableObject(stub, async (_, state) => {
			expect(state.storage.kv.get<number[]>("hits")).toHaveLength(5);
		});
	});

	it("slides: hits leave the window one by one", async () => {
		const stub = limiter();
		await runInDurableObject(stub, async (instance) => {
			const start = Date.now();
			vi.useFakeTimers({ toFake: ["Date"], now: start });
			instance.hit(2, 1000);
			vi.setSystemTime(start + 500);
			instance.hit(2, 1000);
			expect(instance.hit(2, 1000).allowed).toBe(false);
			vi.setSystemTime(start + 1001); // the first hit has left the window
			expect(instance.hit(2, 1000).allowed).toBe(true);
			expect(instance.hit(2, 1000).allowed).toBe(false);
		});
	});

	it("refund takes back the latest hit", async () => {
		const stub = limiter();
		await stub.hit(2, 60_000);
		await stub.hit(2, 60_000);
		expect((await stub.hit(2, 60_000)).allowed).toBe(false); // full: refused, and not counted
		await stub.refund(60_000);
		expect((await stub.hit(2, 60_000)).allowed).toBe(true);
		expect((await stub.hit(2, 60_000)).allowed).toBe(false);
	});

	it("keeps its count across evictions (state lives in storage)", async () => {
		const stub = limiter();
		await stub.hit(2, 60_000);
		await stub.hit(2, 60_000);
		const { evictDurableObject } = await import("cloudflare:test");
		await evictDurableObject(stub);
		expect((await stub.hit(2, 60_000)).allowed).toBe(false);
	});
});

import { DurableObject } from "cloudflare:workers";
import type { RateLimitDecision } from "../lib/rate-limit.ts";

/**
 * One instance per limited key (e.g. "loginAccount:<hash>"): a sliding-window log of hit times.
 * A Durable Object runs one call at a time and the synchronous SQLite-backed KV API has no
 * await inside a decision, so concurrent callers are counted exactly.
 */
export class RateLimiter extends DurableObject<Env> {
	private decide(hits: number[], limit: number, windowMs: number, now: number, counted: boolean): RateLimitDecision {
		const oldest = hits[0];
		const resetMs = oldest === undefined ? 0 : Math.max(0, oldest + windowMs - now);
		const allowed = counted || hits.length < limit;
		// When full, a slot frees when the hit at position (length - limit) expires.
		const blocking = hits[hits.length - limit];
		const retryAfterMs = allowed || blocking === undefined ? 0 : Math.max(1, blocking + windowMs - now);
		return { allowed, limit, remaining: Math.max(0, limit - hits.length), resetMs, retryAfterMs };
	}

	private load(windowMs: number, now: number): number[] {
		const hits = this.ctx.storage.kv.get<number[]>("hits") ?? [];
		return hits.filter((t) => t > now - windowMs);
	}

	/** The window this instance last stored (written again only when it changes, or after an eviction). */
	private storedWindowMs: number | undefined;
	/** When the cleanup alarm this instance set will ring (undefined: none set since this instance started). */
	private alarmAt: number | undefined;

	private save(hits: number[], windowMs: number, now: number) {
		if (hits.length === 0) {
			this.ctx.storage.kv.delete("hits");
			return;
		}
		this.ctx.storage.kv.put("hits", hits);
		if (this.storedWindowMs !== windowMs) {
			this.ctx.storage.kv.put("windowMs", windowMs);
			this.storedWindowMs = windowMs;
		}
		// Clean up the object's storage once its last hit has left the window. An alarm still to ring is kept
		// (one storage write fewer per call): when it rings early, alarm() sets the next one.
		if (this.alarmAt === undefined || this.alarmAt <= now) this.armAlarm(hits, windowMs);
	}

	private armAlarm(hits: number[], windowMs: number) {
		this.alarmAt = (hits[hits.length - 1] as number) + windowMs;
		void this.ctx.storage.setAlarm(this.alarmAt);
	}

	/** Counts one hit if the window has room. */
	hit(limit: number, windowMs: number): RateLimitDecision {
		const now = Date.now();
		const hits = this.load(windowMs, now);
		if (hits.length >= limit) return this.decide(hits, limit, windowMs, now, false);
		hits.push(now);
		this.save(hits, windowMs, now);
		return this.decide(hits, limit, windowMs, now, true);
	}

	/** Takes back the most recent hit (an attempt that turned out not to count). */
	refund(windowMs: number): void {
		const now = Date.now();
		const hits = this.load(windowMs, now);
		hits.pop();
		this.save(hits, windowMs, now);
	}

	/** Erases this object's state (a deleted account's counters): its hits and its cleanup alarm. */
	async forget(): Promise<void> {
		await this.ctx.storage.deleteAlarm();
		await this.ctx.storage.deleteAll();
		this.alarmAt = undefined;
		this.storedWindowMs = undefined;
	}

	override async alarm() {
		this.alarmAt = undefined;
		const windowMs = this.ctx.storage.kv.get<number>("windowMs") ?? 0;
		const hits = this.load(windowMs, Date.now());
		if (hits.length === 0) {
			await this.ctx.storage.deleteAll();
			this.storedWindowMs = undefined;
			return;
		}
		// Hits counted after this alarm was set are still in the window: ring again when the last one leaves.
		this.armAlarm(hits, windowMs);
	}
}

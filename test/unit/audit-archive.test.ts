import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inArray } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { ConfigError, getConfig } from "../../src/config.ts";
import { createDb } from "../../src/db/client.ts";
import { securityEvents } from "../../src/db/schema.ts";
import worker from "../../src/index.ts";
import { archiveAndPurgeEvents, archiveKeyOf } from "../../src/services/audit-archive.ts";
import { NO_REQUEST } from "../../src/services/deps.ts";
import { recordEvent } from "../../src/services/security-events.ts";
import { db } from "../helpers/d1.ts";

/**
 * The audit log's retention: events past AUDIT_RETENTION_DAYS go to R2 (one NDJSON object per UTC day) before they
 * leave D1, and a run that is repeated, or dies half-way, loses and duplicates nothing. Each test works in a year of
 * its own, so the days (and archive objects) of one test are never another's.
 */

const DAY = 24 * 60 * 60 * 1000;
const config = getConfig(env);

/** One event at `at`, through the real writer; its id. */
async function eventAt(at: number, type: "login.succeeded" | "login.failed" = "login.succeeded"): Promise<number> {
	const facts = { ...NO_REQUEST, ip: "198.51.100.7", userAgent: "Archive/1.0", requestId: `r-${at}` };
	await recordEvent({ db: db(), request: facts }, { type, userId: 42, actor: { type: "user", id: 42 } }, at);
	const row = await db()
		.select({ id: securityEvents.id })
		.from(securityEvents)
		.where(inArray(securityEvents.at, [at]))
		.get();
	return row?.id as number;
}

/** Archives whatever earlier tests left past retention at `now`, so a test's runs see only its own events. */
async function settle(now: number) {
	await archiveAndPurgeEvents({ db: db(), env, config }, now);
}

async function inD1(ids: number[]): Promise<number[]> {
	const rows = await db().select({ id: securityEvents.id }).from(securityEvents).where(inArray(securityEvents.id, ids));
	return rows.map((r) => r.id).sort((a, b) => a - b);
}

async function archived(at: number): Promise<{ id: number; at: string; [key: string]: unknown }[] | null> {
	const object = await env.AUDIT_ARCHIVE.get(archiveKeyOf(at));
	if (!object) return null;
	const text = await object.text();
	expect(text.endsWith("\n")).toBe(true);
	return text
		.split("\n")
		.filter(Boolean)
		.map((line) => JSON.parse(line));
}

/** The bucket, counting puts and able to fail them. */
function watchedBucket(options: { failPuts?: boolean; onPut?: (key: string) => Promise<void> } = {}) {
	const puts: string[] = [];
	const bucket = new Proxy(env.AUDIT_ARCHIVE, {
		get(target, prop) {
			if (prop === "put") {
				return async (key: string, ...rest: unknown[]) => {
					puts.push(key);
					if (options.failPuts) throw new Error("R2 unavailable");
					await options.onPut?.(key);
					return (target.put as (...args: unknown[]) => Promise<unknown>)(key, ...rest);
				};
			}
			const value = Reflect.get(target, prop);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
	return { bucket, puts };
}

/** A D1 whose batches fail: the archive's deletes (its only batches) never happen, as if the run died there. */
function d1FailingBatches(): D1Database {
	return new Proxy(env.DB, {
		get(target, prop) {
			if (prop === "batch") return () => Promise.reject(new Error("the run died before deleting"));
			const value = Reflect.get(target, prop);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}

describe("audit archive", () => {
	it("copies events past retention to one NDJSON object per UTC day before deleting them; keeps the rest", async () => {
		const now = Date.UTC(2001, 6, 1, 12);
		const cutoff = now - 90 * DAY; // 2001-04-02T12:00Z
		const day1 = Date.UTC(2001, 2, 1);
		const old = [
			await eventAt(day1 + 10 * 60 * 60 * 1000),
			await eventAt(day1 + DAY - 1, "login.failed"),
			await eventAt(day1 + DAY),
			await eventAt(cutoff - 1),
		];
		const kept = [await eventAt(cutoff), await eventAt(now - DAY)];

		// At each put, the day's events are all still in D1.
		const ofDay: Record<string, number[]> = {
			[archiveKeyOf(day1)]: [old[0] as number, old[1] as number],
			[archiveKeyOf(day1 + DAY)]: [old[2] as number],
			[archiveKeyOf(cutoff)]: [old[3] as number],
		};
		const stillInD1AtPut: boolean[] = [];
		const { bucket, puts } = watchedBucket({
			onPut: async (key) => {
				stillInD1AtPut.push((await inD1(ofDay[key] ?? [])).length === ofDay[key]?.length);
			},
		});
		const result = await archiveAndPurgeEvents({ db: db(), env: { ...env, AUDIT_ARCHIVE: bucket }, config }, now);

		expect(result).toEqual({ archived: 4, deleted: 4 });
		expect(puts).toEqual([
			"security-events/2001-03-01.ndjson",
			"security-events/2001-03-02.ndjson",
			"security-events/2001-04-02.ndjson",
		]);
		expect(stillInD1AtPut).toEqual([true, true, true]);
		expect(await inD1(old)).toEqual([]);
		expect(await inD1(kept)).toEqual(kept);

		const first = await archived(day1);
		expect(first?.map((e) => e.id)).toEqual([old[0], old[1]]);
		expect(first?.[1]).toEqual({
			id: old[1],
			at: "2001-03-01T23:59:59.999Z",
			type: "login.failed",
			outcome: "success",
			userId: 42,
			actor: { type: "user", id: 42 },
			integrationKeyId: null,
			sessionId: null,
			ip: "198.51.100.7",
			country: null,
			userAgent: "Archive/1.0",
			requestId: `r-${day1 + DAY - 1}`,
			detail: {},
		});
		expect((await archived(day1 + DAY))?.map((e) => e.id)).toEqual([old[2]]);
		expect((await archived(cutoff))?.map((e) => e.id)).toEqual([old[3]]);
		expect(await archived(now - DAY)).toBeNull();
		const head = await env.AUDIT_ARCHIVE.head(archiveKeyOf(day1));
		expect(head?.httpMetadata?.contentType).toMatch(/^application\/x-ndjson/);

		// A second run finds nothing to do: no write, no delete.
		const again = watchedBucket();
		expect(
			await archiveAndPurgeEvents({ db: db(), env: { ...env, AUDIT_ARCHIVE: again.bucket }, config }, now),
		).toEqual({ archived: 0, deleted: 0 });
		expect(again.puts).toEqual([]);
		expect((await archived(day1))?.map((e) => e.id)).toEqual([old[0], old[1]]);
		expect(await inD1(kept)).toEqual(kept);

		// The boundary day's later events join its object on the next day's run, merged by id.
		const later = await archiveAndPurgeEvents({ db: db(), env, config }, now + DAY);
		expect(later).toEqual({ archived: 1, deleted: 1 });
		expect((await archived(cutoff))?.map((e) => e.id)).toEqual([old[3], kept[0]]);
		expect(await inD1(kept)).toEqual([kept[1]]);
	});

	it("loses and duplicates nothing when a run dies between the R2 write and the D1 delete", async () => {
		const now = Date.UTC(2002, 6, 1);
		await settle(now);
		const day = Date.UTC(2002, 1, 10);
		const ids: number[] = [];
		for (let i = 0; i < 6; i++) ids.push(await eventAt(day + i * 60_000));

		// The run dies after the object is written, before any delete.
		await expect(archiveAndPurgeEvents({ db: createDb(d1FailingBatches()), env, config }, now)).rejects.toThrow(
			"the run died before deleting",
		);
		expect((await archived(day))?.map((e) => e.id)).toEqual(ids);
		expect(await inD1(ids)).toEqual(ids);

		// … or after part of the deletes (each delete statement is atomic): half of them are gone already.
		await db()
			.delete(securityEvents)
			.where(inArray(securityEvents.id, ids.slice(0, 3)));

		const { bucket, puts } = watchedBucket();
		const result = await archiveAndPurgeEvents({ db: db(), env: { ...env, AUDIT_ARCHIVE: bucket }, config }, now);
		expect(result).toEqual({ archived: 3, deleted: 3 });
		expect(puts).toEqual([archiveKeyOf(day)]);
		const lines = await archived(day);
		expect(lines?.map((e) => e.id)).toEqual(ids);
		expect(new Set(lines?.map((e) => e.id)).size).toBe(ids.length);
		expect(await inD1(ids)).toEqual([]);
	});

	it("deletes nothing when the R2 write fails", async () => {
		const now = Date.UTC(2003, 6, 1);
		await settle(now);
		const day = Date.UTC(2003, 1, 1);
		const ids = [await eventAt(day), await eventAt(day + 1)];
		const { bucket } = watchedBucket({ failPuts: true });
		await expect(
			archiveAndPurgeEvents({ db: db(), env: { ...env, AUDIT_ARCHIVE: bucket }, config }, now),
		).rejects.toThrow("R2 unavailable");
		expect(await inD1(ids)).toEqual(ids);
		expect(await archived(day)).toBeNull();
		// The next run does it.
		expect(await archiveAndPurgeEvents({ db: db(), env, config }, now)).toEqual({ archived: 2, deleted: 2 });
		expect((await archived(day))?.map((e) => e.id)).toEqual(ids);
	});

	it("keeps what an object already holds, and never rewrites an object it cannot read", async () => {
		const now = Date.UTC(2004, 6, 1);
		await settle(now);
		const day = Date.UTC(2004, 1, 1);
		// An object from an earlier run that died before its deletes finished, holding an event D1 no longer has.
		const earlier = JSON.stringify({ id: 1, at: new Date(day).toISOString(), type: "logout" });
		await env.AUDIT_ARCHIVE.put(archiveKeyOf(day), `${earlier}\n`);
		const id = await eventAt(day + 5);
		await archiveAndPurgeEvents({ db: db(), env, config }, now);
		expect((await archived(day))?.map((e) => e.id)).toEqual([1, id]);

		const other = Date.UTC(2004, 1, 2);
		await env.AUDIT_ARCHIVE.put(archiveKeyOf(other), "not json\n");
		const kept = await eventAt(other + 5);
		await expect(archiveAndPurgeEvents({ db: db(), env, config }, now)).rejects.toThrow(/line 1 is not an event/);
		expect(await inD1([kept])).toEqual([kept]);
		expect(await (await env.AUDIT_ARCHIVE.get(archiveKeyOf(other)))?.text()).toBe("not json\n");
		await env.AUDIT_ARCHIVE.delete(archiveKeyOf(other));
		await archiveAndPurgeEvents({ db: db(), env, config }, now);
		expect(await inD1([kept])).toEqual([]);
	});

	it("follows AUDIT_RETENTION_DAYS", async () => {
		const now = Date.UTC(2005, 6, 1);
		await settle(now);
		const tenDaysOld = await eventAt(now - 10 * DAY);
		await archiveAndPurgeEvents({ db: db(), env, config }, now);
		expect(await inD1([tenDaysOld])).toEqual([tenDaysOld]);
		await archiveAndPurgeEvents({ db: db(), env, config: { ...config, auditRetentionDays: 7 } }, now);
		expect(await inD1([tenDaysOld])).toEqual([]);
		expect((await archived(now - 10 * DAY))?.map((e) => e.id)).toEqual([tenDaysOld]);
	});

	it("runs from the Worker's scheduled handler", async () => {
		const at = Date.now() - 200 * DAY;
		const id = await eventAt(at);
		const log = vi.spyOn(console, "log").mockImplementation(() => {});
		const ctx = createExecutionContext();
		await worker.scheduled(createScheduledController({ cron: "17 3 * * *" }), env, ctx);
		await waitOnExecutionContext(ctx);
		const line = log.mock.calls.map((call) => String(call[0])).find((text) => text.includes('"cleanup"'));
		log.mockRestore();
		expect(JSON.parse(line as string).cleanup.securityEvents).toEqual({
			archived: expect.any(Number),
			deleted: expect.any(Number),
		});
		expect(await inD1([id])).toEqual([]);
		expect((await archived(at))?.map((e) => e.id)).toContain(id);
	});
});

describe("AUDIT_RETENTION_DAYS", () => {
	it("defaults to 90 and takes 1 to 3650 days", () => {
		expect(config.auditRetentionDays).toBe(90);
		expect(getConfig({ ...env, AUDIT_RETENTION_DAYS: "" }).auditRetentionDays).toBe(90);
		expect(getConfig({ ...env, AUDIT_RETENTION_DAYS: undefined } as unknown as Env).auditRetentionDays).toBe(90);
		expect(getConfig({ ...env, AUDIT_RETENTION_DAYS: "1" }).auditRetentionDays).toBe(1);
		expect(getConfig({ ...env, AUDIT_RETENTION_DAYS: "3650" }).auditRetentionDays).toBe(3650);
	});

	it("refuses anything else with a ConfigError naming it", () => {
		const error = vi.spyOn(console, "error").mockImplementation(() => {});
		for (const value of ["0", "3651", "-1", "1.5", "abc", " 90", "1e2", "90d"]) {
			let thrown: unknown;
			try {
				getConfig({ ...env, AUDIT_RETENTION_DAYS: value });
			} catch (e) {
				thrown = e;
			}
			expect(thrown, value).toBeInstanceOf(ConfigError);
			expect((thrown as ConfigError).variable).toBe("AUDIT_RETENTION_DAYS");
		}
		error.mockRestore();
	});
});

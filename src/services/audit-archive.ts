import { and, asc, count, gt, gte, lt, lte, max, min, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { securityEvents } from "../db/schema.ts";
import { iso } from "../lib/time.ts";
import type { Deps } from "./deps.ts";
import { toSecurityEventRecord } from "./security-events.ts";

/**
 * The audit log's retention (daily cron): security events older than AUDIT_RETENTION_DAYS are copied to the R2
 * archive (`AUDIT_ARCHIVE`), one NDJSON object per UTC day (`security-events/YYYY-MM-DD.ndjson`, one event per line
 * in the API's shape, ascending id), and only then deleted from D1.
 *
 * Why it can be re-run, and survive dying at any point, without losing or duplicating an event — one day at a time,
 * oldest first:
 *
 * 1. Read the day's events that are past retention from D1 (pages by id).
 * 2. Read the day's object, if one exists, and merge: every line of the object is kept, the D1 rows are added,
 *    and for an id found in both the D1 row wins (it is the newer truth, e.g. after personal fields were scrubbed).
 *    Ids are unique in the object, because it is keyed by id while merged.
 * 3. Write the merged object (an R2 put is atomic: the old object or the new one, never half of one).
 * 4. Delete from D1 exactly the ids read in step 1, which are all in the object just written.
 *
 * - Dying before 3 leaves D1 as it was: the next run does the same work again.
 * - Dying during 4 leaves some of the day's events in D1 that are also in the object: the next run merges them into
 *   the object again (by id: nothing is duplicated) and deletes them. An event leaves D1 only after an object holding
 *   it was written, so none is ever lost.
 * - A run after a complete one finds nothing past retention: it writes and deletes nothing.
 * - The day the retention boundary falls in is archived up to the boundary; its later events join the same object,
 *   merged, on the next day's run.
 * - Two runs at once are safe as well: each reads D1 before the object, and an event leaves D1 only after an object
 *   holding it was written, so whichever put lands last still holds every event the other deleted.
 *
 * Bounded work: statements carry a handful of parameters (id lists go as one JSON parameter through json_each), a day
 * is held in memory while its object is built (at most MAX_DAY_EVENTS events, ~25 MB), and a run stops after
 * MAX_DAYS_PER_RUN days or MAX_RUN_EVENTS events (a backlog drains over the following days). A day with more events
 * than one object may hold is left in D1, untouched, and reported as an error so an operator sees it; the days after
 * it are still archived.
 */

const DAY = 24 * 60 * 60 * 1000;
const PREFIX = "security-events/";
/** Rows read per statement. */
const READ_PAGE = 500;
/** Ids deleted per statement (one JSON parameter), and statements per D1 batch. */
const DELETE_CHUNK = 500;
const DELETES_PER_BATCH = 20;
const MAX_DAY_EVENTS = 50_000;
const MAX_DAYS_PER_RUN = 31;
const MAX_RUN_EVENTS = 100_000;

/** The archive object of the UTC day `at` falls in. */
export function archiveKeyOf(at: number): string {
	return `${PREFIX}${iso(Math.floor(at / DAY) * DAY).slice(0, 10)}.ndjson`;
}

type Archive = { archived: number; deleted: number };

export async function archiveAndPurgeEvents(
	{ db, env, config }: Pick<Deps, "db" | "env" | "config">,
	now = Date.now(),
): Promise<Archive> {
	const cutoff = now - config.auditRetentionDays * DAY;
	const totals: Archive = { archived: 0, deleted: 0 };
	const tooLarge: string[] = [];
	// Days before this one were too large to archive in this run: look past them.
	let from: number | undefined;
	for (let days = 0; days < MAX_DAYS_PER_RUN && totals.archived < MAX_RUN_EVENTS; days++) {
		const oldest = await db
			.select({ at: min(securityEvents.at) })
			.from(securityEvents)
			.where(and(lt(securityEvents.at, cutoff), from === undefined ? undefined : gte(securityEvents.at, from)))
			.get();
		if (oldest?.at === null || oldest?.at === undefined) break;
		const dayStart = Math.floor(oldest.at / DAY) * DAY;
		const day = await archiveDay(db, env.AUDIT_ARCHIVE, dayStart, Math.min(dayStart + DAY, cutoff));
		if (day === "too large") {
			tooLarge.push(archiveKeyOf(dayStart));
			from = dayStart + DAY;
			continue;
		}
		totals.archived += day.archived;
		totals.deleted += day.deleted;
	}
	if (tooLarge.length > 0) {
		throw new Error(
			`audit archive: ${tooLarge.join(", ")} would hold more than ${MAX_DAY_EVENTS} events; left in D1 ` +
				`(archived ${totals.archived}, deleted ${totals.deleted} in this run)`,
		);
	}
	return totals;
}

/** Steps 1–4 above for the events in [dayStart, end), end being at most the next midnight. */
async function archiveDay(db: Db, bucket: R2Bucket, dayStart: number, end: number): Promise<Archive | "too large"> {
	const { id, at } = securityEvents;
	const inRange = and(gte(at, dayStart), lt(at, end));
	const bounds = await db
		.select({ events: count(), first: min(id), last: max(id) })
		.from(securityEvents)
		.where(inRange)
		.get();
	if (!bounds || bounds.first === null || bounds.last === null) return { archived: 0, deleted: 0 };
	if (bounds.events > MAX_DAY_EVENTS) return "too large";

	// 1. D1 first (see "two runs at once"), by id between the bounds so no page scans past the day.
	const lines = new Map<number, string>();
	const ids: number[] = [];
	for (let after = bounds.first - 1; ; ) {
		const rows = await db
			.select()
			.from(securityEvents)
			.where(and(inRange, gt(id, after), lte(id, bounds.last)))
			.orderBy(asc(id))
			.limit(READ_PAGE);
		for (const row of rows) {
			ids.push(row.id);
			lines.set(row.id, archiveLine(row));
		}
		const last = rows.at(-1);
		if (rows.length < READ_PAGE || !last) break;
		after = last.id;
	}
	if (ids.length === 0) return { archived: 0, deleted: 0 };

	// 2. Merge with what the object already holds; the D1 row wins for an id in both.
	const key = archiveKeyOf(dayStart);
	const existing = await bucket.get(key);
	if (existing) {
		const text = await existing.text();
		text.split("\n").forEach((line, index) => {
			if (line === "") return;
			const lineId = idOfLine(line);
			if (lineId === null) throw new Error(`audit archive: ${key} line ${index + 1} is not an event; not rewritten`);
			if (!lines.has(lineId)) lines.set(lineId, line);
		});
	}

	// 3. The whole day in one atomic put.
	const sorted = [...lines.keys()].sort((a, b) => a - b);
	await bucket.put(key, `${sorted.map((lineId) => lines.get(lineId)).join("\n")}\n`, {
		httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" },
		customMetadata: { events: String(sorted.length) },
	});

	// 4. Only now, exactly what was read (and so written) leaves D1.
	let deleted = 0;
	for (let i = 0; i < ids.length; i += DELETE_CHUNK * DELETES_PER_BATCH) {
		const statements = [];
		for (let j = i; j < Math.min(ids.length, i + DELETE_CHUNK * DELETES_PER_BATCH); j += DELETE_CHUNK) {
			const chunk = JSON.stringify(ids.slice(j, j + DELETE_CHUNK));
			statements.push(
				db.delete(securityEvents).where(sql`${id} in (select value from json_each(${chunk}))`).returning({ id }),
			);
		}
		const results = await db.batch(statements as [(typeof statements)[number], ...typeof statements]);
		for (const removed of results) deleted += removed.length;
	}
	return { archived: ids.length, deleted };
}

/** One NDJSON line: the event as the API shows it (ISO time), id first. */
function archiveLine(row: typeof securityEvents.$inferSelect): string {
	const record = toSecurityEventRecord(row);
	return JSON.stringify({ ...record, at: iso(record.at) });
}

function idOfLine(line: string): number | null {
	try {
		const value = (JSON.parse(line) as { id?: unknown } | null)?.id;
		return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : null;
	} catch {
		return null;
	}
}

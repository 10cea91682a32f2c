import { and, desc, eq, gte, lt, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type ACTOR_TYPES, type SecurityEventType, securityEvents } from "../db/schema.ts";
import { parseJsonObject } from "../lib/encoding.ts";
import type { DbDeps, Deps } from "./deps.ts";
import { userExistsStatement } from "./users.ts";

/**
 * The audit log's write side. A service function that makes a security-relevant change builds its event with
 * `eventStatement` and runs it in the same D1 batch as the change, so the event exists if and only if the change
 * happened. The request's facts (IP, country, user agent, request id) come from `deps.request`, set once per
 * request: a caller cannot forget them or make them up.
 */

type ActorType = (typeof ACTOR_TYPES)[number];

/** A small object that explains the event; never a secret (no token, hash, password or key). */
type EventDetail = Record<string, string | number | boolean | null>;

export interface SecurityEvent {
	type: SecurityEventType;
	outcome?: "success" | "failure";
	/** The account the event is about; SQL for a subject decided inside the batch (a consumed token's user). */
	userId: number | SQL<number | null> | null;
	actor: { type: ActorType; id?: number | SQL<number | null> | null };
	integrationKeyId?: number | SQL<number | null> | null;
	sessionId?: string | SQL<string | null> | null;
	detail?: EventDetail;
}

/**
 * The event's insert, to run in the batch of its change. With `ifChanged`, it is written only when the statement
 * just before it in the batch changed a row (SQLite's `changes()`), and `detail.count` says how many: so an event
 * exists if and only if its change happened, even when twenty requests race to make the same change. `onlyIf`
 * narrows it further when the statement before may change a row in more ways than the event is about.
 */
export function eventStatement(
	{ db, request }: { db: Db; request: Deps["request"] },
	event: SecurityEvent,
	now = Date.now(),
	options: { ifChanged?: boolean; onlyIf?: SQL } = {},
) {
	const detail = JSON.stringify(event.detail ?? {});
	const detailSql = options.ifChanged ? sql`json_set(${detail}, '$.count', changes())` : sql`${detail}`;
	const conditions = [...(options.ifChanged ? [sql`changes() > 0`] : []), ...(options.onlyIf ? [options.onlyIf] : [])];
	const where = conditions.length > 0 ? sql` where ${sql.join(conditions, sql` and `)}` : sql``;
	// Every column in the table's order (id first, left to SQLite), as Drizzle's insert … select expects.
	return db.insert(securityEvents).select(
		sql`select null, ${now}, ${event.type}, ${event.outcome ?? "success"}, ${event.userId}, ${event.actor.type},
			${event.actor.id ?? null}, ${event.integrationKeyId ?? null}, ${event.sessionId ?? null}, ${request.ip},
			${request.country}, ${request.userAgent}, ${request.requestId}, ${detailSql}${where}`,
	);
}

/** An event that is the only write (a failed sign-in, a lockout): one statement of its own. */
export async function recordEvent(deps: Pick<Deps, "db" | "request">, event: SecurityEvent, now = Date.now()) {
	await eventStatement(deps, event, now);
}

/** The user acting on their own account. */
export const self = (userId: number) => ({ type: "user" as const, id: userId });

// ---------------------------------------------------------------------------------------------------------------
// The read side: pages of events, newest first.

/** For the routes, which never import db/: the types a filter may name. */
export { SECURITY_EVENT_TYPES } from "../db/schema.ts";

/** An event as stored, in the services' terms: camelCase, times in ms, `detail` parsed, the actor as one object. */
export interface SecurityEventRecord {
	id: number;
	at: number;
	type: SecurityEventType;
	outcome: "success" | "failure";
	userId: number | null;
	actor: { type: ActorType; id: number | null };
	integrationKeyId: number | null;
	sessionId: string | null;
	ip: string | null;
	country: string | null;
	userAgent: string | null;
	requestId: string | null;
	detail: EventDetail;
}

type EventRow = typeof securityEvents.$inferSelect;

export function toSecurityEventRecord(row: EventRow): SecurityEventRecord {
	return {
		id: row.id,
		at: row.at,
		type: row.type,
		outcome: row.outcome,
		userId: row.userId,
		actor: { type: row.actorType, id: row.actorId },
		integrationKeyId: row.integrationKeyId,
		sessionId: row.sessionId,
		ip: row.ip,
		country: row.country,
		userAgent: row.userAgent,
		requestId: row.requestId,
		// Written by eventStatement as a JSON object of scalars.
		detail: parseJsonObject(row.detail) as EventDetail,
	};
}

export interface SecurityEventQuery {
	/** Events about this account. */
	userId?: number;
	type?: SecurityEventType;
	/** Events at or after this time (ms). */
	since?: number;
	/** Events before this time (ms). */
	until?: number;
	/** At most this many events (the caller bounds it). */
	limit: number;
	/** Keyset pagination: events whose id is below this one (the previous page's `nextCursor`). */
	cursor?: number;
}

export interface SecurityEventPage {
	events: SecurityEventRecord[];
	/** The id to pass as `cursor` for the next (older) page; null on the last page. */
	nextCursor: number | null;
}

/**
 * One page, newest first by id. `limit + 1` rows are read so the page knows whether another follows without a second
 * query; keyset on id (`id < cursor`) keeps pages stable while new events arrive (no duplicates, no gaps) and uses the
 * (user_id, id) and (type, id) indexes.
 */
function pageStatement(db: Db, query: SecurityEventQuery) {
	const { id, userId, type, at } = securityEvents;
	return db
		.select()
		.from(securityEvents)
		.where(
			and(
				query.userId === undefined ? undefined : eq(userId, query.userId),
				query.type === undefined ? undefined : eq(type, query.type),
				query.since === undefined ? undefined : gte(at, query.since),
				query.until === undefined ? undefined : lt(at, query.until),
				query.cursor === undefined ? undefined : lt(id, query.cursor),
			),
		)
		.orderBy(desc(id))
		.limit(query.limit + 1);
}

function toPage(rows: EventRow[], limit: number): SecurityEventPage {
	const events = rows.slice(0, limit).map(toSecurityEventRecord);
	const last = events.at(-1);
	return { events, nextCursor: rows.length > limit && last ? last.id : null };
}

/** A page of events matching the query, in one D1 round trip. */
export async function listSecurityEvents({ db }: DbDeps, query: SecurityEventQuery): Promise<SecurityEventPage> {
	return toPage(await pageStatement(db, query), query.limit);
}

/**
 * A page of the events about one account, with the account's existence checked in the same round trip: null when no
 * such user exists (the events of a deleted account stay readable through listSecurityEvents).
 */
export async function listUserSecurityEvents(
	{ db }: DbDeps,
	userId: number,
	query: Omit<SecurityEventQuery, "userId">,
): Promise<SecurityEventPage | null> {
	const [user, rows] = await db.batch([userExistsStatement(db, userId), pageStatement(db, { ...query, userId })]);
	return user.length > 0 ? toPage(rows, query.limit) : null;
}

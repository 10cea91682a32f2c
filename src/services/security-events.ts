import type { SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type ACTOR_TYPES, type SecurityEventType, securityEvents } from "../db/schema.ts";
import type { Deps } from "./deps.ts";

/**
 * The audit log's write side. A service function that makes a security-relevant change builds its event with
 * `eventStatement` and runs it in the same D1 batch as the change, so the event exists if and only if the change
 * happened. The request's facts (IP, country, user agent, request id) come from `deps.request`, set once per
 * request: a caller cannot forget them or make them up.
 */

export type ActorType = (typeof ACTOR_TYPES)[number];

/** A small object that explains the event; never a secret (no token, hash, password or key). */
export type EventDetail = Record<string, string | number | boolean | null>;

export interface SecurityEvent {
	type: SecurityEventType;
	outcome?: "success" | "failure";
	/** The account the event is about; SQL for a subject decided inside the batch (a consumed token's user). */
	userId: number | SQL<number | null> | null;
	actor: { type: ActorType; id?: number | SQL<number | null> | null };
	integrationKeyId?: number | null;
	sessionId?: string | SQL<string | null> | null;
	detail?: EventDetail;
}

export function eventStatement(
	{ db, request }: { db: Db; request: Deps["request"] },
	event: SecurityEvent,
	now = Date.now(),
) {
	return db.insert(securityEvents).values({
		at: now,
		type: event.type,
		outcome: event.outcome ?? "success",
		userId: event.userId,
		actorType: event.actor.type,
		actorId: event.actor.id ?? null,
		integrationKeyId: event.integrationKeyId ?? null,
		sessionId: event.sessionId ?? null,
		ip: request.ip,
		country: request.country,
		userAgent: request.userAgent,
		requestId: request.requestId,
		detail: JSON.stringify(event.detail ?? {}),
	});
}

/** An event that is the only write (a failed sign-in, a lockout): one statement of its own. */
export async function recordEvent(deps: Pick<Deps, "db" | "request">, event: SecurityEvent, now = Date.now()) {
	await eventStatement(deps, event, now);
}

/** The user acting on their own account. */
export const self = (userId: number) => ({ type: "user" as const, id: userId });

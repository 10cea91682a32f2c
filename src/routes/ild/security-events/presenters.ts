import { iso } from "../../../lib/time.ts";
import type { SecurityEventRecord } from "../../../services/security-events.ts";

/** An audit event as the ILD surface shows it: camelCase, ISO time, the actor as one object. */
export function toIldSecurityEvent(event: SecurityEventRecord) {
	return {
		id: event.id,
		at: iso(event.at),
		type: event.type,
		outcome: event.outcome,
		userId: event.userId,
		actor: { type: event.actor.type, id: event.actor.id },
		integrationKeyId: event.integrationKeyId,
		sessionId: event.sessionId,
		ip: event.ip,
		country: event.country,
		userAgent: event.userAgent,
		requestId: event.requestId,
		detail: event.detail,
	};
}

/**
 * For the user's own log: an event someone else caused (an Admin's revoke or ban, a partner's link) does not show
 * that person's IP address, browser or request id to the user — who acted and what happened stay.
 */
export function toOwnSecurityEvent(event: SecurityEventRecord, viewerId: number) {
	const wire = toIldSecurityEvent(event);
	if (event.actor.type === "user" && event.actor.id === viewerId) return wire;
	return { ...wire, ip: null, country: null, userAgent: null, requestId: null };
}

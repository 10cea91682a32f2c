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

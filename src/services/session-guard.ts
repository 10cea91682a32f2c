import type { Guard } from "../db/guarded-d1.ts";
import { SESSION_IDLE_MS } from "./sessions.ts";

/**
 * The liveness guard every Bearer request runs behind (db/guarded-d1.ts), riding in its first query (folded
 * into a read's statement, or in the batch of a write): the access token's session must be live as sessions.ts's
 * isLive says (not revoked, not past its absolute end, used within the idle lifetime) and its account not banned.
 * So a revoke, logout, password change, reset or ban ends that session's access tokens from the next request on.
 */
export function sessionGuard(sessionId: string, userId: number, now = Date.now()): Guard {
	return {
		// The json() argument depends on the lookup, so SQLite cannot evaluate it ahead as a constant.
		sql: `select json(case when exists (
				select 1 from sessions s join users u on u.id = s.user_id
				where s.id = ?1 and s.user_id = ?2 and s.revoked_at is null and s.expires_at > ?3
					and s.last_used_at > ?3 - ${SESSION_IDLE_MS}
					and not (u.banned_at is not null and (u.banned_until is null or u.banned_until > ?3))
			) then '1' else 'session ended' end)`,
		params: [sessionId, userId, now],
	};
}

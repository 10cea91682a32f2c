import { iso, isoOrNull } from "../../../lib/time.ts";
import type { AccountExport } from "../../../services/account-export.ts";
import { toIldSecurityEvent, toOwnSecurityEvent } from "../security-events/presenters.ts";

/**
 * The export's wire shape: the service's records with ISO times. Events as the reader's log route shows them: the
 * user's own log hides other actors' IPs and browsers (an Admin's, a partner's), an Admin's shows everything.
 */
export function toAccountExport(data: AccountExport, reader: { viewerId: number } | { admin: true }, now: number) {
	const { user } = data;
	return {
		user: {
			...user,
			emailVerifiedAt: isoOrNull(user.emailVerifiedAt),
			tutorialCompletedAt: isoOrNull(user.tutorialCompletedAt),
			bannedAt: isoOrNull(user.bannedAt),
			bannedUntil: isoOrNull(user.bannedUntil),
			subscriptionValidUntil: isoOrNull(user.subscriptionValidUntil),
			createdAt: iso(user.createdAt),
			updatedAt: iso(user.updatedAt),
		},
		roles: data.roles,
		communities: data.communities.map((m) => ({ ...m, joinedAt: iso(m.joinedAt) })),
		categories: data.categories,
		subscriptionPeriods: data.subscriptionPeriods.map((p) => ({
			...p,
			startsAt: iso(p.startsAt),
			endsAt: iso(p.endsAt),
			createdAt: iso(p.createdAt),
		})),
		moduleProgress: data.moduleProgress.map((p) => ({ ...p, updatedAt: iso(p.updatedAt) })),
		sessions: data.sessions.map((s) => ({
			...s,
			createdAt: iso(s.createdAt),
			lastUsedAt: iso(s.lastUsedAt),
			rotatedAt: isoOrNull(s.rotatedAt),
			expiresAt: iso(s.expiresAt),
			revokedAt: isoOrNull(s.revokedAt),
		})),
		securityEvents: data.securityEvents.map((e) =>
			"viewerId" in reader ? toOwnSecurityEvent(e, reader.viewerId) : toIldSecurityEvent(e),
		),
		deletionRequest: data.deletionRequest && {
			requestedAt: iso(data.deletionRequest.requestedAt),
			scheduledFor: iso(data.deletionRequest.scheduledFor),
		},
		emailReservations: data.emailReservations.map((r) => ({ ...r, until: iso(r.until) })),
		oneTimeTokens: data.oneTimeTokens.map((t) => ({
			...t,
			createdAt: iso(t.createdAt),
			expiresAt: iso(t.expiresAt),
			closedAt: isoOrNull(t.closedAt),
		})),
		integrationKeys: data.integrationKeys.map((k) => ({
			...k,
			createdAt: iso(k.createdAt),
			lastUsedAt: isoOrNull(k.lastUsedAt),
			revokedAt: isoOrNull(k.revokedAt),
		})),
		exportedAt: iso(now),
	};
}

import { asc, eq, or } from "drizzle-orm";
import {
	communities,
	communityMemberships,
	emailReservations,
	integrationKeys,
	moduleProgress,
	modules,
	oneTimeTokens,
	securityEvents,
	sessions,
	subscriptionPeriods,
	userRoles,
	users,
} from "../db/schema.ts";
import { parseJsonObject } from "../lib/encoding.ts";
import { deletionRequestStatement } from "./account-deletion.ts";
import type { DbDeps } from "./deps.ts";
import { type SecurityEventRecord, toSecurityEventRecord } from "./security-events.ts";
import { sessionView } from "./sessions.ts";
import { recordColumns } from "./users.ts";

/**
 * Everything stored about one account, for `GET /user/export` (a data-subject access request): every row of every
 * table that belongs to the account, every column but secrets (password hash, token and key hashes, refresh token
 * families, the nonce that closed a token). One D1 round trip. test/integration/ild/account-export.test.ts fails
 * when a table or column that belongs to an account is not exported here, so a new one cannot be forgotten.
 */

export interface AccountExport {
	user: {
		id: number;
		email: string;
		username: string | null;
		firstName: string;
		lastName: string;
		emailVerifiedAt: number | null;
		tutorialCompletedAt: number | null;
		profileImageKey: string | null;
		provisionedBy: number | null;
		bannedAt: number | null;
		bannedUntil: number | null;
		banReason: string | null;
		subscriptionStatus: "none" | "active" | "expired";
		subscriptionPlan: string | null;
		subscriptionValidUntil: number | null;
		createdAt: number;
		updatedAt: number;
	};
	roles: string[];
	communities: { id: number; name: string; joinedAt: number }[];
	categories: string[];
	subscriptionPeriods: {
		id: number;
		plan: string;
		startsAt: number;
		endsAt: number;
		source: string;
		createdAt: number;
	}[];
	moduleProgress: { moduleId: number; title: string; score: number; maxScore: number; updatedAt: number }[];
	sessions: {
		id: string;
		method: string;
		browser: string | null;
		os: string | null;
		deviceType: string;
		country: string | null;
		city: string | null;
		userAgent: string | null;
		createdAt: number;
		lastUsedAt: number;
		rotatedAt: number | null;
		expiresAt: number;
		revokedAt: number | null;
	}[];
	securityEvents: SecurityEventRecord[];
	deletionRequest: { requestedAt: number; scheduledFor: number } | null;
	emailReservations: { email: string; until: number }[];
	oneTimeTokens: {
		purpose: string;
		createdAt: number;
		expiresAt: number;
		closedAt: number | null;
		meta: Record<string, unknown>;
	}[];
	integrationKeys: {
		id: number;
		name: string;
		scope: string;
		ownerUserId: number | null;
		createdBy: number | null;
		createdAt: number;
		lastUsedAt: number | null;
		revokedAt: number | null;
	}[];
}

/** The export, or null when the account does not exist. */
export async function exportAccount({ db }: DbDeps, userId: number, now = Date.now()): Promise<AccountExport | null> {
	const [user, roles, memberships, periods, progress, sessionRows, events, deletion, reservations, tokens, keys] =
		await db.batch([
			db.select(recordColumns(now)).from(users).where(eq(users.id, userId)),
			db
				.select({ role: userRoles.role })
				.from(userRoles)
				.where(eq(userRoles.userId, userId))
				.orderBy(asc(userRoles.role)),
			db
				.select({ id: communities.id, name: communities.name, joinedAt: communityMemberships.joinedAt })
				.from(communityMemberships)
				.innerJoin(communities, eq(communities.id, communityMemberships.communityId))
				.where(eq(communityMemberships.userId, userId))
				.orderBy(asc(communities.id)),
			db
				.select({
					id: subscriptionPeriods.id,
					plan: subscriptionPeriods.plan,
					startsAt: subscriptionPeriods.startsAt,
					endsAt: subscriptionPeriods.endsAt,
					source: subscriptionPeriods.source,
					createdAt: subscriptionPeriods.createdAt,
				})
				.from(subscriptionPeriods)
				.where(eq(subscriptionPeriods.userId, userId))
				.orderBy(asc(subscriptionPeriods.id)),
			db
				.select({
					moduleId: moduleProgress.moduleId,
					title: modules.title,
					score: moduleProgress.score,
					maxScore: modules.maxScore,
					updatedAt: moduleProgress.updatedAt,
				})
				.from(moduleProgress)
				.innerJoin(modules, eq(modules.id, moduleProgress.moduleId))
				.where(eq(moduleProgress.userId, userId))
				.orderBy(asc(moduleProgress.moduleId)),
			db
				// The device list's view, and what it leaves out but is stored: the raw user agent, rotation, revocation.
				.select({
					...sessionView,
					userAgent: sessions.userAgent,
					rotatedAt: sessions.rotatedAt,
					revokedAt: sessions.revokedAt,
				})
				.from(sessions)
				.where(eq(sessions.userId, userId))
				.orderBy(asc(sessions.createdAt)),
			db.select().from(securityEvents).where(eq(securityEvents.userId, userId)).orderBy(asc(securityEvents.id)),
			deletionRequestStatement({ db }, userId),
			db
				.select({ email: emailReservations.email, until: emailReservations.until })
				.from(emailReservations)
				.where(eq(emailReservations.userId, userId)),
			db
				.select({
					purpose: oneTimeTokens.purpose,
					createdAt: oneTimeTokens.createdAt,
					expiresAt: oneTimeTokens.expiresAt,
					closedAt: oneTimeTokens.closedAt,
					meta: oneTimeTokens.meta,
				})
				.from(oneTimeTokens)
				.where(eq(oneTimeTokens.userId, userId))
				.orderBy(asc(oneTimeTokens.createdAt)),
			db
				.select({
					id: integrationKeys.id,
					name: integrationKeys.name,
					scope: integrationKeys.scope,
					ownerUserId: integrationKeys.ownerUserId,
					createdBy: integrationKeys.createdBy,
					createdAt: integrationKeys.createdAt,
					lastUsedAt: integrationKeys.lastUsedAt,
					revokedAt: integrationKeys.revokedAt,
				})
				.from(integrationKeys)
				.where(or(eq(integrationKeys.ownerUserId, userId), eq(integrationKeys.createdBy, userId)))
				.orderBy(asc(integrationKeys.id)),
		]);
	const row = user[0];
	if (!row) return null;
	return {
		user: {
			id: row.id,
			email: row.email,
			username: row.username,
			firstName: row.firstName,
			lastName: row.lastName,
			emailVerifiedAt: row.emailVerifiedAt,
			tutorialCompletedAt: row.tutorialCompletedAt,
			profileImageKey: row.profileImageKey,
			provisionedBy: row.provisionedBy,
			bannedAt: row.bannedAt,
			bannedUntil: row.bannedUntil,
			banReason: row.banReason,
			subscriptionStatus: row.subscriptionStatus,
			subscriptionPlan: row.subscriptionPlan,
			subscriptionValidUntil: row.subscriptionValidUntil,
			createdAt: row.createdAt,
			updatedAt: row.updatedAt,
		},
		roles: roles.map((r) => r.role),
		communities: memberships,
		categories: JSON.parse(row.categories) as string[],
		subscriptionPeriods: periods,
		moduleProgress: progress,
		sessions: sessionRows,
		securityEvents: events.map(toSecurityEventRecord),
		deletionRequest: deletion[0] ?? null,
		emailReservations: reservations,
		oneTimeTokens: tokens.map((t) => ({ ...t, meta: parseJsonObject(t.meta) })),
		integrationKeys: keys,
	};
}

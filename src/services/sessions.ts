import { and, eq, isNull, ne, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessions } from "../db/schema.ts";
import { randomToken, sha256 } from "../lib/encoding.ts";
import { parseRoles, type Role } from "../lib/roles.ts";
import type { DbDeps } from "./deps.ts";
import { rolesOf } from "./users.ts";

/**
 * Refresh sessions. The refresh token is `<family>.<secret>`: the family (128 bits) finds the
 * row and is never shown anywhere else; only SHA-256 of the secret (256 bits) is stored.
 */

export const SESSION_IDLE_MS = 14 * 24 * 60 * 60 * 1000;
const SESSION_ABSOLUTE_MS = 30 * 24 * 60 * 60 * 1000;
export const REFRESH_GRACE_MS = 10 * 1000;

const TOKEN_SHAPE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

interface NewSession {
	sessionId: string;
	refreshToken: string;
	expiresAt: number;
	/** The insert, to run in the caller's batch (one D1 round trip for the whole login). */
	insert: ReturnType<typeof insertSessionStatement>;
}

function insertSessionStatement(db: Db, values: typeof sessions.$inferInsert) {
	return db.insert(sessions).values(values);
}

export async function newSession({ db }: DbDeps, userId: number, userAgent: string | undefined, now = Date.now()) {
	const sessionId = randomToken(16);
	const family = randomToken(16);
	const secret = randomToken(32);
	const expiresAt = now + SESSION_ABSOLUTE_MS;
	const insert = insertSessionStatement(db, {
		id: sessionId,
		userId,
		family,
		tokenHash: await sha256(secret),
		createdAt: now,
		lastUsedAt: now,
		expiresAt,
		userAgent: userAgent?.slice(0, 256) ?? null,
	});
	return { sessionId, refreshToken: `${family}.${secret}`, expiresAt, insert } satisfies NewSession;
}

export type RefreshOutcome =
	| { kind: "rotated"; sessionId: string; userId: number; roles: Role[]; refreshToken: string; expiresAt: number }
	| { kind: "grace"; sessionId: string; userId: number; roles: Role[] }
	| { kind: "invalid" }
	| { kind: "reuse"; sessionId: string };

interface RefreshRow {
	id: string;
	user_id: number;
	rotated: number;
	revoked: number;
	expires_at: number;
	roles: string | null;
}

/**
 * One atomic statement decides every case (SET expressions all read the row as it was):
 * - the current token: rotate (new hash, previous = this one);
 * - the previous token within the grace window: touch only (the caller answers without a cookie);
 * - anything else for a live session: a stolen or replayed token, so the session is revoked.
 * Concurrent refreshes are serialized by D1, so exactly one of them rotates.
 */
export async function refreshSession({ db }: DbDeps, presented: string, now = Date.now()): Promise<RefreshOutcome> {
	const match = presented.match(TOKEN_SHAPE);
	if (!match) return { kind: "invalid" };
	const [, family, secret] = match as unknown as [string, string, string];
	const hash = await sha256(secret);
	const nextSecret = randomToken(32);
	const nextHash = await sha256(nextSecret);
	const graceFrom = now - REFRESH_GRACE_MS;
	const current = sql`token_hash = ${hash}`;
	const inGrace = sql`(prev_token_hash = ${hash} and rotated_at > ${graceFrom})`;

	const rows = await db.all<RefreshRow>(sql`
		update sessions set
			token_hash = case when ${current} then ${nextHash} else token_hash end,
			prev_token_hash = case when ${current} then ${hash} else prev_token_hash end,
			rotated_at = case when ${current} then ${now} else rotated_at end,
			last_used_at = case when ${current} or ${inGrace} then ${now} else last_used_at end,
			revoked_at = case when ${current} or ${inGrace} then null else ${now} end
		where family = ${family} and revoked_at is null and expires_at > ${now} and last_used_at > ${now - SESSION_IDLE_MS}
		returning id, user_id, token_hash = ${nextHash} as rotated, revoked_at is not null as revoked, expires_at,
			${rolesOf(sql`sessions.user_id`)} as roles`);

	const row = rows[0];
	if (!row) return { kind: "invalid" };
	if (row.revoked) return { kind: "reuse", sessionId: row.id };
	const roles = parseRoles(row.roles);
	if (row.rotated) {
		return {
			kind: "rotated",
			sessionId: row.id,
			userId: row.user_id,
			roles,
			refreshToken: `${family}.${nextSecret}`,
			expiresAt: row.expires_at,
		};
	}
	return { kind: "grace", sessionId: row.id, userId: row.user_id, roles };
}

/** Revokes the session a refresh token belongs to, if the token is its current or previous one. */
export async function revokeByRefreshToken({ db }: DbDeps, presented: string, now = Date.now()): Promise<boolean> {
	const match = presented.match(TOKEN_SHAPE);
	if (!match) return false;
	const [, family, secret] = match as unknown as [string, string, string];
	const hash = await sha256(secret);
	const rows = await db
		.update(sessions)
		.set({ revokedAt: now })
		.where(
			and(
				eq(sessions.family, family),
				isNull(sessions.revokedAt),
				sql`(${sessions.tokenHash} = ${hash} or ${sessions.prevTokenHash} = ${hash})`,
			),
		)
		.returning({ id: sessions.id });
	return rows.length > 0;
}

export function revokeSessionStatement(db: Db, sessionId: string, now = Date.now()) {
	return db
		.update(sessions)
		.set({ revokedAt: now })
		.where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
		.returning({ id: sessions.id });
}

export function revokeOtherSessionsStatement(db: Db, userId: number, keepSessionId: string, now = Date.now()) {
	return db
		.update(sessions)
		.set({ revokedAt: now })
		.where(and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId), isNull(sessions.revokedAt)));
}

/** `userId` may be SQL, e.g. a token consumption's `subject` (NULL, so nothing, unless this request won). */
export function revokeAllSessionsStatement(
	db: Db,
	userId: number | SQL<number | null>,
	now = Date.now(),
	onlyIf?: SQL,
) {
	return db
		.update(sessions)
		.set({ revokedAt: now })
		.where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), onlyIf));
}

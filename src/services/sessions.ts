import { and, desc, eq, gt, isNull, ne, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessions, users } from "../db/schema.ts";
import { type Device, describeDevice } from "../lib/device.ts";
import { randomToken, sha256 } from "../lib/encoding.ts";
import { parseRoles, type Role } from "../lib/roles.ts";
import type { SessionMethod } from "./account-policy.ts";
import type { DbDeps, Deps } from "./deps.ts";
import { eventStatement, type SecurityEvent } from "./security-events.ts";
import { banInForceSql, rolesOf, userExistsStatement } from "./users.ts";

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
	/** The conditional insert, to run in the caller's batch (one D1 round trip for the whole login). */
	insert: SessionInsert;
	device: Device;
}

const NOTICE_WINDOW_MS = 90 * 24 * 60 * 60 * 1000;

/**
 * For the new-device notice, before the new session's insert in the same batch: has the user ever had a session,
 * and was one created in the last 90 days (live, revoked or expired) with the same browser family, OS and country?
 * Two EXISTS on the user's sessions index rather than counts: each stops at its first match, so a returning device
 * costs a row or two however many sessions the account has piled up (successful sign-ins are not rate limited).
 * Selected through the user's own row (its primary key), which the sign-in has just read.
 */
export function deviceSeenStatement(
	{ db, request }: Pick<Deps, "db" | "request">,
	userId: number,
	device: Device,
	now: number,
) {
	return db
		.select({
			any: sql<number>`exists(select 1 from ${sessions} where ${sessions.userId} = ${userId})`,
			seen: sql<number>`exists(select 1 from ${sessions} where ${sessions.userId} = ${userId}
				and ${sessions.createdAt} > ${now - NOTICE_WINDOW_MS}
				and ${sessions.browser} is ${device.browser} and ${sessions.os} is ${device.os}
				and ${sessions.country} is ${request.country})`,
		})
		.from(users)
		.where(eq(users.id, userId));
}

type SessionInsert = ReturnType<ReturnType<ReturnType<Db["insert"]>["select"]>["returning"]>;

/** The device columns as the request shows them now: written at sign-in and at each refresh. */
function deviceColumns(request: Deps["request"], device: Device = describeDevice(request.userAgent)) {
	return {
		userAgent: request.userAgent?.slice(0, 256) ?? null,
		browser: device.browser,
		os: device.os,
		deviceType: device.deviceType,
		country: request.country,
		city: request.city,
	};
}

/**
 * A new session for `userId`. Its insert is conditional, decided in the same transaction as the rest of the
 * sign-in's batch: the account must not be banned *now*, and `onlyIf` (SQL over the `users` row) must hold — for
 * a password sign-in the very hash that was verified, for a login link its claim and the roles its rule was
 * checked against. So a reset, a password change or a ban that lands while a sign-in is between its check and
 * its write leaves that sign-in with no session (the insert returns no row).
 */
export async function newSession(
	{ db, request }: Pick<Deps, "db" | "request">,
	userId: number,
	method: SessionMethod,
	now = Date.now(),
	onlyIf?: SQL,
) {
	const sessionId = randomToken(16);
	const family = randomToken(16);
	const secret = randomToken(32);
	const expiresAt = now + SESSION_ABSOLUTE_MS;
	// The user agent is parsed once: for the row's columns and for the new-device notice.
	const device = describeDevice(request.userAgent);
	const d = deviceColumns(request, device);
	// Every column in the table's order, as Drizzle's insert … select expects.
	const insert = db
		.insert(sessions)
		.select(
			sql`select ${sessionId}, ${userId}, ${family}, ${await sha256(secret)}, null, null, ${now}, ${now}, ${expiresAt},
				null, ${d.userAgent}, ${method}, ${d.browser}, ${d.os}, ${d.deviceType}, ${d.country}, ${d.city}
			from users where users.id = ${userId} and not ${banInForceSql(now)}${onlyIf ? sql` and ${onlyIf}` : sql``}`,
		)
		.returning({ id: sessions.id });
	return {
		sessionId,
		refreshToken: `${family}.${secret}`,
		expiresAt,
		insert,
		device,
	} satisfies NewSession;
}

export type RefreshOutcome =
	| { kind: "rotated"; sessionId: string; userId: number; roles: Role[]; refreshToken: string; expiresAt: number }
	| { kind: "grace"; sessionId: string; userId: number; roles: Role[] }
	| { kind: "invalid" }
	| { kind: "reuse"; sessionId: string };

/**
 * One atomic statement decides every case (SET expressions all read the row as it was):
 * - the current token: rotate (new hash, previous = this one);
 * - the previous token within the grace window: touch only (the caller answers without a cookie);
 * - anything else for a live session: a stolen or replayed token, so the session is revoked.
 * Concurrent refreshes are serialized by D1, so exactly one of them rotates.
 */
export async function refreshSession(
	{ db, request }: Pick<Deps, "db" | "request">,
	presented: string,
	now = Date.now(),
): Promise<RefreshOutcome> {
	const match = presented.match(TOKEN_SHAPE);
	if (!match) return { kind: "invalid" };
	const [, family, secret] = match as unknown as [string, string, string];
	const hash = await sha256(secret);
	const nextSecret = randomToken(32);
	const nextHash = await sha256(nextSecret);
	const graceFrom = now - REFRESH_GRACE_MS;
	const current = sql`token_hash = ${hash}`;
	const inGrace = sql`(prev_token_hash = ${hash} and rotated_at > ${graceFrom})`;

	const device = deviceColumns(request);
	const touched = sql`(${current} or ${inGrace})`;
	const ifTouched = (value: string | null, column: string) =>
		sql`case when ${touched} then ${value} else ${sql.raw(column)} end`;
	// A banned account's sessions do not refresh (the ban revoked them; a timed ban's end does not revive them).
	const [rows] = await db.batch([
		db
			.update(sessions)
			.set({
				tokenHash: sql`case when ${current} then ${nextHash} else token_hash end`,
				prevTokenHash: sql`case when ${current} then ${hash} else prev_token_hash end`,
				rotatedAt: sql`case when ${current} then ${now} else rotated_at end`,
				lastUsedAt: sql`case when ${touched} then ${now} else last_used_at end`,
				revokedAt: sql`case when ${touched} then null else ${now} end`,
				userAgent: ifTouched(device.userAgent, "user_agent"),
				browser: ifTouched(device.browser, "browser"),
				os: ifTouched(device.os, "os"),
				deviceType: ifTouched(device.deviceType, "device_type"),
				country: ifTouched(device.country, "country"),
				city: ifTouched(device.city, "city"),
			})
			.where(
				sql`family = ${family} and revoked_at is null and expires_at > ${now} and last_used_at > ${now - SESSION_IDLE_MS}
					and not exists (select 1 from users where users.id = sessions.user_id and ${banInForceSql(now)})`,
			)
			.returning({
				id: sessions.id,
				user_id: sessions.userId,
				rotated: sql<number>`token_hash = ${nextHash}`,
				revoked: sql<number>`revoked_at is not null`,
				expires_at: sessions.expiresAt,
				roles: rolesOf(sql`sessions.user_id`),
			}),
		// Reuse detected: the event, in the same write as the revocation above (only when it revoked the session).
		eventStatement(
			{ db, request },
			{
				type: "refresh.reuse_detected",
				outcome: "failure",
				userId: sql`(select user_id from sessions where family = ${family} and revoked_at = ${now})`,
				actor: {
					type: "user",
					id: sql`(select user_id from sessions where family = ${family} and revoked_at = ${now})`,
				},
				sessionId: sql<string | null>`(select id from sessions where family = ${family} and revoked_at = ${now})`,
			},
			now,
			// The update above also touches a session it rotates or lets through the grace window: only a revocation
			// made just now is a reuse.
			{ onlyIf: sql`exists (select 1 from sessions where family = ${family} and revoked_at = ${now})` },
		),
	]);

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

/**
 * Logout by the refresh cookie: revokes the session the token belongs to, if the token is its current or
 * previous one, and records `logout` in the same batch (only when a session ended).
 */
export async function revokeByRefreshToken(
	deps: Pick<Deps, "db" | "request">,
	presented: string,
	now = Date.now(),
): Promise<boolean> {
	const match = presented.match(TOKEN_SHAPE);
	if (!match) return false;
	const [, family, secret] = match as unknown as [string, string, string];
	const hash = await sha256(secret);
	const { db } = deps;
	const session = sql<string | null>`(select id from sessions where family = ${family})`;
	const [rows] = await db.batch([
		db
			.update(sessions)
			.set({ revokedAt: now })
			.where(
				and(
					eq(sessions.family, family),
					isNull(sessions.revokedAt),
					sql`(${sessions.tokenHash} = ${hash} or ${sessions.prevTokenHash} = ${hash})`,
				),
			)
			.returning({ id: sessions.id }),
		eventStatement(
			deps,
			{
				type: "logout",
				userId: sql`(select user_id from sessions where family = ${family})`,
				actor: { type: "user", id: sql`(select user_id from sessions where family = ${family})` },
				sessionId: session,
			},
			now,
			{ ifChanged: true },
		),
	]);
	return rows.length > 0;
}

/**
 * Ends one session if it is live and its account not banned (so a token the liveness guard would refuse ends
 * nothing here either); returns the id when it did.
 */
export function revokeSessionStatement(db: Db, sessionId: string, now = Date.now()) {
	return db
		.update(sessions)
		.set({ revokedAt: now })
		.where(
			and(
				eq(sessions.id, sessionId),
				isLive(now),
				sql`not exists (select 1 from users where users.id = ${sessions.userId} and ${banInForceSql(now)})`,
			),
		)
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

const isLive = (now: number) =>
	and(isNull(sessions.revokedAt), gt(sessions.expiresAt, now), gt(sessions.lastUsedAt, now - SESSION_IDLE_MS));

/** A session as its owner sees it in the device list (no token, hash or family). */
export const sessionView = {
	id: sessions.id,
	method: sessions.method,
	browser: sessions.browser,
	os: sessions.os,
	deviceType: sessions.deviceType,
	country: sessions.country,
	city: sessions.city,
	createdAt: sessions.createdAt,
	lastUsedAt: sessions.lastUsedAt,
	expiresAt: sessions.expiresAt,
};

export type SessionView = { [K in keyof typeof sessionView]: (typeof sessions.$inferSelect)[K] };

function liveSessionsQuery(db: Db, userId: number, now: number) {
	return db
		.select(sessionView)
		.from(sessions)
		.where(and(eq(sessions.userId, userId), isLive(now)))
		.orderBy(desc(sessions.lastUsedAt), desc(sessions.createdAt));
}

/** A user's live sessions, most recently used first; null when the user does not exist. One round trip. */
export async function listLiveSessions(
	{ db }: DbDeps,
	userId: number,
	now = Date.now(),
): Promise<SessionView[] | null> {
	const [user, rows] = await db.batch([userExistsStatement(db, userId), liveSessionsQuery(db, userId, now)]);
	return user.length > 0 ? rows : null;
}

type RevokeScope = { sessionId: string } | { exceptSessionId: string } | "all";

/**
 * Revokes a user's live sessions — one, all but one, or all — and records `session.revoked` in the same batch,
 * only if something was revoked (`detail.count` says how many). Twenty concurrent revokes of one session revoke
 * it once and write one event. Returns how many were revoked.
 */
export async function revokeSessions(
	deps: Pick<Deps, "db" | "request">,
	userId: number,
	scope: RevokeScope,
	actor: SecurityEvent["actor"],
	now = Date.now(),
): Promise<number> {
	const { db } = deps;
	const which =
		scope === "all"
			? undefined
			: "sessionId" in scope
				? eq(sessions.id, scope.sessionId)
				: ne(sessions.id, scope.exceptSessionId);
	const [revoked] = await db.batch([
		db
			.update(sessions)
			.set({ revokedAt: now })
			.where(and(eq(sessions.userId, userId), isLive(now), which))
			.returning({ id: sessions.id }),
		eventStatement(
			deps,
			{
				type: "session.revoked",
				userId,
				actor,
				sessionId: scope !== "all" && "sessionId" in scope ? scope.sessionId : null,
				detail: { scope: scope === "all" ? "all" : "sessionId" in scope ? "one" : "others" },
			},
			now,
			{ ifChanged: true },
		),
	]);
	return revoked.length;
}

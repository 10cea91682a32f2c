import { and, eq, isNotNull } from "drizzle-orm";
import { users } from "../db/schema.ts";
import { isoOrNull } from "../lib/time.ts";
import type { Deps } from "./deps.ts";
import { ALL_BUT_UNDO, closeLinksMintedByStatement, closeOpenTokensStatement } from "./one-time-tokens.ts";
import { eventStatement } from "./security-events.ts";
import { revokeAllSessionsStatement } from "./sessions.ts";
import { findUserById, type UserRecord } from "./users.ts";

/**
 * Bans that bite at once. One batch (one transaction) sets the ban, revokes every session, closes every open
 * one-time token and records `user.banned` — the event only if the user row changed, so the event exists iff
 * the ban does. The access tokens of those sessions are refused from the next request on (the Bearer liveness
 * guard checks the session and the ban), and no sign-in, refresh or login link opens a session while it holds.
 */
export async function banUser(
	deps: Pick<Deps, "db" | "request">,
	adminId: number,
	userId: number,
	input: { reason: string | null; until: number | null },
	now = Date.now(),
): Promise<UserRecord | null> {
	const { db } = deps;
	await db.batch([
		db
			.update(users)
			.set({ bannedAt: now, bannedUntil: input.until, banReason: input.reason, updatedAt: now })
			.where(eq(users.id, userId)),
		eventStatement(
			deps,
			{
				type: "user.banned",
				userId,
				actor: { type: "admin", id: adminId },
				detail: { reason: input.reason, until: isoOrNull(input.until) },
			},
			now,
			{ ifChanged: true },
		),
		revokeAllSessionsStatement(db, userId, now),
		// An email change's undo link stays: the owner of a hijacked account the ban stopped still needs it.
		closeOpenTokensStatement(db, userId, ALL_BUT_UNDO, now),
		// A partner's staff member banned: the links they minted for others stop working too.
		closeLinksMintedByStatement(db, userId, now, "creator-banned"),
	]);
	return findUserById(deps, userId);
}

/** Lifts a ban (idempotent); `user.unbanned` is written only when a ban was lifted. Null: no such user. */
export async function unbanUser(
	deps: Pick<Deps, "db" | "request">,
	adminId: number,
	userId: number,
	now = Date.now(),
): Promise<UserRecord | null> {
	const { db } = deps;
	await db.batch([
		db
			.update(users)
			.set({ bannedAt: null, bannedUntil: null, banReason: null, updatedAt: now })
			.where(and(eq(users.id, userId), isNotNull(users.bannedAt))),
		eventStatement(deps, { type: "user.unbanned", userId, actor: { type: "admin", id: adminId } }, now, {
			ifChanged: true,
		}),
	]);
	return findUserById(deps, userId);
}

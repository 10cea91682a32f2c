import { and, asc, eq, lte, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import {
	deletionRequests,
	devOutbox,
	erasures,
	imageDeletions,
	securityEvents,
	sessions,
	users,
} from "../db/schema.ts";
import type { AccessClaims } from "../lib/jwt.ts";
import { verifyPassword } from "../lib/password.ts";
import type { DbDeps, Deps } from "./deps.ts";
import { appLink, createMailer } from "./mail.ts";
import {
	ALL_BUT_UNDO,
	closeLinksMintedByStatement,
	closeOpenTokensStatement,
	consumeOneTimeToken,
	prepareOneTimeToken,
	TOKEN_COPY_PREFIX,
} from "./one-time-tokens.ts";
import { deleteQueuedImage, IMAGE_PREFIX } from "./profile-images.ts";
import { enforce, forgetLimiter, type Limited, limiterObjectName, refund } from "./rate-limits.ts";
import { eventStatement, type SecurityEvent, self } from "./security-events.ts";
import { revokeAllSessionsStatement } from "./sessions.ts";
import { findUserById, findUserIdentity } from "./users.ts";

/**
 * Leaving: the owner asks (`requestDeletion`, with the password), every session ends and a 7-day grace starts,
 * which the mailed link or a password sign-in cancels; when it ends, the daily cron deletes the account. An
 * Admin deletes at once. The deletion itself (`deleteAccount`) is one D1 batch — after it the account is gone
 * everywhere it can be reached from (rows, sessions, tokens; its access tokens fail the liveness guard from the
 * next request on) — which also records, in `image_deletions` and `erasures`, what it left outside D1: the R2
 * image, KV's copies of its tokens, its rate-limiter objects. `eraseLeftovers` then deletes each of those and
 * only afterwards its row, so a failure at any step leaves the account either whole or unreachable, and the
 * next run (the request's deferred work, else the cron) finishes without losing or repeating anything.
 * Security events about the account stay, without its personal fields (IP, user agent, country, emails in
 * `detail`).
 */

const DELETION_GRACE_MS = 7 * 24 * 60 * 60 * 1000;

export type DeletionRequest = { ok: true; scheduledFor: number } | { ok: false; reason: "no-user" | "wrong-password" };

export async function requestDeletion(
	deps: Deps,
	auth: Pick<AccessClaims, "userId" | "sessionId">,
	password: string,
): Promise<DeletionRequest> {
	const user = await findUserById(deps, auth.userId);
	if (!user) return { ok: false, reason: "no-user" };
	// Wrong passwords count toward the account's login limit like failed sign-ins. An account without a password
	// (provisioned by POST /api/users) never passes: only an Admin deletes it.
	const attempt: Limited = { name: "loginAccount", key: `user:${user.id}` };
	await enforce(deps.env, deps.config, attempt);
	const verdict = await verifyPassword(password, user.passwordHash, deps.config.peppers);
	if (!verdict.ok) return { ok: false, reason: "wrong-password" };
	deps.defer(refund(deps.env, deps.config, attempt));
	const now = Date.now();
	const cancel = await prepareOneTimeToken(deps, { purpose: "cancel-deletion", userId: user.id }, now);
	const [, , , , , , , request] = await deps.db.batch([
		// A request already open keeps its date (a second request moves nothing).
		deps.db
			.insert(deletionRequests)
			.values({ userId: user.id, requestedAt: now, scheduledFor: now + DELETION_GRACE_MS })
			.onConflictDoNothing(),
		eventStatement(
			deps,
			{
				type: "account.deletion_requested",
				userId: user.id,
				actor: self(user.id),
				sessionId: auth.sessionId,
				detail: { scheduledFor: new Date(now + DELETION_GRACE_MS).toISOString() },
			},
			now,
			{ ifChanged: true },
		),
		revokeAllSessionsStatement(deps.db, user.id, now),
		// What the revoke did is recorded even when the request was already open (then the event above is not).
		eventStatement(
			deps,
			{
				type: "session.revoked",
				userId: user.id,
				actor: self(user.id),
				sessionId: auth.sessionId,
				detail: { scope: "all", reason: "deletion_requested" },
			},
			now,
			{ ifChanged: true },
		),
		// No link opens a session in the grace (login links minted before, a "not me", resets); an email change's
		// undo stays, and the cancel link below replaces an older one.
		closeOpenTokensStatement(deps.db, user.id, ALL_BUT_UNDO, now),
		...cancel.statements,
		deps.db
			.select({ scheduledFor: deletionRequests.scheduledFor })
			.from(deletionRequests)
			.where(eq(deletionRequests.userId, user.id)),
	]);
	await cancel.storeCopy();
	const scheduledFor = request[0]?.scheduledFor ?? now + DELETION_GRACE_MS;
	// Not limited, never failing the request: the owner must learn of it and hold the way back.
	deps.defer(
		createMailer(deps).send({
			to: user.email,
			subject: "Your account will be deleted",
			text: `As you asked, your account and everything stored about it will be deleted on ${new Date(scheduledFor).toISOString()}. Every device was signed out.\n\nTo keep your account, cancel the deletion before then — with this link, or simply by signing in with your password:\n\n${appLink(deps.config, "/cancel-deletion", cancel.token)}`,
		}),
	);
	return { ok: true, scheduledFor };
}

/**
 * For the caller's batch: cancels the account's open deletion request, and records `account.deletion_cancelled`
 * (`detail.by`) only if there was one. `userId` may be SQL (a consumed token's subject); `onlyIf` narrows it.
 */
export function cancelDeletionStatements(
	deps: Pick<Deps, "db" | "request">,
	userId: number | SQL<number | null>,
	by: "link" | "sign_in" | "email_undo",
	now: number,
	options: { onlyIf?: SQL; sessionId?: string } = {},
): BatchItem<"sqlite">[] {
	return [
		deps.db.delete(deletionRequests).where(and(eq(deletionRequests.userId, userId), options.onlyIf)),
		eventStatement(
			deps,
			{
				type: "account.deletion_cancelled",
				userId,
				actor: { type: "user", id: userId },
				sessionId: options.sessionId ?? null,
				detail: { by },
			},
			now,
			{ ifChanged: true },
		),
	];
}

/** Cancels with the mailed link (single use); false for an unknown, used or expired token. */
export async function cancelDeletionByLink(deps: Deps, token: string): Promise<boolean> {
	const consumed = await consumeOneTimeToken(deps, "cancel-deletion", token, ({ subject, now }) =>
		cancelDeletionStatements(deps, subject, "link", now),
	);
	return consumed !== null;
}

/**
 * For a password sign-in's batch, after the session insert: a sign-in during the grace cancels the deletion
 * (`detail.by: "sign_in"`) and closes the cancel link — only if the session was really opened (`opened`).
 */
export function cancelDeletionOnSignInStatements(
	deps: Pick<Deps, "db" | "request">,
	userId: number,
	sessionId: string,
	now: number,
): BatchItem<"sqlite">[] {
	const opened = sql`exists (select 1 from ${sessions} where ${sessions.id} = ${sessionId})`;
	return [
		...cancelDeletionStatements(deps, userId, "sign_in", now, { onlyIf: opened, sessionId }),
		closeOpenTokensStatement(deps.db, userId, ["cancel-deletion"], now, opened),
	];
}

/** The rate-limiter objects that count an account's own actions (see the limits in config.ts). */
const OWN_LIMITS = ["loginAccount", "uploadUser", "provisionCaller"] as const;

type DeletedBy = { by: "admin"; adminId: number } | { by: "schedule" };

/**
 * Deletes the account in one D1 batch, then erases what it left outside D1. Returns false when there was nothing
 * to delete (no such user; or, for a scheduled deletion, the request was cancelled meanwhile).
 */
async function deleteAccount(
	deps: Pick<Deps, "db" | "request">,
	userId: number,
	deletedBy: DeletedBy,
	now = Date.now(),
) {
	// Only the email is needed here (the image key is read inside the batch).
	const user = await findUserIdentity(deps, { id: userId });
	if (!user) return false;
	// Every statement runs only while the reason holds, judged inside the transaction before the rows go.
	const reason: SQL =
		deletedBy.by === "admin"
			? sql`exists (select 1 from users where id = ${userId})`
			: sql`exists (select 1 from deletion_requests where user_id = ${userId} and scheduled_for <= ${now})`;
	const limiterNames = await Promise.all([
		...OWN_LIMITS.map((name) => limiterObjectName({ name, key: `user:${userId}` })),
		limiterObjectName({ name: "mailAddress", key: user.email }),
	]);
	const actor: SecurityEvent["actor"] =
		deletedBy.by === "admin" ? { type: "admin", id: deletedBy.adminId } : { type: "system" };
	const { db } = deps;
	const [, , , , , , , , deleted] = await db.batch([
		// What lives outside D1, recorded before the rows that name it go.
		db
			.insert(imageDeletions)
			.select(
				sql`select ${IMAGE_PREFIX} || profile_image_key, 'deleted', ${now} from users
					where id = ${userId} and profile_image_key is not null and ${reason}`,
			)
			.onConflictDoUpdate({ target: imageDeletions.objectKey, set: { reason: "deleted", dueAt: now } }),
		db
			.insert(erasures)
			.select(
				sql`select 'kv', ${TOKEN_COPY_PREFIX} || token_hash, ${now} from one_time_tokens
					where user_id = ${userId} and expires_at > ${now} and ${reason}`,
			)
			.onConflictDoNothing(),
		db
			.insert(erasures)
			.select(sql`select 'limiter', value, ${now} from json_each(${JSON.stringify(limiterNames)}) where ${reason}`)
			.onConflictDoNothing(),
		// Security events about the account stay (the audit trail), without what identifies the person.
		db
			.update(securityEvents)
			.set({
				ip: null,
				userAgent: null,
				country: null,
				detail: sql`json_remove(${securityEvents.detail}, '$.email', '$.newEmail', '$.previousEmail', '$.restoredEmail')`,
			})
			.where(and(eq(securityEvents.userId, userId), reason)),
		closeLinksMintedByStatement(db, userId, now, "creator-deleted", reason),
		db
			.update(users)
			.set({ provisionedBy: null })
			.where(and(eq(users.provisionedBy, userId), reason)),
		// Development mail to the address (the outbox is D1 rows; production mail is not ours to delete).
		db.delete(devOutbox).where(and(eq(devOutbox.to, user.email), reason)),
		eventStatement(deps, { type: "account.deleted", userId, actor, detail: { by: deletedBy.by } }, now, {
			onlyIf: reason,
		}),
		// Anything else the account owns goes with its row (foreign keys, ON DELETE CASCADE): roles, memberships,
		// sessions, one-time tokens, progress, subscription periods, the deletion request, reservations, owned keys.
		db
			.delete(users)
			.where(and(eq(users.id, userId), reason))
			.returning({ id: users.id }),
	]);
	return deleted.length > 0;
}

/** An Admin's deletion: at once, the leftovers erased after the answer (and by the cron if that fails). */
export async function deleteUserNow(deps: Deps, userId: number, adminId: number): Promise<boolean> {
	const now = Date.now();
	if (!(await deleteAccount(deps, userId, { by: "admin", adminId }, now))) return false;
	deps.defer(eraseLeftovers(deps, now));
	return true;
}

/** Accounts whose grace ended, this many per cron run (each is one batch and a few erasures). */
const DUE_PAGE = 50;

/** The daily cron: deletes every account whose deletion is due, then erases leftovers. Returns how many. */
export async function deleteDueAccounts(deps: Pick<Deps, "db" | "env" | "request">, now = Date.now()): Promise<number> {
	const due = await deps.db
		.select({ userId: deletionRequests.userId })
		.from(deletionRequests)
		.where(lte(deletionRequests.scheduledFor, now))
		.orderBy(asc(deletionRequests.scheduledFor))
		.limit(DUE_PAGE);
	let deleted = 0;
	// One account that fails (logged, retried tomorrow) does not keep the others.
	const failures: unknown[] = [];
	for (const { userId } of due) {
		try {
			if (await deleteAccount(deps, userId, { by: "schedule" }, now)) deleted++;
		} catch (error) {
			failures.push(error);
		}
	}
	await eraseLeftovers(deps, now);
	if (failures.length > 0) throw failures[0];
	return deleted;
}

const ERASURE_PAGE = 100;
/** A run stops after this many pages of each kind (leftovers wait for the next run), within a cron's subrequests. */
const MAX_ERASURE_PAGES = 5;

/**
 * Erases what deleted accounts left outside D1: the images queued as `deleted`, the KV copies of their tokens, their
 * rate-limiter objects — each target first, then its row, so a failure leaves the row for the next run. Idempotent.
 */
export async function eraseLeftovers(deps: Pick<Deps, "db" | "env">, now = Date.now()): Promise<number> {
	const { db, env } = deps;
	let erased = 0;
	for (let page = 0; page < MAX_ERASURE_PAGES; page++) {
		const images = await db
			.select({ key: imageDeletions.objectKey })
			.from(imageDeletions)
			.where(and(eq(imageDeletions.reason, "deleted"), lte(imageDeletions.dueAt, now)))
			.limit(ERASURE_PAGE);
		for (const { key } of images) await deleteQueuedImage(deps, key);
		erased += images.length;
		if (images.length < ERASURE_PAGE) break;
	}
	for (let page = 0; page < MAX_ERASURE_PAGES; page++) {
		const rows = await db.select().from(erasures).orderBy(asc(erasures.createdAt)).limit(ERASURE_PAGE);
		for (const row of rows) {
			if (row.kind === "kv") await env.TOKENS.delete(row.target);
			else await forgetLimiter(env, row.target);
			await db.delete(erasures).where(and(eq(erasures.kind, row.kind), eq(erasures.target, row.target)));
		}
		erased += rows.length;
		if (rows.length < ERASURE_PAGE) break;
	}
	return erased;
}

/** For the export: the account's open deletion request, if any. */
export function deletionRequestStatement({ db }: DbDeps, userId: number) {
	return db
		.select({ requestedAt: deletionRequests.requestedAt, scheduledFor: deletionRequests.scheduledFor })
		.from(deletionRequests)
		.where(eq(deletionRequests.userId, userId));
}

import { and, eq, type SQL, sql } from "drizzle-orm";
import { emailReservations, users } from "../db/schema.ts";
import type { AccessClaims } from "../lib/jwt.ts";
import { verifyPassword } from "../lib/password.ts";
import { cancelDeletionStatements } from "./account-deletion.ts";
import { mailPasswordReset } from "./auth.ts";
import type { Deps } from "./deps.ts";
import { appLink, createMailer } from "./mail.ts";
import {
	ALL_BUT_UNDO,
	closeOpenTokensStatement,
	consumeOneTimeToken,
	findOpenTokenMeta,
	type PreparedToken,
	prepareOneTimeToken,
	tokenHashOf,
} from "./one-time-tokens.ts";
import { enforce, type Limited, refund } from "./rate-limits.ts";
import { eventStatement, self } from "./security-events.ts";
import { revokeAllSessionsStatement } from "./sessions.ts";
import { findUserById, isUniqueViolation, normalizeEmail, recordColumns, toRecord, type UserRecord } from "./users.ts";

/**
 * Changing an account's email address, in three steps no configuration can skip:
 *
 * 1. `requestEmailChange` (the signed-in owner, with the current password): the same answer whether or not the
 *    new address is taken. A free address gets a confirmation link (24 h); a taken one gets a notice and nothing
 *    changes. Both addresses' mail budgets are spent either way, so the answer says nothing about the address.
 * 2. `confirmEmailChange` (the new mailbox): one batch consumes the link, sets the address (verified), reserves
 *    the old address for this account and issues the undo link — or, if another account took the address
 *    meanwhile, nothing at all (the unique index decides: exactly one owner, 409 for the other). The old address
 *    then gets a notice with the undo link (7 days).
 * 3. `undoEmailChange` (the old mailbox): restores the old address, clears the password, revokes every session,
 *    closes every open token but the undo links of earlier changes, cancels a deletion request, and mails a reset
 *    link (outside the mail limit): whoever changed the address knew the password (and may have asked to delete
 *    the account).
 *
 * Nothing but the account's deletion, its own use or the use of an earlier change's undo ends an undo link:
 * resets, bans, password changes and later changes close every other open link (ALL_BUT_UNDO), and the undo of a
 * later change leaves it open, so whoever moved the address cannot take the way back away — not by moving it on
 * again and undoing that move from the mailbox they hold.
 *
 * The old address stays reserved for the account until the undo link expires (email_reservations and the
 * trigger of migration 0005), so whoever made the change cannot block the undo by registering the old address.
 */

const UNDO_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;

const CLOSED_BY_A_CHANGE = ALL_BUT_UNDO.filter((p) => p !== "cancel-deletion");

export type EmailChangeRequest =
	| { ok: true; pendingEmail: string }
	| { ok: false; reason: "no-user" | "wrong-password" | "same-email" };

export async function requestEmailChange(
	deps: Deps,
	auth: Pick<AccessClaims, "userId" | "sessionId">,
	input: { newEmail: string; currentPassword: string },
): Promise<EmailChangeRequest> {
	const user = await findUserById(deps, auth.userId);
	if (!user) return { ok: false, reason: "no-user" };
	// Wrong passwords count toward the account's login limit, like failed sign-ins and password changes.
	const attempt: Limited = { name: "loginAccount", key: `user:${user.id}` };
	await enforce(deps.env, deps.config, attempt);
	const verdict = await verifyPassword(input.currentPassword, user.passwordHash, deps.config.peppers);
	if (!verdict.ok) return { ok: false, reason: "wrong-password" };
	deps.defer(refund(deps.env, deps.config, attempt));
	const newEmail = normalizeEmail(input.newEmail);
	if (newEmail === user.email) return { ok: false, reason: "same-email" };
	// The mail limits apply to both addresses, and are spent whether or not the new one is taken (429 otherwise).
	await enforce(
		deps.env,
		deps.config,
		{ name: "mailAddress", key: newEmail },
		{ name: "mailAddress", key: user.email },
	);
	// Whether the address is taken is looked up after the answer, so the answer cannot depend on it.
	deps.defer(sendChangeMail(deps, user, newEmail, auth.sessionId));
	return { ok: true, pendingEmail: newEmail };
}

/** The confirmation link, or — for an address that is not free — a notice that changes nothing. */
async function sendChangeMail(deps: Deps, user: UserRecord, newEmail: string, sessionId: string) {
	const mailer = createMailer(deps);
	const now = Date.now();
	const requested = eventStatement(
		deps,
		{ type: "email.change_requested", userId: user.id, actor: self(user.id), sessionId, detail: { newEmail } },
		now,
	);
	const link = await prepareOneTimeToken(
		deps,
		{ purpose: "email-change", userId: user.id, meta: { newEmail, fromEmail: user.email } },
		now,
	);
	if (await addressTaken(deps, newEmail, user.id, now)) {
		// Stored like a real request (it supersedes an older link, the export shows it) but never mailed: nothing the
		// account can read tells a taken address from a free one. Used anyway, it could only meet the unique index.
		await deps.db.batch([requested, ...link.statements]);
		await mailer.send({
			to: newEmail,
			subject: "Email change not possible",
			text: `Someone asked to move an account to this address, but this address already belongs to an account (maybe yours). Nothing was changed.\n\nIf you did not expect this, you can ignore this message.`,
		});
		return;
	}
	await deps.db.batch([requested, ...link.statements]);
	await link.storeCopy();
	await mailer.send({
		to: newEmail,
		subject: "Confirm your new email address",
		text: `Confirm that this address should become the email address of your account (the link works once, within 24 hours):\n\n${appLink(deps.config, "/confirm-email", link.token)}\n\nUntil you confirm, nothing changes. If you did not ask for this, ignore this message.`,
	});
}

/** Registered to another account, or reserved for another account by its own email change. */
async function addressTaken(deps: Deps, email: string, userId: number, now: number): Promise<boolean> {
	const [owner, reservation] = await deps.db.batch([
		deps.db.select({ id: users.id }).from(users).where(eq(users.email, email)),
		deps.db
			.select({ userId: emailReservations.userId })
			.from(emailReservations)
			.where(and(eq(emailReservations.email, email), sql`${emailReservations.until} > ${now}`)),
	]);
	return (
		(owner[0] !== undefined && owner[0].id !== userId) ||
		(reservation[0] !== undefined && reservation[0].userId !== userId)
	);
}

export type EmailConfirmation = { ok: true; user: UserRecord } | { ok: false; reason: "invalid-token" | "taken" };

export async function confirmEmailChange(deps: Deps, token: string): Promise<EmailConfirmation> {
	const tokenHash = await tokenHashOf(token);
	const now = Date.now();
	const pending = tokenHash ? await findOpenTokenMeta(deps, tokenHash, "email-change", now) : null;
	const newEmail = typeof pending?.meta.newEmail === "string" ? pending.meta.newEmail : null;
	const fromEmail = typeof pending?.meta.fromEmail === "string" ? pending.meta.fromEmail : null;
	if (!pending || !newEmail || !fromEmail) return { ok: false, reason: "invalid-token" };
	let undo: PreparedToken | undefined;
	let consumed: Awaited<ReturnType<typeof consumeOneTimeToken>>;
	try {
		consumed = await consumeOneTimeToken(
			deps,
			"email-change",
			token,
			async ({ subject }) => {
				// True only in the request that won the token, and only if the address below really changed.
				const changed = sql`exists (select 1 from users where id = ${subject} and email = ${newEmail})`;
				undo = await prepareOneTimeToken(
					deps,
					{ purpose: "email-undo", userId: subject, meta: { previousEmail: fromEmail, newEmail } },
					now,
					changed,
				);
				return [
					// The new mailbox answered: it is proven now. The old address must still be the account's.
					deps.db
						.update(users)
						.set({ email: newEmail, emailVerifiedAt: now, updatedAt: now })
						.where(and(eq(users.id, subject), eq(users.email, fromEmail))),
					deps.db
						.insert(emailReservations)
						.select(sql`select ${fromEmail}, ${subject}, ${now + UNDO_WINDOW_MS} where ${changed}`)
						.onConflictDoUpdate({
							target: emailReservations.email,
							set: { userId: sql`excluded.user_id`, until: sql`excluded.until` },
						}),
					...undo.statements,
					// Every other open link goes (verification and resets mailed to the old address, login links, a
					// "not me"), but the undo links and a deletion's cancel link: those are the owner's ways back.
					closeOpenTokensStatement(deps.db, subject, CLOSED_BY_A_CHANGE, now, changed),
					eventStatement(
						deps,
						{
							type: "email.change_confirmed",
							userId: subject,
							actor: { type: "user", id: subject },
							detail: { previousEmail: fromEmail, newEmail },
						},
						now,
						{ onlyIf: changed },
					),
					deps.db
						.select(recordColumns(now))
						.from(users)
						.where(and(eq(users.id, subject), eq(users.email, newEmail))),
				];
			},
			now,
		);
	} catch (error) {
		// Another account took the address first (or holds it reserved): nothing of this batch happened.
		if (isUniqueViolation(error, "users.email")) return { ok: false, reason: "taken" };
		throw error;
	}
	if (!consumed || !undo) return { ok: false, reason: "invalid-token" };
	const user = toRecord((consumed.effectResults.at(-1) as Parameters<typeof toRecord>[0][])[0]);
	// The address had changed since the link was mailed (an undo, another change): nothing was changed.
	if (!user) return { ok: false, reason: "invalid-token" };
	await undo.storeCopy();
	// A security notice: not limited, and it never makes the request fail (deferred).
	deps.defer(
		createMailer(deps).send({
			to: fromEmail,
			subject: "Your email address was changed",
			text: `The email address of your account was changed from ${fromEmail} to ${newEmail}.\n\nIf this was you, there is nothing to do. If it wasn't, undo the change within 7 days — this restores this address, signs out every device and replaces the password (whoever changed the address knew it): a reset link follows to set a new one:\n\n${appLink(deps.config, "/undo-email-change", undo.token)}`,
		}),
	);
	return { ok: true, user };
}

export async function undoEmailChange(deps: Deps, token: string): Promise<boolean> {
	const tokenHash = await tokenHashOf(token);
	const now = Date.now();
	const pending = tokenHash ? await findOpenTokenMeta(deps, tokenHash, "email-undo", now) : null;
	const previousEmail = typeof pending?.meta.previousEmail === "string" ? pending.meta.previousEmail : null;
	if (!pending || !previousEmail) return false;
	const consumed = await consumeOneTimeToken(deps, "email-undo", token, ({ subject }) => {
		const won: SQL = sql`${subject} is not null`;
		// Over one_time_tokens: an undo link issued before this one (by an earlier change).
		const earlierUndo = sql`purpose = 'email-undo' and created_at < (select t.created_at from one_time_tokens t
			where t.token_hash = ${tokenHash})`;
		return [
			// The old mailbox answered: it is proven again. The password goes too: whoever moved the address knew it,
			// and could sign in with it again at once; the owner sets a new one with the reset link mailed below.
			deps.db
				.update(users)
				.set({ email: previousEmail, emailVerifiedAt: now, passwordHash: null, updatedAt: now })
				.where(eq(users.id, subject)),
			revokeAllSessionsStatement(deps.db, subject, now),
			// Every open link closes but the undo links of earlier changes: each leads further back, to an address
			// held before this one, so whoever moved the address on from there cannot use this undo to take that
			// way back from its owner.
			closeOpenTokensStatement(deps.db, subject, "all", now, sql`not (${earlierUndo})`),
			// The reservations go with their undo links: those of earlier changes' links (still open) stay.
			deps.db.delete(emailReservations).where(
				and(
					eq(emailReservations.userId, subject),
					sql`${emailReservations.email} not in (select json_extract(meta, '$.previousEmail') from one_time_tokens
							where user_id = ${subject} and ${earlierUndo} and closed_at is null and expires_at > ${now}
							and json_extract(meta, '$.previousEmail') is not null)`,
				),
			),
			// Whoever changed the address may also have asked to delete the account: the owner's undo keeps it.
			...cancelDeletionStatements(deps, subject, "email_undo", now),
			eventStatement(
				deps,
				{
					type: "email.change_undone",
					userId: subject,
					actor: { type: "user", id: subject },
					detail: { restoredEmail: previousEmail },
				},
				now,
				{ onlyIf: won },
			),
		];
	});
	if (!consumed) return false;
	// Whoever changed the address may know the password: a reset link goes to the restored address.
	const user = await findUserById(deps, consumed.userId);
	if (user) deps.defer(mailPasswordReset(deps, user));
	return true;
}

import { and, eq, isNull, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { sessions, users } from "../db/schema.ts";
import { commonPasswords } from "../lib/common-passwords.ts";
import type { Device } from "../lib/device.ts";
import { badRequest } from "../lib/errors.ts";
import { type AccessClaims, publicJwks, signAccessToken } from "../lib/jwt.ts";
import { hashPassword, passwordProblem, verifyPassword } from "../lib/password.ts";
import { networkKey } from "../lib/rate-limit.ts";
import { cancelDeletionOnSignInStatements } from "./account-deletion.ts";
import { type SessionMethod, sessionRefusal } from "./account-policy.ts";
import type { Deps } from "./deps.ts";
import { appLink, createMailer } from "./mail.ts";
import {
	ALL_BUT_UNDO,
	closeOpenTokensStatement,
	consumeOneTimeToken,
	findOpenTokenMeta,
	issueOneTimeToken,
	liveTokenSubject,
	tokenHashOf,
} from "./one-time-tokens.ts";
import { enforce, type Limited, refund } from "./rate-limits.ts";
import { eventStatement, recordEvent, type SecurityEvent, self } from "./security-events.ts";
import {
	deviceSeenStatement,
	newSession,
	refreshSession,
	revokeAllSessionsStatement,
	revokeByRefreshToken,
	revokeOtherSessionsStatement,
	revokeSessionStatement,
} from "./sessions.ts";
import {
	createUser,
	findUserByEmail,
	findUserById,
	findUserByLogin,
	findUserWhere,
	normalizeEmail,
	type UserRecord,
} from "./users.ts";

/**
 * The identity core both surfaces call: one login, one token issuer, one session store.
 * Surfaces only translate requests and phrase errors.
 */

/** The public half of every configured signing key: what /.well-known/jwks.json publishes. */
export const publicSigningKeys = (deps: Pick<Deps, "env">) => publicJwks(deps.env.JWT_PRIVATE_KEYS);

async function issueAccessToken(deps: Deps, subject: Pick<AccessClaims, "userId" | "sessionId" | "roles">) {
	return signAccessToken(deps.env.JWT_PRIVATE_KEYS, deps.config, subject);
}

export interface SignedIn {
	user: UserRecord;
	accessToken: string;
	claims: AccessClaims;
	refreshToken: string;
	sessionExpiresAt: number;
}

export type SessionOpening =
	| { ok: true; signedIn: SignedIn }
	| { ok: false; reason: "unverified" | "disabled" | "invalid" };

/**
 * Opens a session for a user whose identity is already proven (password, login link, reset), after the
 * account rules of services/account-policy.ts: the one door every session goes through. Its audit event
 * (`login.succeeded`, or the caller's, e.g. `link.redeemed`) is written in the session's own batch. The insert
 * re-checks the account inside that batch (not banned now; for a password, the verified hash still stored;
 * whatever `first` leaves to check): a reset, password change or ban that landed meanwhile leaves no session and
 * no event ("invalid").
 */
export async function openSession(
	deps: Deps,
	user: UserRecord,
	method: SessionMethod,
	options: {
		/** Statements that take effect only with the session: given SQL that is true once its row exists. */
		alsoRun?: (opened: SQL) => BatchItem<"sqlite">[];
		event?: Omit<SecurityEvent, "userId" | "sessionId">;
		verifiedPasswordHash?: string;
		/**
		 * Statements run first in the session's batch, and the condition over the `users` row they leave the
		 * insert: a login link's claim, so the link is spent in the very write that opens its session and nothing
		 * can land between the two.
		 */
		first?: { statements: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]; insertOnlyIf: SQL };
	} = {},
): Promise<SessionOpening> {
	const refusal = sessionRefusal(deps.config, user, method);
	if (refusal) {
		if (method === "password")
			await recordEvent(deps, {
				type: "login.failed",
				outcome: "failure",
				userId: user.id,
				actor: self(user.id),
				detail: { reason: refusal },
			});
		return { ok: false, reason: refusal };
	}
	const now = Date.now();
	const first = options.first?.statements ?? [];
	const session = await newSession(
		deps,
		user.id,
		method,
		now,
		and(
			options.verifiedPasswordHash === undefined ? undefined : eq(users.passwordHash, options.verifiedPasswordHash),
			options.first?.insertOnlyIf,
		),
	);
	const event = options.event ?? { type: "login.succeeded", actor: self(user.id), detail: { method } };
	const opened = sql`exists (select 1 from ${sessions} where ${sessions.id} = ${session.sessionId})`;
	// Read before the insert, in the same batch (no extra round trip): has this device been seen lately?
	const [seen, inserted] = (
		await deps.db.batch([
			...first,
			deviceSeenStatement(deps, user.id, session.device, now),
			session.insert,
			// Only if the insert above happened (changes()), without a count: the event is about one session.
			eventStatement(deps, { ...event, userId: user.id, sessionId: session.sessionId }, now, {
				onlyIf: sql`changes() > 0`,
			}),
			...(options.alsoRun?.(opened) ?? []),
			// A password sign-in during a deletion's grace keeps the account (contract: not a login link).
			...(method === "password" ? cancelDeletionOnSignInStatements(deps, user.id, session.sessionId, now) : []),
		] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]])
	).slice(first.length) as [{ any: number; seen: number }[], { id: string }[]];
	if (inserted.length === 0) return { ok: false, reason: "invalid" };
	if (method === "password" && isNewDevice(seen[0])) deps.defer(sendNewSignInMail(deps, user, session, now));
	const { token, claims } = await issueAccessToken(deps, {
		userId: user.id,
		sessionId: session.sessionId,
		roles: user.roles,
	});
	return {
		ok: true,
		signedIn: {
			user,
			accessToken: token,
			claims,
			refreshToken: session.refreshToken,
			sessionExpiresAt: session.expiresAt,
		},
	};
}

export type LoginResult = SessionOpening | { ok: false; reason: "invalid" };

/**
 * Password login for both surfaces, at most two D1 round trips: the user read, then one batch
 * (session insert and, when the stored hash is outdated, its upgrade).
 *
 * Failed attempts are limited per account and per IP network. The attempt is counted *before*
 * the password is checked and taken back if it was right, so concurrent guesses cannot slip past
 * the limit; while an account is limited every attempt gets 429, a correct password included.
 * Unknown accounts cost one dummy hash, exactly like known ones. A wrong password is "invalid"
 * before anything else is said about the account (verification included).
 */
export async function loginWithPassword(
	deps: Deps,
	input: { identifier: string; by: "email" | "emailOrUsername"; password: string; ip: string },
): Promise<LoginResult> {
	const user =
		input.by === "email"
			? await findUserByEmail(deps, input.identifier)
			: await findUserByLogin(deps, input.identifier);
	// Keyed by the account when it exists, so username and email logins share one counter.
	const limits: Limited[] = [
		{ name: "loginAccount", key: user ? `user:${user.id}` : `login:${input.identifier.trim().toLowerCase()}` },
		{ name: "loginIp", key: networkKey(input.ip) },
	];
	const [accountDecision] = await enforce(deps.env, deps.config, ...limits);

	const verdict = await verifyPassword(input.password, user?.passwordHash, deps.config.peppers);
	if (!user || !verdict.ok) {
		// The attempt that used the account's last try locks it: that one is recorded as the lockout.
		const locked = user !== null && accountDecision?.remaining === 0;
		await recordEvent(deps, {
			type: locked ? "login.locked" : "login.failed",
			outcome: "failure",
			userId: user?.id ?? null,
			actor: { type: "user", id: user?.id ?? null },
			detail: { reason: user ? (user.passwordHash ? "wrong_password" : "no_password") : "unknown_account" },
		});
		return { ok: false, reason: "invalid" };
	}

	deps.defer(Promise.all(limits.map((l) => refund(deps.env, deps.config, l))));
	const verifiedHash = user.passwordHash as string;
	// The upgrade only replaces the hash that was verified (a reset or change that landed meanwhile stays), and
	// only with a session opened: a ban that lands meanwhile leaves a legacy hash as it was (contract: "only a
	// sign-in that opens a session replaces a legacy hash").
	const rehashed = verdict.needsRehash ? await hashPassword(input.password, deps.config.peppers) : null;
	const upgrade =
		rehashed === null
			? undefined
			: (opened: SQL) => [
					deps.db
						.update(users)
						.set({ passwordHash: rehashed })
						.where(and(eq(users.id, user.id), eq(users.passwordHash, verifiedHash), opened)),
				];
	const opened = await openSession(deps, user, "password", { alsoRun: upgrade, verifiedPasswordHash: verifiedHash });
	if (opened.ok || opened.reason !== "invalid") return opened;
	// The stored hash changed between the check and the write. If a concurrent sign-in only re-encoded the same
	// password (the upgrade above), the password still verifies against what is stored now: sign in with that.
	// A reset or a password change stored another password, and this one fails here as it should.
	const now = await findUserById(deps, user.id);
	if (!now?.passwordHash || now.passwordHash === verifiedHash) return opened;
	const again = await verifyPassword(input.password, now.passwordHash, deps.config.peppers);
	if (!again.ok) return opened;
	return openSession(deps, now, "password", { verifiedPasswordHash: now.passwordHash });
}

/**
 * The new-device notice: a password sign-in whose browser family, OS and country match none of the account's
 * sessions created in the last 90 days (live, revoked or expired) gets a "New sign-in" mail with a "This wasn't
 * me" link. An account's very first sign-in gets none.
 */
function isNewDevice(row: { any: number; seen: number } | undefined): boolean {
	return row !== undefined && row.any === 1 && row.seen === 0;
}

async function sendNewSignInMail(
	deps: Deps,
	user: UserRecord,
	session: { sessionId: string; device: Device },
	now: number,
) {
	const { token } = await issueOneTimeToken(deps, {
		purpose: "not-me",
		userId: user.id,
		meta: { sessionId: session.sessionId },
	});
	const { device } = session;
	const what = [device.browser ?? "An unknown browser", device.os ? `on ${device.os}` : null].filter(Boolean).join(" ");
	const where = [deps.request.city, deps.request.country].filter(Boolean).join(", ") || "an unknown place";
	await createMailer(deps).send({
		to: user.email,
		subject: "New sign-in",
		text: `Your account was just signed in to from a device we have not seen lately:\n\n${what} (${device.deviceType}), ${where}, at ${new Date(now).toISOString()}.\n\nIf this was you, there is nothing to do. If it wasn't, end that session and reset your password (the link works once, within 24 hours):\n\n${appLink(deps.config, "/not-me", token)}`,
	});
}

/**
 * "This wasn't me": ends exactly the session the notice was about (its token names it) and sends a reset mail.
 * The token is single use; its consumption, the revocation and the `session.revoked` event are one batch.
 */
export async function notMe(deps: Deps, token: string): Promise<boolean> {
	const tokenHash = await tokenHashOf(token);
	if (!tokenHash) return false;
	const now = Date.now();
	const pending = await findOpenTokenMeta(deps, tokenHash, "not-me", now);
	const sessionId = typeof pending?.meta.sessionId === "string" ? pending.meta.sessionId : null;
	if (!pending || !sessionId) return false;
	const consumed = await consumeOneTimeToken(deps, "not-me", token, ({ subject, now }) => [
		deps.db
			.update(sessions)
			.set({ revokedAt: now })
			.where(and(eq(sessions.id, sessionId), eq(sessions.userId, subject), isNull(sessions.revokedAt))),
		eventStatement(
			deps,
			{
				type: "session.revoked",
				userId: subject,
				actor: { type: "user", id: subject },
				sessionId,
				detail: { scope: "one", reason: "not_me" },
			},
			now,
			{ ifChanged: true },
		),
		// An email change that session may have asked for goes with it.
		closeOpenTokensStatement(deps.db, subject, ["email-change"], now),
	]);
	if (!consumed) return false;
	const user = await findUserById(deps, consumed.userId);
	if (user) deps.defer(mailPasswordReset(deps, user));
	return true;
}

/**
 * A reset link sent on the user's behalf after a security action (a "this wasn't me", an undone email change). It
 * counts toward the address's mail limit like every other reset mail, but is sent even past it: only a single-use
 * link from a mail to that address triggers it, so it cannot flood anyone, and anyone could otherwise spend the
 * address's budget with anonymous reset requests to keep the owner from getting it. For deferred work.
 */
export async function mailPasswordReset(deps: Deps, user: UserRecord): Promise<void> {
	await enforce(deps.env, deps.config, { name: "mailAddress", key: user.email }).catch(() => undefined);
	await sendTokenMail(deps, user, "password-reset");
}

/** Sends a verification or reset mail if the address's mail budget allows; never throws to the caller. */
async function sendTokenMail(deps: Deps, user: UserRecord, kind: "verify-email" | "password-reset") {
	// A reset request is an audit event; it is written with the token it issued (no token, no event).
	const requested =
		kind === "password-reset"
			? [eventStatement(deps, { type: "password.reset_requested", userId: user.id, actor: self(user.id) })]
			: [];
	const { token } = await issueOneTimeToken(deps, { purpose: kind, userId: user.id }, Date.now(), requested);
	const mailer = createMailer(deps);
	if (kind === "verify-email") {
		await mailer.send({
			to: user.email,
			subject: "Verify your email address",
			text: `Welcome! Confirm your email address within 24 hours:\n\n${appLink(deps.config, "/verify-email", token)}\n\nIf you did not sign up, ignore this message.`,
		});
	} else {
		await mailer.send({
			to: user.email,
			subject: "Reset your password",
			text: `Someone asked to reset the password of this account. The link works once, within 1 hour:\n\n${appLink(deps.config, "/reset-password", token)}\n\nIf it was not you, ignore this message; your password is unchanged.`,
		});
	}
}

async function refuseWeakPassword(
	deps: Deps,
	password: string,
	account: { email: string; username?: string | null },
	field: string,
) {
	const problem = passwordProblem(password, account, await commonPasswords(deps.env.ASSETS));
	if (problem) throw badRequest(problem, [{ path: field, message: problem }]);
}

export async function register(
	deps: Deps,
	input: { email: string; password: string; firstName: string; lastName: string },
): Promise<UserRecord> {
	await refuseWeakPassword(deps, input.password, { email: input.email }, "password");
	const user = await createUser(deps, {
		email: input.email,
		passwordHash: await hashPassword(input.password, deps.config.peppers),
		firstName: input.firstName,
		lastName: input.lastName,
	});
	// The verification mail counts toward the address's mail limit like any other.
	deps.defer(
		enforce(deps.env, deps.config, { name: "mailAddress", key: user.email }).then(() =>
			sendTokenMail(deps, user, "verify-email"),
		),
	);
	return user;
}

/** A mail we sent was answered: the address is proven from `now` on (the first proof's time is kept). */
const mailboxProven = (now: number | SQL) => ({
	emailVerifiedAt: sql<number>`coalesce(${users.emailVerifiedAt}, ${now})`,
});

export async function verifyEmail(deps: Deps, token: string): Promise<boolean> {
	const consumed = await consumeOneTimeToken(deps, "verify-email", token, ({ subject, now }) => [
		deps.db
			.update(users)
			.set({ ...mailboxProven(now), updatedAt: now })
			.where(eq(users.id, subject)),
		eventStatement(deps, { type: "email.verified", userId: subject, actor: { type: "user", id: subject } }, now, {
			ifChanged: true,
		}),
	]);
	return consumed !== null;
}

/**
 * Always answers the same way: the address's mail budget and the IP network's are spent whether
 * or not an account exists (both or neither), and the lookup and mail happen after the response.
 */
export async function requestPasswordReset(deps: Deps, email: string, ip: string): Promise<void> {
	const address = normalizeEmail(email);
	await enforce(deps.env, deps.config, { name: "mailAddress", key: address }, { name: "resetIp", key: networkKey(ip) });
	deps.defer(
		findUserByEmail(deps, address).then((user) => (user ? sendTokenMail(deps, user, "password-reset") : undefined)),
	);
}

/**
 * Sets a new password with a reset token. The password is checked before the token is used,
 * so a rejected password leaves the token valid. In the consuming batch: the new hash, the
 * mailbox proven (email verified), every session revoked and every other open token closed.
 */
export async function resetPassword(deps: Deps, token: string, password: string): Promise<"ok" | "invalid-token"> {
	const tokenHash = await tokenHashOf(token);
	const now = Date.now();
	const user = tokenHash
		? await findUserWhere(deps, eq(users.id, liveTokenSubject(tokenHash, "password-reset", now)))
		: null;
	if (!user) return "invalid-token";
	await refuseWeakPassword(deps, password, user, "password");
	const passwordHash = await hashPassword(password, deps.config.peppers);
	const consumed = await consumeOneTimeToken(deps, "password-reset", token, ({ subject, now }) => [
		deps.db
			.update(users)
			.set({ passwordHash, ...mailboxProven(now), updatedAt: now })
			.where(eq(users.id, subject)),
		eventStatement(
			deps,
			{ type: "password.reset_completed", userId: subject, actor: { type: "user", id: subject } },
			now,
			{ ifChanged: true },
		),
		revokeAllSessionsStatement(deps.db, subject, now),
		closeOpenTokensStatement(deps.db, subject, ALL_BUT_UNDO, now),
	]);
	return consumed ? "ok" : "invalid-token";
}

/**
 * Wrong current passwords count toward the account's login limit, like failed logins. In one
 * batch: the new hash, every other session revoked, open reset and login-link tokens closed.
 */
export async function changePassword(
	deps: Deps,
	auth: Pick<AccessClaims, "userId" | "sessionId">,
	input: { currentPassword: string; newPassword: string },
): Promise<{ ok: true } | { ok: false; reason: "no-user" }> {
	const user = await findUserById(deps, auth.userId);
	if (!user) return { ok: false, reason: "no-user" };
	await refuseWeakPassword(deps, input.newPassword, user, "newPassword");
	const limit: Limited = { name: "loginAccount", key: `user:${user.id}` };
	await enforce(deps.env, deps.config, limit);
	const verdict = await verifyPassword(input.currentPassword, user.passwordHash, deps.config.peppers);
	if (!verdict.ok) {
		throw badRequest("Current password is incorrect", [
			{ path: "currentPassword", message: "Current password is incorrect" },
		]);
	}
	deps.defer(refund(deps.env, deps.config, limit));
	const now = Date.now();
	await deps.db.batch([
		deps.db
			.update(users)
			.set({ passwordHash: await hashPassword(input.newPassword, deps.config.peppers), updatedAt: now })
			.where(eq(users.id, user.id)),
		eventStatement(
			deps,
			{ type: "password.changed", userId: user.id, actor: self(user.id), sessionId: auth.sessionId },
			now,
		),
		revokeOtherSessionsStatement(deps.db, user.id, auth.sessionId, now),
		// An email change asked for from a session this change ends must not go through either.
		closeOpenTokensStatement(deps.db, user.id, ["password-reset", "login", "email-change"], now),
	]);
	return { ok: true };
}

export type RefreshResult =
	| { ok: true; accessToken: string; claims: AccessClaims; rotated: { refreshToken: string; expiresAt: number } | null }
	| { ok: false };

/** One D1 round trip: the rotation statement. See services/sessions.ts for the rules. */
export async function refreshAccess(deps: Deps, refreshToken: string | undefined): Promise<RefreshResult> {
	if (!refreshToken) return { ok: false };
	const outcome = await refreshSession(deps, refreshToken);
	if (outcome.kind === "invalid" || outcome.kind === "reuse") return { ok: false };
	const { token, claims } = await issueAccessToken(deps, outcome);
	const rotated =
		outcome.kind === "rotated" ? { refreshToken: outcome.refreshToken, expiresAt: outcome.expiresAt } : null;
	return { ok: true, accessToken: token, claims, rotated };
}

/** Logout: the Bearer token's session if one is given, else the refresh cookie's. */
export async function logout(deps: Deps, by: { sessionId?: string; refreshToken?: string }): Promise<boolean> {
	if (by.sessionId) {
		// The Bearer token's session, if it is still live: a dead token is refused like everywhere else (401).
		const now = Date.now();
		const [revoked] = await deps.db.batch([
			revokeSessionStatement(deps.db, by.sessionId, now),
			logoutEventStatement(deps, sql`(select user_id from sessions where id = ${by.sessionId})`, by.sessionId, now),
		]);
		return revoked.length > 0;
	}
	return by.refreshToken ? revokeByRefreshToken(deps, by.refreshToken) : false;
}

/** `logout`, written only when the statement before it ended a session. */
function logoutEventStatement(
	deps: Pick<Deps, "db" | "request">,
	userId: SQL<number | null>,
	sessionId: string | SQL<string | null>,
	now: number,
) {
	return eventStatement(deps, { type: "logout", userId, actor: { type: "user", id: userId }, sessionId }, now, {
		ifChanged: true,
	});
}

import {
	asc,
	count,
	eq,
	getTableColumns,
	notInArray,
	or,
	type Placeholder,
	type SQL,
	type SQLWrapper,
	sql,
} from "drizzle-orm";
import { QueryBuilder, type SelectedFields } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client.ts";
import { compiledSelect } from "../db/compiled-select.ts";
import { userRoles, users } from "../db/schema.ts";
import { badRequest, conflict } from "../lib/errors.ts";
import { CURRENT_HASH_PREFIX } from "../lib/password.ts";
import { parseRoles, type Role } from "../lib/roles.ts";
import { reservedUsernameProblem } from "../lib/usernames.ts";
import { type DbDeps, type Deps, NO_REQUEST } from "./deps.ts";
import {
	adoptedImageStatement,
	deleteQueuedImage,
	discardStagedImage,
	displacedImageStatement,
	type NewImage,
	stageImage,
} from "./profile-images.ts";
import { eventStatement, type SecurityEvent } from "./security-events.ts";
import { subscriptionExpressions } from "./subscription-rule.ts";

type UserRow = typeof users.$inferSelect;
export interface UserRecord extends UserRow {
	roles: Role[];
	communities: number[];
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** A user's roles as one SQL value (`group_concat`, read back with parseRoles): the one place roles are joined. */
export const rolesOf = (userId: SQLWrapper) =>
	sql<string | null>`(select group_concat(role) from user_roles where user_roles.user_id = ${userId})`;

/**
 * SQL over the users row: it holds exactly `roles` now (as a set). A check that rode on the roles read earlier
 * (a login link's target rule) is made part of the write that acts on it.
 */
export function rolesAreSql(roles: readonly Role[]): SQL {
	const mine = sql`${userRoles.userId} = ${users.id}`;
	if (roles.length === 0) return sql`not exists (select 1 from ${userRoles} where ${mine})`;
	return sql`(select count(*) from ${userRoles} where ${mine}) = ${roles.length}
		and not exists (select 1 from ${userRoles} where ${mine} and ${notInArray(userRoles.role, [...roles])})`;
}

/** SQL: the account `userId` exists and no ban of it is in force at `now` (e.g. the minter of a login link). */
export const userInGoodStandingSql = (userId: number, now: number) =>
	sql`${userId} in (select ${users.id} from ${users} where not ${banInForceSql(now)})`;

/** A ban in force at `now`, as SQL over the users row (see banInForce in account-policy.ts: the same rule). */
export const banInForceSql = (now: number) =>
	sql`(${users.bannedAt} is not null and (${users.bannedUntil} is null or ${users.bannedUntil} > ${now}))`;

/** The username rule's comparison: usernames match whatever their case. */
const usernameIs = (username: string | Placeholder) =>
	sql`lower(${users.username}) = lower(${typeof username === "string" ? username.trim() : username})`;

/**
 * Columns of a user record. Roles, memberships and the subscription as of `now` come along in the
 * same statement: one D1 round trip per user read, and a subscription that is never stale.
 */
export function recordColumns(now: number | Placeholder = Date.now()) {
	const subscription = subscriptionExpressions(now);
	return {
		...getTableColumns(users),
		subscriptionStatus: subscription.status,
		subscriptionPlan: subscription.plan,
		subscriptionValidUntil: subscription.validUntil,
		roleList: rolesOf(users.id),
		communityList: sql<string>`(select json_group_array(community_id) from (select community_id from community_memberships where community_memberships.user_id = ${users.id} order by community_id))`,
	};
}

type RecordRow = UserRow & { roleList: string | null; communityList: string };

export function toRecord(row: RecordRow | undefined): UserRecord | null {
	if (!row) return null;
	const { roleList, communityList, ...user } = row;
	return {
		...user,
		roles: parseRoles(roleList),
		communities: JSON.parse(communityList || "[]") as number[],
	};
}

/** A cheap existence probe, batchable beside the read it guards. */
export function userExistsStatement(db: Db, userId: number) {
	return db.select({ id: users.id }).from(users).where(eq(users.id, userId));
}

/**
 * The hot user reads by one key — the token's user on every profile read, the account at every sign-in, KC7's
 * lookups — rendered to SQL once per isolate (db/compiled-select.ts), named by the columns they select.
 */
function compiledUserReads<Row extends Record<string, unknown>>(columns: SelectedFields) {
	const by = (where: (key: Placeholder) => SQL) =>
		compiledSelect<Row>(
			() =>
				new QueryBuilder()
					.select(columns)
					.from(users)
					.where(where(sql.placeholder("key"))),
			Object.keys(columns) as (keyof Row & string)[],
		);
	return { id: by((key) => eq(users.id, key)), email: by((key) => eq(users.email, key)), username: by(usernameIs) };
}

// `now` is a parameter like the key: the subscription is judged at the time of each read.
const recordBy = compiledUserReads<RecordRow>(recordColumns(sql.placeholder("now")));

export async function findUserById({ db }: DbDeps, id: number): Promise<UserRecord | null> {
	return toRecord(await recordBy.id(db, { key: id, now: Date.now() }));
}

/** One user record by any condition (e.g. "the user a live token names"), in one round trip. */
export async function findUserWhere({ db }: DbDeps, where: SQL): Promise<UserRecord | null> {
	return toRecord(await db.select(recordColumns()).from(users).where(where).get());
}

export async function findUserByEmail({ db }: DbDeps, email: string): Promise<UserRecord | null> {
	return toRecord(await recordBy.email(db, { key: normalizeEmail(email), now: Date.now() }));
}

/** Who a KC7 reference names: an id, or a username in any case. */
export type UserRef = { id: number } | { username: string } | { email: string };

/** The identity columns alone (no roles, memberships or subscription): KC7's lookups. One round trip. */
type Identity = { id: number; username: string | null; email: string };
const identityBy = compiledUserReads<Identity>({ id: users.id, username: users.username, email: users.email });

export async function findUserIdentity({ db }: DbDeps, ref: UserRef): Promise<Identity | null> {
	const identity =
		"id" in ref
			? await identityBy.id(db, { key: ref.id })
			: "email" in ref
				? await identityBy.email(db, { key: normalizeEmail(ref.email) })
				: await identityBy.username(db, { key: ref.username.trim() });
	return identity ?? null;
}

/** KC7 login: `username` may be a username or an email (usernames cannot contain '@'). */
export async function findUserByLogin(deps: DbDeps, identifier: string): Promise<UserRecord | null> {
	if (identifier.includes("@")) return findUserByEmail(deps, identifier);
	return toRecord(await recordBy.username(deps.db, { key: identifier.trim(), now: Date.now() }));
}

/**
 * Whether a write failed on a unique index of `column` (or the email reservation trigger, which raises the same
 * error). Drizzle wraps the driver's error, so the causes are read too.
 */
export function isUniqueViolation(error: unknown, column: string): boolean {
	for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
		const text = String((e as Error).message ?? e);
		if (text.includes("UNIQUE constraint failed") && text.includes(column)) return true;
	}
	return false;
}

/**
 * Production keeps names that read as the service speaking (`admin`, `support`, …, see lib/usernames.ts) for no
 * one: every path that sets a username (provisioning, profile update) asks here. Development skips the rule, whose
 * seeded demo users are called `admin`, `manager`, `api` and `user`.
 */
function refuseReservedUsername(deps: Pick<Deps, "config">, username: string | null | undefined) {
	if (!username || deps.config.isDevelopment) return;
	const problem = reservedUsernameProblem(username);
	if (problem) throw badRequest(problem, [{ path: "username", message: problem }]);
}

/** KC7 `POST /api/users`: a password-less account that records who provisioned it (scoped integration keys). */
export function provisionUser(
	deps: Pick<Deps, "db" | "config" | "request">,
	input: { email: string; username: string },
	caller: { userId: number; roles: readonly Role[] },
): Promise<UserRecord> {
	refuseReservedUsername(deps, input.username);
	// An Admin provisions as staff; Manager and API callers are the partner backends KC7 serves.
	const actor = { type: caller.roles.includes("Admin") ? ("admin" as const) : ("partner" as const), id: caller.userId };
	return createUser(deps, { ...input, passwordHash: null, provisionedBy: caller.userId }, Date.now(), {
		type: "user.provisioned",
		actor,
	});
}

/** Inserts a user; a taken email or username is a 409, decided by the unique indexes. */
export async function createUser(
	deps: DbDeps & Partial<Pick<Deps, "request">>,
	input: {
		email: string;
		username?: string | null;
		passwordHash: string | null;
		firstName?: string;
		lastName?: string;
		provisionedBy?: number;
	},
	now = Date.now(),
	/** The account's audit event, written in the insert's batch (the new id via last_insert_rowid()). */
	event?: Omit<SecurityEvent, "userId">,
): Promise<UserRecord> {
	const { db } = deps;
	try {
		const insert = db
			.insert(users)
			.values({
				email: normalizeEmail(input.email),
				username: input.username ?? null,
				passwordHash: input.passwordHash,
				firstName: input.firstName ?? "",
				lastName: input.lastName ?? "",
				provisionedBy: input.provisionedBy ?? null,
				createdAt: now,
				updatedAt: now,
			})
			.returning();
		const [rows] = event
			? await db.batch([
					insert,
					eventStatement(
						{ db, request: deps.request ?? NO_REQUEST },
						{ ...event, userId: sql`last_insert_rowid()` },
						now,
						{ ifChanged: true },
					),
				])
			: [await insert];
		const row = rows[0];
		if (!row) throw new Error("user insert returned no row");
		return { ...row, roles: [], communities: [] };
	} catch (error) {
		rethrowConflict(error);
	}
}

/** Maps a unique-index violation to the contract's 409; rethrows anything else. */
function rethrowConflict(error: unknown): never {
	if (isUniqueViolation(error, "email")) throw conflict("Email is already registered");
	if (isUniqueViolation(error, "username")) throw conflict("Username is already taken");
	throw error;
}

export interface ProfileChanges {
	firstName?: string;
	lastName?: string;
	username?: string;
}

/**
 * Applies profile changes and, given `image`, replaces the profile image. The image is staged first
 * (its outbox row, then the object). One batch (one transaction) then queues the image the row held,
 * updates the row, and takes the new image off the outbox: the displaced key is read inside that
 * transaction, so under concurrent uploads every request learns exactly the key it displaced, and
 * each displaced object is deleted by exactly one request — after the answer, and if that delete
 * fails its outbox row stays for the daily cron. A failed update removes the new object at once.
 * Null when the user no longer exists.
 */
export async function updateProfile(
	deps: Deps,
	userId: number,
	changes: ProfileChanges,
	image?: NewImage,
): Promise<UserRecord | null> {
	refuseReservedUsername(deps, changes.username);
	const { db } = deps;
	const now = Date.now();
	const read = db.select(recordColumns(now)).from(users).where(eq(users.id, userId));
	if (!image) {
		try {
			const [, , after] = await db.batch([
				db
					.update(users)
					.set({ ...changes, updatedAt: now })
					.where(eq(users.id, userId)),
				profileEvent(deps, userId, changes, false, now),
				read,
			]);
			return toRecord(after[0]);
		} catch (error) {
			rethrowConflict(error);
		}
	}
	const key = await stageImage(deps, image, userId, now);
	let displaced: { objectKey: string }[];
	let user: UserRecord | null;
	try {
		const [queued, , , , after] = await db.batch([
			displacedImageStatement(db, userId, key, now),
			db
				.update(users)
				.set({ ...changes, profileImageKey: key, updatedAt: now })
				.where(eq(users.id, userId)),
			profileEvent(deps, userId, changes, true, now),
			adoptedImageStatement(db, userId, key),
			read,
		]);
		displaced = queued;
		user = toRecord(after[0]);
	} catch (error) {
		// The row does not point at the new image: it must not linger.
		await discardStagedImage(deps, key);
		rethrowConflict(error);
	}
	if (!user) {
		await discardStagedImage(deps, key);
		return null;
	}
	// Only now, with the row pointing at the new object, is the displaced one deleted; never part of the answer.
	for (const { objectKey } of displaced) deps.defer(deleteQueuedImage(deps, objectKey));
	return user;
}

/** `profile.updated`, right after the update in its batch: written only if the row changed (the user exists). */
function profileEvent(deps: Deps, userId: number, changes: ProfileChanges, image: boolean, now: number) {
	const fields = [...Object.keys(changes), ...(image ? ["profileImage"] : [])].sort().join(",");
	return eventStatement(
		deps,
		{ type: "profile.updated", userId, actor: { type: "user", id: userId }, detail: { fields } },
		now,
		{ ifChanged: true },
	);
}

/** Sets the tutorial-completed time once; later calls keep the first time. One round trip. */
export async function completeTutorial({ db }: DbDeps, userId: number): Promise<UserRecord | null> {
	const now = Date.now();
	const [, after] = await db.batch([
		db
			.update(users)
			.set({ tutorialCompletedAt: sql`coalesce(${users.tutorialCompletedAt}, ${now})`, updatedAt: now })
			.where(eq(users.id, userId)),
		db.select(recordColumns()).from(users).where(eq(users.id, userId)),
	]);
	return toRecord(after[0]);
}

export async function publicProfile({ db }: DbDeps, userId: number) {
	return (
		(await db
			.select({
				id: users.id,
				firstName: users.firstName,
				lastName: users.lastName,
				profileImage: users.profileImageKey,
			})
			.from(users)
			.where(eq(users.id, userId))
			.get()) ?? null
	);
}

/** Admin listing: a page of user records and the total matching `q`, in one round trip. */
export async function listUsers({ db }: DbDeps, options: { limit: number; offset: number; q?: string }) {
	const pattern = options.q ? `%${options.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%` : undefined;
	// Each column matched with LIKE … ESCAPE so '%' and '_' in the query are literal.
	const matches = (column: SQL) => sql`${column} like ${pattern} escape '\\'`;
	const where = pattern
		? or(
				matches(sql`${users.email}`),
				matches(sql`${users.username}`),
				matches(sql`(${users.firstName} || ' ' || ${users.lastName})`),
			)
		: undefined;
	const [total, page] = await db.batch([
		db.select({ n: count() }).from(users).where(where),
		db
			.select(recordColumns())
			.from(users)
			.where(where)
			.orderBy(asc(users.id))
			.limit(options.limit)
			.offset(options.offset),
	]);
	return { total: total[0]?.n ?? 0, users: page.map((row) => toRecord(row) as UserRecord) };
}

/**
 * Admin statistics, one query: every account, those still holding a KC7 (Werkzeug) hash — the migration's progress,
 * banned ones included — and a few other counts an operator watches.
 */
export async function accountStats({ db }: DbDeps, now = Date.now()) {
	const row = await db
		.select({
			users: sql<number>`count(*)`,
			legacyPasswordHashes: sql<number>`coalesce(sum(${users.passwordHash} is not null and ${users.passwordHash} not like ${`${CURRENT_HASH_PREFIX}%`}), 0)`,
			withoutPassword: sql<number>`coalesce(sum(${users.passwordHash} is null), 0)`,
			unverifiedEmails: sql<number>`coalesce(sum(${users.emailVerifiedAt} is null), 0)`,
			banned: sql<number>`coalesce(sum(${banInForceSql(now)}), 0)`,
		})
		.from(users)
		.get();
	return row ?? { users: 0, legacyPasswordHashes: 0, withoutPassword: 0, unverifiedEmails: 0, banned: 0 };
}

import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ROLES } from "../lib/roles.ts";

// Every time column holds milliseconds since the epoch (UTC); the API layer formats ISO 8601.

export const users = sqliteTable(
	"users",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		email: text("email").notNull(), // stored lowercased
		username: text("username"),
		passwordHash: text("password_hash"), // null until a provisioned user sets one
		firstName: text("first_name").notNull().default(""),
		lastName: text("last_name").notNull().default(""),
		emailVerifiedAt: integer("email_verified_at"),
		tutorialCompletedAt: integer("tutorial_completed_at"),
		profileImageKey: text("profile_image_key"),
		// JSON array of strings, recomputed from community memberships.
		categories: text("categories").notNull().default("[]"),
		subscriptionStatus: text("subscription_status", { enum: ["none", "active", "expired"] })
			.notNull()
			.default("none"),
		subscriptionPlan: text("subscription_plan"),
		subscriptionValidUntil: integer("subscription_valid_until"),
		// Who created this account with POST /api/users (null: self-registered or seeded). A
		// `provisioned`-scope integration key may mint links only for users its owner provisioned.
		// (Plain integer: a self-reference would make the table type refer to itself.)
		provisionedBy: integer("provisioned_by"),
		// A ban: in force while banned_at is set and banned_until is null (indefinite) or still ahead; decided
		// when read, so a timed ban ends by itself.
		bannedAt: integer("banned_at"),
		bannedUntil: integer("banned_until"),
		banReason: text("ban_reason"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [
		uniqueIndex("users_email_unique").on(t.email),
		uniqueIndex("users_username_lower_unique").on(sql`lower(${t.username})`),
		index("users_provisioned_by_idx").on(t.provisionedBy),
	],
);

export type { Role } from "../lib/roles.ts";

export const userRoles = sqliteTable(
	"user_roles",
	{
		userId: integer("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		role: text("role", { enum: ROLES }).notNull(),
	},
	(t) => [primaryKey({ columns: [t.userId, t.role] })],
);

export const communities = sqliteTable("communities", {
	id: integer("id").primaryKey({ autoIncrement: true }),
	name: text("name").notNull(),
	description: text("description").notNull().default(""),
	createdAt: integer("created_at").notNull(),
});

export const communityMemberships = sqliteTable(
	"community_memberships",
	{
		userId: integer("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		communityId: integer("community_id")
			.notNull()
			.references(() => communities.id, { onDelete: "cascade" }),
		joinedAt: integer("joined_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.userId, t.communityId] })],
);

/**
 * One row per login. The refresh token is `<family>.<secret>`: `family` finds the row,
 * only hashes of secrets are stored. Rotation keeps the current and the previous hash,
 * which is all the contract's grace/reuse rules need.
 */
export const SESSION_METHODS = ["password", "link", "reset"] as const;
export const DEVICE_TYPES = ["desktop", "mobile", "tablet", "unknown"] as const;

export const sessions = sqliteTable(
	"sessions",
	{
		id: text("id").primaryKey(), // the `sid` claim
		userId: integer("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		family: text("family").notNull(),
		tokenHash: text("token_hash").notNull(),
		prevTokenHash: text("prev_token_hash"),
		rotatedAt: integer("rotated_at"),
		createdAt: integer("created_at").notNull(),
		lastUsedAt: integer("last_used_at").notNull(),
		expiresAt: integer("expires_at").notNull(),
		revokedAt: integer("revoked_at"),
		userAgent: text("user_agent"),
		// The device, as the user sees it in their session list: how the session began, the user agent parsed,
		// and the edge's country and city (null locally). Updated at sign-in and at each refresh.
		method: text("method", { enum: SESSION_METHODS }).notNull().default("password"),
		browser: text("browser"),
		os: text("os"),
		deviceType: text("device_type", { enum: DEVICE_TYPES }).notNull().default("unknown"),
		country: text("country"),
		city: text("city"),
	},
	(t) => [uniqueIndex("sessions_family_unique").on(t.family), index("sessions_user_idx").on(t.userId)],
);

/**
 * The strongly consistent half of one-time tokens: KV holds the token (with its TTL),
 * this row decides single use and supersession.
 */
export const oneTimeTokens = sqliteTable(
	"one_time_tokens",
	{
		tokenHash: text("token_hash").primaryKey(),
		purpose: text("purpose").notNull(),
		userId: integer("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		createdAt: integer("created_at").notNull(),
		expiresAt: integer("expires_at").notNull(),
		// Set once: when consumed, or when a newer token of the same purpose replaced it.
		closedAt: integer("closed_at"),
		closedBy: text("closed_by"), // a per-request nonce, or "superseded"
		meta: text("meta"), // JSON: who created it and how (audit)
	},
	(t) => [index("one_time_tokens_user_purpose_idx").on(t.userId, t.purpose)],
);

/** Development mail outbox (`GET /dev/outbox`); unused when a real provider is configured. */
export const devOutbox = sqliteTable(
	"dev_outbox",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		to: text("to").notNull(),
		subject: text("subject").notNull(),
		text: text("text").notNull(),
		createdAt: integer("created_at").notNull(),
	},
	(t) => [index("dev_outbox_to_idx").on(t.to, t.id)],
);

/** KC7 training modules. `isCore` modules make up the catalog and every user's progress list. */
export const modules = sqliteTable(
	"modules",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		title: text("title").notNull(),
		cleanTitle: text("clean_title").notNull(),
		description: text("description").notNull().default(""),
		estTime: text("est_time").notNull().default("na"),
		difficulty: text("difficulty").notNull(),
		maxScore: integer("max_score").notNull(),
		isCore: integer("is_core", { mode: "boolean" }).notNull().default(true),
		sortOrder: integer("sort_order").notNull().default(0),
	},
	(t) => [index("modules_core_order_idx").on(t.isCore, t.sortOrder, t.id)],
);

/** A row means the user is enrolled in the module. */
export const moduleProgress = sqliteTable(
	"module_progress",
	{
		userId: integer("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		moduleId: integer("module_id")
			.notNull()
			.references(() => modules.id, { onDelete: "cascade" }),
		score: integer("score").notNull().default(0),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.userId, t.moduleId] })],
);

export const INTEGRATION_KEY_SCOPES = ["all", "provisioned"] as const;
export type IntegrationKeyScope = (typeof INTEGRATION_KEY_SCOPES)[number];

/**
 * Partner backends' keys for POST /api/users/:id/magic-link, stored only as SHA-256 hashes.
 * A key with an owner works only with that owner's Bearer token; `provisioned` scope limits it to
 * users its owner created. Deleting the owner deletes the key: an owned key must never become unbound.
 */
export const integrationKeys = sqliteTable(
	"integration_keys",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		name: text("name").notNull(),
		keyHash: text("key_hash").notNull(),
		ownerUserId: integer("owner_user_id").references(() => users.id, { onDelete: "cascade" }),
		scope: text("scope", { enum: INTEGRATION_KEY_SCOPES }).notNull().default("all"),
		createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
		createdAt: integer("created_at").notNull(),
		lastUsedAt: integer("last_used_at"),
		revokedAt: integer("revoked_at"),
	},
	(t) => [uniqueIndex("integration_keys_hash_unique").on(t.keyHash)],
);

/** Categories a community carries; a member's `categories` is the distinct union over their communities. */
export const communityCategories = sqliteTable(
	"community_categories",
	{
		communityId: integer("community_id")
			.notNull()
			.references(() => communities.id, { onDelete: "cascade" }),
		name: text("name").notNull(),
	},
	(t) => [primaryKey({ columns: [t.communityId, t.name] })],
);

/** Paid or granted periods; a user's subscription status is recomputed from them. Periods are [startsAt, endsAt). */
export const subscriptionPeriods = sqliteTable(
	"subscription_periods",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		userId: integer("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		plan: text("plan").notNull(),
		startsAt: integer("starts_at").notNull(),
		endsAt: integer("ends_at").notNull(),
		source: text("source").notNull().default("admin"),
		createdAt: integer("created_at").notNull(),
	},
	(t) => [index("subscription_periods_user_idx").on(t.userId, t.endsAt)],
);

/**
 * R2 objects waiting to be deleted, written in the same D1 batch as the change that made them
 * unneeded (a replaced profile image), or before an upload whose row update may never happen
 * (`pending`, due later). The request deletes at once when it can; the daily cron deletes what
 * is due, so nothing depends on listing the bucket.
 */
export const imageDeletions = sqliteTable(
	"image_deletions",
	{
		objectKey: text("object_key").primaryKey(),
		// `deleted`: the image of an account that was deleted (queued in the deletion's own batch).
		reason: text("reason", { enum: ["replaced", "pending", "deleted"] }).notNull(),
		dueAt: integer("due_at").notNull(),
	},
	(t) => [index("image_deletions_due_idx").on(t.dueAt)],
);

export const SECURITY_EVENT_TYPES = [
	"login.succeeded",
	"login.failed",
	"login.locked",
	"refresh.reuse_detected",
	"logout",
	"session.revoked",
	"password.changed",
	"password.reset_requested",
	"password.reset_completed",
	"email.verified",
	"email.change_requested",
	"email.change_confirmed",
	"email.change_undone",
	"profile.updated",
	"link.created",
	"link.redeemed",
	"user.provisioned",
	"user.banned",
	"user.unbanned",
	"integration_key.created",
	"integration_key.revoked",
	"account.deletion_requested",
	"account.deletion_cancelled",
	"account.deleted",
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];
export const ACTOR_TYPES = ["user", "admin", "partner", "system"] as const;

/**
 * The audit log: one row per security-relevant change, written in the same D1 batch as the change (it exists
 * if and only if the change happened). No foreign key: an event outlives the session and, for the archive's
 * sake, the account it is about. Kept AUDIT_RETENTION_DAYS in D1, archived to R2 by the daily cron first.
 */
export const securityEvents = sqliteTable(
	"security_events",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		at: integer("at").notNull(),
		type: text("type", { enum: SECURITY_EVENT_TYPES }).notNull(),
		outcome: text("outcome", { enum: ["success", "failure"] }).notNull(),
		userId: integer("user_id"),
		actorType: text("actor_type", { enum: ACTOR_TYPES }).notNull(),
		actorId: integer("actor_id"),
		integrationKeyId: integer("integration_key_id"),
		sessionId: text("session_id"),
		ip: text("ip"),
		country: text("country"),
		userAgent: text("user_agent"),
		requestId: text("request_id"),
		// JSON object; never a secret.
		detail: text("detail").notNull().default("{}"),
	},
	(t) => [
		index("security_events_user_idx").on(t.userId, t.id),
		index("security_events_type_idx").on(t.type, t.id),
		index("security_events_at_idx").on(t.at),
	],
);

/**
 * An account's owner asked to delete it (`DELETE /user/account`): the daily cron deletes the account at
 * `scheduledFor` unless the owner cancels first (the mailed link, or a password sign-in). One row per account.
 */
export const deletionRequests = sqliteTable(
	"deletion_requests",
	{
		userId: integer("user_id")
			.primaryKey()
			.references(() => users.id, { onDelete: "cascade" }),
		requestedAt: integer("requested_at").notNull(),
		scheduledFor: integer("scheduled_for").notNull(),
	},
	(t) => [index("deletion_requests_due_idx").on(t.scheduledFor)],
);

/**
 * An address an account gave up by a confirmed email change, held for that account until its undo link expires:
 * nobody else can register it or change to it meanwhile (a trigger in migration 0005 refuses it like a taken
 * address), so an attacker who changed the address cannot block the undo by claiming the old one.
 */
export const emailReservations = sqliteTable(
	"email_reservations",
	{
		email: text("email").primaryKey(),
		userId: integer("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		until: integer("until").notNull(),
	},
	(t) => [index("email_reservations_user_idx").on(t.userId)],
);

export const ERASURE_KINDS = ["kv", "limiter"] as const;

/**
 * What a deleted account left outside D1 (KV copies of its one-time tokens, its rate-limiter objects), written in
 * the deletion's own batch. The request and the daily cron erase each target, then its row: a failure at any
 * point leaves the row, and the next run finishes the work. Targets name no person (token hashes, hashed object
 * names). Its image goes through `image_deletions` like any other.
 */
export const erasures = sqliteTable(
	"erasures",
	{
		kind: text("kind", { enum: ERASURE_KINDS }).notNull(),
		target: text("target").notNull(),
		createdAt: integer("created_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.kind, t.target] })],
);

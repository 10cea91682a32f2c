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
		reason: text("reason", { enum: ["replaced", "pending"] }).notNull(),
		dueAt: integer("due_at").notNull(),
	},
	(t) => [index("image_deletions_due_idx").on(t.dueAt)],
);

import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { subscriptionPeriods, users } from "../db/schema.ts";
import type { DbDeps } from "./deps.ts";
import { subscriptionExpressions } from "./subscription-rule.ts";
import { userExistsStatement } from "./users.ts";

export type SubscriptionPeriod = typeof subscriptionPeriods.$inferSelect;

export interface Subscription {
	status: "none" | "active" | "expired";
	plan: string | null;
	validUntil: number | null;
}

/** Stores the rule's answer for now, in one UPDATE, so a concurrent grant is never overwritten by a stale one. */
function recompute(db: Db, userId: number, now: number) {
	const rule = subscriptionExpressions(now);
	return db
		.update(users)
		.set({
			subscriptionStatus: rule.status,
			subscriptionPlan: rule.plan,
			subscriptionValidUntil: rule.validUntil,
			updatedAt: now,
		})
		.where(eq(users.id, userId))
		.returning({
			status: users.subscriptionStatus,
			plan: users.subscriptionPlan,
			validUntil: users.subscriptionValidUntil,
		});
}

/** Recomputes and stores the user's subscription; null when the user does not exist. One statement. */
export async function recalculateSubscription(
	{ db }: DbDeps,
	userId: number,
	now = Date.now(),
): Promise<Subscription | null> {
	return (await recompute(db, userId, now))[0] ?? null;
}

/** Grants a period and brings the stored subscription up to date, in one batch. Null when the user does not exist. */
export async function grantPeriod(
	{ db }: DbDeps,
	userId: number,
	input: { plan: string; startsAt: number; endsAt: number; source?: string },
	now = Date.now(),
) {
	const [inserted, recomputed] = await db.batch([
		db
			.insert(subscriptionPeriods)
			.select(
				db
					.select({
						id: sql<number>`null`.as("id"), // Drizzle wants every column in order; SQLite assigns the id
						userId: users.id,
						plan: sql<string>`${input.plan}`.as("plan"),
						startsAt: sql<number>`${input.startsAt}`.as("starts_at"),
						endsAt: sql<number>`${input.endsAt}`.as("ends_at"),
						source: sql<string>`${input.source ?? "admin"}`.as("source"),
						createdAt: sql<number>`${now}`.as("created_at"),
					})
					.from(users)
					.where(eq(users.id, userId)),
			)
			.returning(),
		recompute(db, userId, now),
	]);
	const period = inserted[0];
	const subscription = recomputed[0];
	return period && subscription ? { period, subscription } : null;
}

/** A user's periods by start, with the existence check in the same round trip; null when the user does not exist. */
export async function listPeriods({ db }: DbDeps, userId: number) {
	const [user, periods] = await db.batch([
		userExistsStatement(db, userId),
		db
			.select()
			.from(subscriptionPeriods)
			.where(eq(subscriptionPeriods.userId, userId))
			.orderBy(asc(subscriptionPeriods.startsAt), asc(subscriptionPeriods.id)),
	]);
	return user.length > 0 ? periods : null;
}

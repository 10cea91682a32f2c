import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { subscriptionPeriods, users } from "../db/schema.ts";
import { userExists } from "./users.ts";

export interface Subscription {
	status: "none" | "active" | "expired";
	plan: string | null;
	validUntil: number | null;
}

/**
 * The subscription rule, evaluated inside one UPDATE so a concurrent grant can never be
 * overwritten by a stale computation. Periods are half-open, [startsAt, endsAt):
 * - active: a period covers now; plan and validUntil from the covering period that ends last;
 * - expired: none covers now and at least one has ended; from the one that ended last;
 * - none: no periods, or only future ones.
 */
function recompute(db: Db, userId: number, now: number) {
	const covering = sql`sp.user_id = ${users.id} and sp.starts_at <= ${now} and sp.ends_at > ${now}`;
	const ended = sql`sp.user_id = ${users.id} and sp.ends_at <= ${now}`;
	const pick = (where: typeof covering, column: string) =>
		sql`(select ${sql.raw(column)} from subscription_periods sp where ${where} order by sp.ends_at desc, sp.id desc limit 1)`;
	return db
		.update(users)
		.set({
			subscriptionStatus: sql`case when ${pick(covering, "1")} is not null then 'active'
				when ${pick(ended, "1")} is not null then 'expired' else 'none' end`,
			subscriptionPlan: sql`coalesce(${pick(covering, "sp.plan")}, ${pick(ended, "sp.plan")})`,
			subscriptionValidUntil: sql`coalesce(${pick(covering, "sp.ends_at")}, ${pick(ended, "sp.ends_at")})`,
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
export async function recalculateSubscription(db: Db, userId: number, now = Date.now()): Promise<Subscription | null> {
	return (await recompute(db, userId, now))[0] ?? null;
}

/** Grants a period and brings the stored subscription up to date, in one batch. Null when the user does not exist. */
export async function grantPeriod(
	db: Db,
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
export async function listPeriods(db: Db, userId: number) {
	const [user, periods] = await db.batch([
		userExists(db, userId),
		db
			.select()
			.from(subscriptionPeriods)
			.where(eq(subscriptionPeriods.userId, userId))
			.orderBy(asc(subscriptionPeriods.startsAt), asc(subscriptionPeriods.id)),
	]);
	return user.length > 0 ? periods : null;
}

export function toIsoSubscription(s: Subscription) {
	return {
		status: s.status,
		plan: s.plan,
		validUntil: s.validUntil === null ? null : new Date(s.validUntil).toISOString(),
	};
}

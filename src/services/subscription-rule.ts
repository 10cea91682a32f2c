import { type Placeholder, type SQL, sql } from "drizzle-orm";
import { users } from "../db/schema.ts";

/**
 * The subscription rule as SQL over a `users` row, evaluated against `now`. Periods are half-open,
 * [startsAt, endsAt):
 * - active: a period covers now; plan and validUntil from the covering period that ends last;
 * - expired: none covers now and at least one has ended; from the one that ended last;
 * - none: no periods, or only future ones.
 * Reads select it (so a status is never stale: a period that ended or began since the last write
 * reads right) and recalculate-subscription stores it; both use this one definition.
 */
export function subscriptionExpressions(now: number | Placeholder): {
	status: SQL<Status>;
	plan: SQL<string | null>;
	validUntil: SQL<number | null>;
} {
	const covering = sql`sp.user_id = ${users.id} and sp.starts_at <= ${now} and sp.ends_at > ${now}`;
	const ended = sql`sp.user_id = ${users.id} and sp.ends_at <= ${now}`;
	const pick = (where: SQL, column: string) =>
		sql`(select ${sql.raw(column)} from subscription_periods sp where ${where} order by sp.ends_at desc, sp.id desc limit 1)`;
	return {
		status: sql<Status>`(case when ${pick(covering, "1")} is not null then 'active'
			when ${pick(ended, "1")} is not null then 'expired' else 'none' end)`,
		plan: sql<string | null>`coalesce(${pick(covering, "sp.plan")}, ${pick(ended, "sp.plan")})`,
		validUntil: sql<number | null>`coalesce(${pick(covering, "sp.ends_at")}, ${pick(ended, "sp.ends_at")})`,
	};
}

export type Status = "none" | "active" | "expired";

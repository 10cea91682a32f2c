import { and, isNotNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { devOutbox, oneTimeTokens, sessions, users } from "../db/schema.ts";
import { SESSION_IDLE_MS } from "./sessions.ts";

/**
 * Daily housekeeping (cron trigger): rows that can no longer matter, and R2 images no user points at.
 * A day of slack is kept so nothing is removed while a request that just saw it may still use it.
 */

const DAY = 24 * 60 * 60 * 1000;

export async function purgeExpiredRows(db: Db, now = Date.now()) {
	const cutoff = now - DAY;
	const [deadSessions, deadTokens, oldMail] = await db.batch([
		db
			.delete(sessions)
			.where(
				or(
					lt(sessions.expiresAt, cutoff),
					lt(sessions.lastUsedAt, cutoff - SESSION_IDLE_MS),
					and(isNotNull(sessions.revokedAt), lt(sessions.revokedAt, cutoff)),
				),
			)
			.returning({ id: sessions.id }),
		db.delete(oneTimeTokens).where(lt(oneTimeTokens.expiresAt, cutoff)).returning({ hash: oneTimeTokens.tokenHash }),
		db
			.delete(devOutbox)
			.where(lt(devOutbox.createdAt, now - 7 * DAY))
			.returning({ id: devOutbox.id }),
	]);
	return { sessions: deadSessions.length, oneTimeTokens: deadTokens.length, outbox: oldMail.length };
}

/**
 * Deletes images no user references (left behind when a delete after an update failed). Keys are
 * checked a page at a time through one JSON parameter, so D1's 100-parameter cap never applies.
 */
export async function purgeOrphanImages(db: Db, bucket: R2Bucket, now = Date.now()): Promise<number> {
	let removed = 0;
	let cursor: string | undefined;
	do {
		const page = await bucket.list({ limit: 500, cursor });
		const candidates = page.objects.filter((o) => o.uploaded.getTime() < now - DAY).map((o) => o.key);
		if (candidates.length > 0) {
			const referenced = await db
				.select({ key: users.profileImageKey })
				.from(users)
				.where(sql`${users.profileImageKey} in (select value from json_each(${JSON.stringify(candidates)}))`);
			const keep = new Set(referenced.map((r) => r.key));
			const orphans = candidates.filter((key) => !keep.has(key));
			if (orphans.length > 0) await bucket.delete(orphans);
			removed += orphans.length;
		}
		cursor = page.truncated ? page.cursor : undefined;
	} while (cursor);
	return removed;
}

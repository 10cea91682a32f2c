import { and, asc, isNotNull, lt, lte, or, sql } from "drizzle-orm";
import { devOutbox, imageDeletions, oneTimeTokens, sessions } from "../db/schema.ts";
import type { DbDeps, Deps } from "./deps.ts";
import { IMAGE_PREFIX } from "./profile-images.ts";
import { SESSION_IDLE_MS } from "./sessions.ts";

/**
 * Daily housekeeping (cron trigger): rows that can no longer matter, and the profile images queued for deletion.
 * A day of slack is kept so nothing is removed while a request that just saw it may still use it.
 */

const DAY = 24 * 60 * 60 * 1000;

export async function purgeExpiredRows({ db }: DbDeps, now = Date.now()) {
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

/** Due outbox rows are handled this many at a time (R2 deletes up to 1,000 keys per call). */
const IMAGE_PAGE = 100;
/** A run stops after this many pages (leftovers wait a day), so it stays within a cron's subrequest budget. */
const MAX_IMAGE_PAGES = 50;

/**
 * Deletes the profile images the `image_deletions` outbox says are due — images a newer upload
 * displaced whose immediate delete failed, and uploads no user row adopted within a day — a page at
 * a time: the objects first, then their rows, so a failed R2 call leaves the rows for the next run.
 * Rows are removed through one JSON parameter, so D1's 100-parameter cap never applies. The bucket
 * is never listed: nothing but an object this code queued, under the image prefix, is deleted.
 */
export async function purgeDueImages({ db, env }: Pick<Deps, "db" | "env">, now = Date.now()): Promise<number> {
	const bucket = env.PROFILE_IMAGES;
	let removed = 0;
	for (let page = 0; page < MAX_IMAGE_PAGES; page++) {
		const due = await db
			.select({ key: imageDeletions.objectKey })
			.from(imageDeletions)
			.where(lte(imageDeletions.dueAt, now))
			.orderBy(asc(imageDeletions.dueAt))
			.limit(IMAGE_PAGE);
		if (due.length === 0) break;
		const keys = due.map((row) => row.key);
		const objects = keys.filter((key) => key.startsWith(IMAGE_PREFIX));
		if (objects.length > 0) await bucket.delete(objects);
		await db
			.delete(imageDeletions)
			.where(sql`${imageDeletions.objectKey} in (select value from json_each(${JSON.stringify(keys)}))`);
		removed += objects.length;
		if (due.length < IMAGE_PAGE) break;
	}
	return removed;
}

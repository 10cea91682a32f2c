import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { integrationKeys } from "../db/schema.ts";
import { randomToken, sha256 } from "../lib/encoding.ts";

/**
 * Partner integration keys: shown once at creation, stored as SHA-256. A presented key is
 * found by its hash through a unique index, so checking one compares no secret byte by byte.
 * D1 is read on every use, so a revoked key stops working at once.
 */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toListed(row: typeof integrationKeys.$inferSelect) {
	return {
		id: row.id,
		name: row.name,
		created_at: iso(row.createdAt) as string,
		last_used_at: iso(row.lastUsedAt),
		revoked_at: iso(row.revokedAt),
	};
}

export async function createIntegrationKey(db: Db, name: string, createdBy: number) {
	const key = `ik_${randomToken(32)}`;
	const row = await db
		.insert(integrationKeys)
		.values({ name, keyHash: await sha256(key), createdBy, createdAt: Date.now() })
		.returning()
		.get();
	return { id: row.id, name: row.name, key, created_at: iso(row.createdAt) as string };
}

export async function listIntegrationKeys(db: Db) {
	return (await db.select().from(integrationKeys).orderBy(desc(integrationKeys.id))).map(toListed);
}

/** Revokes (the row stays, with revoked_at); false when no such key. A second revoke keeps the first time. */
export async function revokeIntegrationKey(db: Db, id: number): Promise<boolean> {
	const rows = await db
		.update(integrationKeys)
		.set({ revokedAt: sql`coalesce(${integrationKeys.revokedAt}, ${Date.now()})` })
		.where(eq(integrationKeys.id, id))
		.returning({ id: integrationKeys.id });
	return rows.length > 0;
}

/** The live key a presented secret belongs to, or null. */
export async function findLiveIntegrationKey(db: Db, presented: string) {
	if (!presented || presented.length > 256) return null;
	const row = await db
		.select({ id: integrationKeys.id, name: integrationKeys.name })
		.from(integrationKeys)
		.where(and(eq(integrationKeys.keyHash, await sha256(presented)), isNull(integrationKeys.revokedAt)))
		.get();
	return row ?? null;
}

export function touchIntegrationKey(db: Db, id: number, now = Date.now()) {
	return db.update(integrationKeys).set({ lastUsedAt: now }).where(eq(integrationKeys.id, id));
}

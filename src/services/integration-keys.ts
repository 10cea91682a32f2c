import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type IntegrationKeyScope, integrationKeys, oneTimeTokens } from "../db/schema.ts";

export { INTEGRATION_KEY_SCOPES } from "../db/schema.ts";

import { randomToken, sha256 } from "../lib/encoding.ts";
import { badRequest } from "../lib/errors.ts";
import type { DbDeps, Deps } from "./deps.ts";
import { eventStatement } from "./security-events.ts";
import { findUserById } from "./users.ts";

/**
 * Partner integration keys: shown once at creation, stored as SHA-256. A presented key is
 * found by its hash through a unique index, so checking one compares no secret byte by byte.
 * D1 is read on every use, so a revoked key stops working at once. A key may be bound to an
 * owner (usable only with that owner's Bearer token) and scoped to the users its owner provisioned.
 */

export type IntegrationKey = Omit<typeof integrationKeys.$inferSelect, "keyHash">;

function withoutHash({ keyHash: _, ...key }: typeof integrationKeys.$inferSelect): IntegrationKey {
	return key;
}

export interface NewIntegrationKey {
	name: string;
	ownerUserId?: number | null;
	scope?: IntegrationKeyScope;
}

/** 400 (naming the field) for an owner that is not an API account, or a `provisioned` key without an owner. */
async function ownerProblem(db: Db, input: NewIntegrationKey) {
	const owner = input.ownerUserId ?? null;
	if (input.scope === "provisioned" && owner === null) {
		const message = 'A key with scope "provisioned" needs an owner_user_id';
		throw badRequest(message, [{ path: "owner_user_id", message }]);
	}
	if (owner !== null && !(await findUserById({ db }, owner))?.roles.includes("API")) {
		const message = "owner_user_id must name a user holding the API role";
		throw badRequest(message, [{ path: "owner_user_id", message }]);
	}
}

export async function createIntegrationKey(
	deps: Pick<Deps, "db" | "request">,
	input: NewIntegrationKey,
	createdBy: number,
) {
	const { db } = deps;
	await ownerProblem(db, input);
	const key = `ik_${randomToken(32)}`;
	const now = Date.now();
	const [rows] = await db.batch([
		db
			.insert(integrationKeys)
			.values({
				name: input.name,
				keyHash: await sha256(key),
				ownerUserId: input.ownerUserId ?? null,
				scope: input.scope ?? "all",
				createdBy,
				createdAt: now,
			})
			.returning(),
		eventStatement(
			deps,
			{
				type: "integration_key.created",
				userId: input.ownerUserId ?? null,
				actor: { type: "admin", id: createdBy },
				integrationKeyId: sql`last_insert_rowid()`,
				detail: { scope: input.scope ?? "all" },
			},
			now,
			{ ifChanged: true },
		),
	]);
	const row = rows[0];
	if (!row) throw new Error("integration key insert returned no row");
	return { ...withoutHash(row), key };
}

export async function listIntegrationKeys({ db }: DbDeps) {
	return (await db.select().from(integrationKeys).orderBy(desc(integrationKeys.id))).map(withoutHash);
}

/**
 * Revokes (the row stays, with revoked_at); false when no such key. A second revoke keeps the first
 * time. The login links minted with the key and not yet used close in the same batch: a leaked key's
 * links die with it.
 */
export async function revokeIntegrationKey(
	deps: Pick<Deps, "db" | "request">,
	id: number,
	actorId: number,
	now = Date.now(),
): Promise<boolean> {
	const { db } = deps;
	const [, , , exists] = await db.batch([
		db
			.update(integrationKeys)
			.set({ revokedAt: now })
			.where(and(eq(integrationKeys.id, id), isNull(integrationKeys.revokedAt))),
		eventStatement(
			deps,
			{ type: "integration_key.revoked", userId: null, actor: { type: "admin", id: actorId }, integrationKeyId: id },
			now,
			{ ifChanged: true },
		),
		db
			.update(oneTimeTokens)
			.set({ closedAt: now, closedBy: "key-revoked" })
			.where(
				and(
					eq(oneTimeTokens.purpose, "login"),
					isNull(oneTimeTokens.closedAt),
					sql`json_extract(${oneTimeTokens.meta}, '$.integrationKeyId') = ${id}`,
				),
			),
		db.select({ id: integrationKeys.id }).from(integrationKeys).where(eq(integrationKeys.id, id)),
	]);
	return exists.length > 0;
}

export interface UsableIntegrationKey {
	id: number;
	name: string;
	ownerUserId: number | null;
	scope: IntegrationKeyScope;
}

/**
 * The live key a presented secret belongs to, if `callerId` may use it (a bound key only with its
 * owner's Bearer token); else null.
 */
export async function findUsableIntegrationKey(
	{ db }: DbDeps,
	presented: string,
	callerId: number,
): Promise<UsableIntegrationKey | null> {
	if (!presented || presented.length > 256) return null;
	const row = await db
		.select({
			id: integrationKeys.id,
			name: integrationKeys.name,
			ownerUserId: integrationKeys.ownerUserId,
			scope: integrationKeys.scope,
		})
		.from(integrationKeys)
		.where(and(eq(integrationKeys.keyHash, await sha256(presented)), isNull(integrationKeys.revokedAt)))
		.get();
	if (!row || (row.ownerUserId !== null && row.ownerUserId !== callerId)) return null;
	return row;
}

export function touchIntegrationKeyStatement(db: Db, id: number, now = Date.now()) {
	return db.update(integrationKeys).set({ lastUsedAt: now }).where(eq(integrationKeys.id, id));
}

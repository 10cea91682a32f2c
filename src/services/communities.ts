import { asc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client.ts";
import { communities, communityCategories, communityMemberships, users } from "../db/schema.ts";
import type { DbDeps } from "./deps.ts";
import { recordColumns, toRecord, type UserRecord } from "./users.ts";

/**
 * A member's `categories` is stored on the user (the user object is read in one query) and is
 * always the distinct, sorted union of the categories of their communities. Every write that can
 * change that union recomputes it in the same batch.
 */
const categoriesOfUser = sql`(select coalesce(json_group_array(name), '[]') from (
	select distinct cc.name as name from community_categories cc
	join community_memberships m on m.community_id = cc.community_id
	where m.user_id = ${users.id} order by cc.name))`;

function recomputeCategoriesStatement(db: Db, userId: number, now = Date.now()) {
	return db
		.update(users)
		.set({ categories: categoriesOfUser, updatedAt: now })
		.where(eq(users.id, userId))
		.returning({ id: users.id, categories: users.categories });
}

/** Recomputes one user's categories now; null when the user does not exist. */
export async function reindexCategories({ db }: DbDeps, userId: number) {
	const [row] = await recomputeCategoriesStatement(db, userId);
	return row ? { id: row.id, categories: JSON.parse(row.categories) as string[] } : null;
}

function recomputeMembersOf(db: Db, communityId: number, now: number) {
	return db
		.update(users)
		.set({ categories: categoriesOfUser, updatedAt: now })
		.where(
			inArray(
				users.id,
				db
					.select({ id: communityMemberships.userId })
					.from(communityMemberships)
					.where(eq(communityMemberships.communityId, communityId)),
			),
		);
}

const categoryList = sql<string>`(select coalesce(json_group_array(name), '[]') from (
	select name from community_categories where community_categories.community_id = ${communities.id} order by name))`;

export interface Community {
	id: number;
	name: string;
	description: string;
	categories: string[];
}

async function selectCommunities(db: Db, id?: number): Promise<Community[]> {
	const rows = await db
		.select({
			id: communities.id,
			name: communities.name,
			description: communities.description,
			categories: categoryList,
		})
		.from(communities)
		.where(id === undefined ? undefined : eq(communities.id, id))
		.orderBy(asc(communities.id));
	return rows.map((r) => ({ ...r, categories: JSON.parse(r.categories) as string[] }));
}

export const listCommunities = ({ db }: DbDeps) => selectCommunities(db);

const uniqueNames = (names: string[]) => [...new Set(names.map((n) => n.trim()))].filter(Boolean);

/**
 * Inserts `names` as categories of a community, in one statement whatever their number (one bound
 * JSON parameter, so D1's 100-parameter cap never applies). `communityId` is SQL so the caller can
 * point at a row inserted earlier in the same batch.
 */
function insertCategories(db: Db, communityId: SQL, names: string[]) {
	return db.insert(communityCategories).select(
		db
			.select({ communityId: sql<number>`${communityId}`.as("community_id"), name: sql<string>`value`.as("name") })
			.from(sql`json_each(${JSON.stringify(names)})`)
			.where(sql`${communityId} is not null`),
	);
}

/** One batch: the community and its categories land together or not at all. */
export async function createCommunity(
	{ db }: DbDeps,
	input: { name: string; description?: string; categories: string[] },
): Promise<Community> {
	const names = uniqueNames(input.categories);
	const [created] = await db.batch([
		db
			.insert(communities)
			.values({ name: input.name, description: input.description ?? "", createdAt: Date.now() })
			.returning(),
		// The batch is one transaction, so the newest community is the one just inserted.
		insertCategories(db, sql`(select max(id) from communities)`, names),
	]);
	const row = created[0] as typeof communities.$inferSelect;
	return { id: row.id, name: row.name, description: row.description, categories: names.sort() };
}

/** Replaces name/description/categories as given; members' categories follow in the same batch. Null: no such community. */
export async function updateCommunity(
	{ db }: DbDeps,
	id: number,
	input: { name?: string; description?: string; categories?: string[] },
): Promise<Community | null> {
	const now = Date.now();
	const statements: BatchItem<"sqlite">[] = [];
	if (input.name !== undefined || input.description !== undefined) {
		statements.push(
			db
				.update(communities)
				.set({
					...(input.name !== undefined && { name: input.name }),
					...(input.description !== undefined && { description: input.description }),
				})
				.where(eq(communities.id, id)),
		);
	}
	if (input.categories !== undefined) {
		statements.push(db.delete(communityCategories).where(eq(communityCategories.communityId, id)));
		statements.push(
			insertCategories(db, sql`(select id from communities where id = ${id})`, uniqueNames(input.categories)),
		);
		statements.push(recomputeMembersOf(db, id, now));
	}
	if (statements.length > 0) await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
	return (await selectCommunities(db, id))[0] ?? null;
}

/**
 * Idempotent join, one round trip: the membership (only if the community exists), the
 * categories recomputation and the user read ride in one batch. Null: no such community.
 */
export async function joinCommunity({ db }: DbDeps, userId: number, communityId: number): Promise<UserRecord | null> {
	const now = Date.now();
	const [community, , , user] = await db.batch([
		db.select({ id: communities.id }).from(communities).where(eq(communities.id, communityId)),
		db
			.insert(communityMemberships)
			.select(
				db
					.select({
						userId: sql<number>`${userId}`.as("user_id"),
						communityId: communities.id,
						joinedAt: sql<number>`${now}`.as("joined_at"),
					})
					.from(communities)
					.where(eq(communities.id, communityId)),
			)
			.onConflictDoNothing(),
		recomputeCategoriesStatement(db, userId, now),
		db.select(recordColumns()).from(users).where(eq(users.id, userId)),
	]);
	if (community.length === 0) return null;
	return toRecord(user[0]);
}

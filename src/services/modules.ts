import { and, asc, eq, sql } from "drizzle-orm";
import { moduleProgress, modules } from "../db/schema.ts";
import type { DbDeps, Deps } from "./deps.ts";
import { userExistsStatement } from "./users.ts";

/** progress = score / max_score, a 0–1 fraction (0 when not started). */
function progressOf(score: number, maxScore: number): number {
	return maxScore > 0 ? Math.min(1, Math.max(0, score / maxScore)) : 0;
}

export interface ModuleProgress {
	userId: number;
	moduleId: number;
	score: number;
	maxScore: number;
	progress: number;
}

function progressRecord(userId: number, moduleId: number, score: number, maxScore: number): ModuleProgress {
	return { userId, moduleId, score, maxScore, progress: progressOf(score, maxScore) };
}

export type CatalogModule = Awaited<ReturnType<typeof readCatalog>>[number];
export type ModuleProgressRow = NonNullable<Awaited<ReturnType<typeof userModuleProgress>>>[number];

/**
 * The catalog of core modules. Nothing in the API writes modules (they change by migration or seed), so each isolate
 * keeps the catalog `config.catalogCacheSeconds` (default 60) and D1 is read about once a minute per isolate instead
 * of on every request; a catalog changed by SQL shows everywhere within that time. Kept per D1 binding, so each
 * database (and each test double) has its own.
 */
const catalogs = new WeakMap<object, { until: number; rows: CatalogModule[] }>();

export async function listCoreModules(deps: Pick<Deps, "db" | "env" | "config">, now = Date.now()) {
	const ttlMs = deps.config.catalogCacheSeconds * 1000;
	const cached = catalogs.get(deps.env.DB);
	if (ttlMs > 0 && cached && cached.until > now) return cached.rows;
	const rows = await readCatalog(deps);
	if (ttlMs > 0) catalogs.set(deps.env.DB, { until: now + ttlMs, rows });
	return rows;
}

function readCatalog({ db }: DbDeps) {
	return db
		.select({
			id: modules.id,
			title: modules.title,
			cleanTitle: modules.cleanTitle,
			description: modules.description,
			estTime: modules.estTime,
			difficulty: modules.difficulty,
		})
		.from(modules)
		.where(eq(modules.isCore, true))
		.orderBy(asc(modules.sortOrder), asc(modules.id));
}

/** Every core module with the user's score; null when the user does not exist. One round trip. */
export async function userModuleProgress({ db }: DbDeps, userId: number) {
	const [user, rows] = await db.batch([
		userExistsStatement(db, userId),
		db
			.select({
				moduleId: modules.id,
				moduleName: modules.title,
				score: sql<number>`coalesce(${moduleProgress.score}, 0)`,
				maxScore: modules.maxScore,
			})
			.from(modules)
			.leftJoin(moduleProgress, and(eq(moduleProgress.moduleId, modules.id), eq(moduleProgress.userId, userId)))
			.where(eq(modules.isCore, true))
			.orderBy(asc(modules.sortOrder), asc(modules.id)),
	]);
	if (user.length === 0) return null;
	return rows.map((r) => ({ ...r, progress: progressOf(r.score, r.maxScore) }));
}

export type ModuleProgressResult =
	| { kind: "ok"; progress: ModuleProgress }
	| { kind: "no-user" }
	| { kind: "no-module" }
	| { kind: "not-enrolled" };

/** One round trip: user, module and enrollment read together. */
export async function oneModuleProgress(
	{ db }: DbDeps,
	userId: number,
	moduleId: number,
): Promise<ModuleProgressResult> {
	const [user, module, enrollment] = await db.batch([
		userExistsStatement(db, userId),
		db.select({ maxScore: modules.maxScore }).from(modules).where(eq(modules.id, moduleId)),
		db
			.select({ score: moduleProgress.score })
			.from(moduleProgress)
			.where(and(eq(moduleProgress.userId, userId), eq(moduleProgress.moduleId, moduleId))),
	]);
	if (user.length === 0) return { kind: "no-user" };
	const maxScore = module[0]?.maxScore;
	if (maxScore === undefined) return { kind: "no-module" };
	const score = enrollment[0]?.score;
	if (score === undefined) return { kind: "not-enrolled" };
	return { kind: "ok", progress: progressRecord(userId, moduleId, score, maxScore) };
}

export type RecordScoreResult = ModuleProgressResult | { kind: "out-of-range"; maxScore: number };

/**
 * Records a score, enrolling the user. The write is one conditional upsert that only lands when
 * the user and module exist and 0 ≤ score ≤ max_score; the read beside it (same batch) says why not.
 */
export async function recordScore(
	{ db }: DbDeps,
	userId: number,
	moduleId: number,
	score: number,
): Promise<RecordScoreResult> {
	const now = Date.now();
	const [user, module, written] = await db.batch([
		userExistsStatement(db, userId),
		db.select({ maxScore: modules.maxScore }).from(modules).where(eq(modules.id, moduleId)),
		db
			.insert(moduleProgress)
			.select(
				db
					.select({
						userId: sql<number>`${userId}`.as("user_id"),
						moduleId: modules.id,
						score: sql<number>`${score}`.as("score"),
						updatedAt: sql<number>`${now}`.as("updated_at"),
					})
					.from(modules)
					.where(
						and(
							eq(modules.id, moduleId),
							sql`${score} between 0 and ${modules.maxScore}`,
							sql`exists (select 1 from users where users.id = ${userId})`,
						),
					),
			)
			.onConflictDoUpdate({
				target: [moduleProgress.userId, moduleProgress.moduleId],
				set: { score: sql`excluded.score`, updatedAt: sql`excluded.updated_at` },
			})
			.returning({ score: moduleProgress.score }),
	]);
	if (user.length === 0) return { kind: "no-user" };
	const maxScore = module[0]?.maxScore;
	if (maxScore === undefined) return { kind: "no-module" };
	if (written.length === 0) return { kind: "out-of-range", maxScore };
	return { kind: "ok", progress: progressRecord(userId, moduleId, score, maxScore) };
}

import { and, eq, gt, isNull, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client.ts";
import { oneTimeTokens } from "../db/schema.ts";
import { randomToken, sha256 } from "../lib/encoding.ts";

/**
 * One-time tokens (email verification, password reset, login links): 256 random bits, shown
 * once. KV holds the token under its hash with the TTL; D1 holds the guard row that makes
 * consumption single-use under any concurrency (a conditional UPDATE … RETURNING inside a
 * batch) and lets a newer token supersede older ones. KV is never read-then-deleted for this.
 */

export const TOKEN_PURPOSES = {
	"verify-email": { ttlSeconds: 24 * 60 * 60, supersedes: true },
	"password-reset": { ttlSeconds: 60 * 60, supersedes: true },
	login: { ttlSeconds: 10 * 60, supersedes: false },
} as const;
export type TokenPurpose = keyof typeof TOKEN_PURPOSES;

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

interface StoredToken {
	purpose: TokenPurpose;
	userId: number;
	expiresAt: number;
}

const kvKey = (hash: string) => `ott:${hash}`;

export async function issueOneTimeToken(
	deps: { db: Db; kv: KVNamespace },
	input: { purpose: TokenPurpose; userId: number; meta?: Record<string, unknown> },
	now = Date.now(),
	/** Statements to run in the same batch (e.g. recording who asked for the token). */
	alsoRun: BatchItem<"sqlite">[] = [],
): Promise<{ token: string; expiresAt: number }> {
	const { ttlSeconds, supersedes } = TOKEN_PURPOSES[input.purpose];
	const token = randomToken(32);
	const tokenHash = await sha256(token);
	const expiresAt = now + ttlSeconds * 1000;
	const insert = deps.db.insert(oneTimeTokens).values({
		tokenHash,
		purpose: input.purpose,
		userId: input.userId,
		createdAt: now,
		expiresAt,
		meta: input.meta ? JSON.stringify(input.meta) : null,
	});
	if (supersedes) {
		const closeOlder = deps.db
			.update(oneTimeTokens)
			.set({ closedAt: now, closedBy: "superseded" })
			.where(
				and(
					eq(oneTimeTokens.userId, input.userId),
					eq(oneTimeTokens.purpose, input.purpose),
					isNull(oneTimeTokens.closedAt),
				),
			);
		await deps.db.batch([closeOlder, insert, ...alsoRun]);
	} else {
		await deps.db.batch([insert, ...alsoRun]);
	}
	const stored: StoredToken = { purpose: input.purpose, userId: input.userId, expiresAt };
	await deps.kv.put(kvKey(tokenHash), JSON.stringify(stored), { expirationTtl: ttlSeconds });
	return { token, expiresAt };
}

/** The token's subject if KV still holds it for this purpose; consumes nothing. */
export async function peekOneTimeToken(
	kv: KVNamespace,
	purpose: TokenPurpose,
	token: string,
	now = Date.now(),
): Promise<{ userId: number; tokenHash: string } | null> {
	if (!TOKEN_SHAPE.test(token)) return null;
	const tokenHash = await sha256(token);
	const stored = await kv.get<StoredToken>(kvKey(tokenHash), "json");
	if (!stored || stored.purpose !== purpose || stored.expiresAt <= now) return null;
	return { userId: stored.userId, tokenHash };
}

/**
 * Consumes the token exactly once. `effects` are statements that run in the same D1 batch
 * (one transaction) and must only take effect for the winning request: they receive `won`,
 * an SQL condition true only inside the consumption that claimed the token.
 */
export async function consumeOneTimeToken(
	deps: { db: Db; kv: KVNamespace },
	purpose: TokenPurpose,
	token: string,
	effects: (ctx: { userId: number; won: SQL; now: number }) => BatchItem<"sqlite">[] = () => [],
	now = Date.now(),
): Promise<{ userId: number } | null> {
	const peeked = await peekOneTimeToken(deps.kv, purpose, token, now);
	if (!peeked) return null;
	const nonce = randomToken(16);
	const claim = deps.db
		.update(oneTimeTokens)
		.set({ closedAt: now, closedBy: nonce })
		.where(
			and(
				eq(oneTimeTokens.tokenHash, peeked.tokenHash),
				eq(oneTimeTokens.purpose, purpose),
				isNull(oneTimeTokens.closedAt),
				gt(oneTimeTokens.expiresAt, now),
			),
		)
		.returning({ userId: oneTimeTokens.userId });
	const won = sql`exists (select 1 from one_time_tokens where token_hash = ${peeked.tokenHash} and closed_by = ${nonce})`;
	const [claimed] = await deps.db.batch([claim, ...effects({ userId: peeked.userId, won, now })]);
	const row = (claimed as { userId: number }[])[0];
	return row ? { userId: row.userId } : null;
}

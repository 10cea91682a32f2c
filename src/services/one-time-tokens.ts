import { and, eq, gt, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client.ts";
import { oneTimeTokens } from "../db/schema.ts";
import { parseJsonObject, randomToken, sha256 } from "../lib/encoding.ts";
import type { Deps } from "./deps.ts";

/**
 * One-time tokens (email verification, password reset, login links): 256 random bits, shown
 * once. D1 is the judge: its row holds purpose, user, expiry and state, and consumption is a
 * conditional UPDATE … RETURNING inside a batch, single-use under any concurrency. KV also keeps
 * each token under its hash with the TTL (the contract's token store), but nothing is decided
 * from KV: it is eventually consistent (a token minted in one location may be invisible in another
 * for 60 s or more), so a KV miss must never make a live token "invalid", and a failed KV write
 * must never leave a user without a usable token after D1 already superseded the older one.
 */

export const TOKEN_PURPOSES = {
	"verify-email": { ttlSeconds: 24 * 60 * 60, supersedes: true },
	"password-reset": { ttlSeconds: 60 * 60, supersedes: true },
	login: { ttlSeconds: 10 * 60, supersedes: false },
	// "This wasn't me" in a new-sign-in mail: ends the one session the mail was about.
	"not-me": { ttlSeconds: 24 * 60 * 60, supersedes: false },
	// Account lifecycle: the new address confirms a change; the old one can undo it for 7 days; the owner of an
	// account scheduled for deletion can cancel it until the grace ends.
	"email-change": { ttlSeconds: 24 * 60 * 60, supersedes: true },
	"email-undo": { ttlSeconds: 7 * 24 * 60 * 60, supersedes: false },
	"cancel-deletion": { ttlSeconds: 7 * 24 * 60 * 60, supersedes: true },
} as const;
export type TokenPurpose = keyof typeof TOKEN_PURPOSES;

/**
 * Every purpose but an email change's undo. Resets, bans, password changes, later email changes and deletion
 * requests close open links with this list: the undo is the owner's way back from whoever moved the address, and
 * whoever did may also reset the password or cause a ban; only a used undo (or the account's deletion) ends it.
 */
export const ALL_BUT_UNDO = (Object.keys(TOKEN_PURPOSES) as TokenPurpose[]).filter((p) => p !== "email-undo");

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** KV holds each token's copy under this prefix and its hash. */
export const TOKEN_COPY_PREFIX = "ott:";
const kvKey = (hash: string) => `${TOKEN_COPY_PREFIX}${hash}`;

/** The stores a token lives in: D1 (the judge) and KV (`env.TOKENS`, a copy). */
type TokenStores = Pick<Deps, "db" | "env">;

export interface PreparedToken {
	token: string;
	expiresAt: number;
	/** For the caller's batch: closing the older tokens it supersedes, then the insert. */
	statements: BatchItem<"sqlite">[];
	/** After the batch: writes KV's copy. Best effort — a failure is logged, never thrown. */
	storeCopy(): Promise<void>;
}

/**
 * A new token as statements for a batch of the caller's, so a token can be born in the same transaction as the
 * change it belongs to (an email change's undo link). `userId` may be SQL (a consumption's `subject`), and with
 * `onlyIf` the token is inserted only when that condition holds inside the batch.
 */
export async function prepareOneTimeToken(
	deps: TokenStores,
	input: { purpose: TokenPurpose; userId: number | SQL<number | null>; meta?: Record<string, unknown> },
	now = Date.now(),
	onlyIf?: SQL,
): Promise<PreparedToken> {
	const { ttlSeconds, supersedes } = TOKEN_PURPOSES[input.purpose];
	const token = randomToken(32);
	const tokenHash = await sha256(token);
	const expiresAt = now + ttlSeconds * 1000;
	const meta = input.meta ? JSON.stringify(input.meta) : null;
	const insert = onlyIf
		? // Every column in the table's order, as Drizzle's insert … select expects.
			deps.db
				.insert(oneTimeTokens)
				.select(
					sql`select ${tokenHash}, ${input.purpose}, ${input.userId}, ${now}, ${expiresAt}, null, null, ${meta} where ${onlyIf}`,
				)
		: deps.db.insert(oneTimeTokens).values({
				tokenHash,
				purpose: input.purpose,
				userId: input.userId,
				createdAt: now,
				expiresAt,
				meta,
			});
	const closeOlder = supersedes
		? [closeOpenTokensStatement(deps.db, input.userId, [input.purpose], now, onlyIf, "superseded")]
		: [];
	return {
		token,
		expiresAt,
		statements: [...closeOlder, insert],
		async storeCopy() {
			// D1 already holds the live token: a KV failure here costs nothing but the copy.
			try {
				// The user when known here (not when it is decided inside the batch).
				const userId = typeof input.userId === "number" ? input.userId : undefined;
				const stored = { purpose: input.purpose, userId, expiresAt };
				await deps.env.TOKENS.put(kvKey(tokenHash), JSON.stringify(stored), { expirationTtl: ttlSeconds });
			} catch (error) {
				console.warn(
					JSON.stringify({ level: "warn", oneTimeToken: { purpose: input.purpose, kvWrite: (error as Error).name } }),
				);
			}
		},
	};
}

export async function issueOneTimeToken(
	deps: TokenStores,
	input: { purpose: TokenPurpose; userId: number; meta?: Record<string, unknown> },
	now = Date.now(),
	/** Statements to run in the same batch (e.g. recording who asked for the token). */
	alsoRun: BatchItem<"sqlite">[] = [],
): Promise<{ token: string; expiresAt: number }> {
	const prepared = await prepareOneTimeToken(deps, input, now);
	await deps.db.batch([...prepared.statements, ...alsoRun] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
	await prepared.storeCopy();
	return { token: prepared.token, expiresAt: prepared.expiresAt };
}

/** The hash a well-formed token is stored under; null for anything that cannot be a token. */
export async function tokenHashOf(token: string): Promise<string | null> {
	return TOKEN_SHAPE.test(token) ? sha256(token) : null;
}

/** SQL: the live token row's user id, for reading a token's subject in the same statement as the user. */
export function liveTokenSubject(tokenHash: string, purpose: TokenPurpose, now: number): SQL<number | null> {
	return sql<number | null>`(select user_id from one_time_tokens where token_hash = ${tokenHash}
		and purpose = ${purpose} and closed_at is null and expires_at > ${now})`;
}

/** The token's row, if it is of `purpose`, not closed (used or superseded) and not expired: what "live" means. */
function isLiveToken(tokenHash: string, purpose: TokenPurpose, now: number) {
	return and(
		eq(oneTimeTokens.tokenHash, tokenHash),
		eq(oneTimeTokens.purpose, purpose),
		isNull(oneTimeTokens.closedAt),
		gt(oneTimeTokens.expiresAt, now),
	);
}

/** A live token's user and meta, read without consuming it (e.g. to build the effects of its consumption). */
export async function findOpenTokenMeta(
	{ db }: Pick<Deps, "db">,
	tokenHash: string,
	purpose: TokenPurpose,
	now: number,
): Promise<{ userId: number; meta: Record<string, unknown> } | null> {
	const row = await db
		.select({ userId: oneTimeTokens.userId, meta: oneTimeTokens.meta })
		.from(oneTimeTokens)
		.where(isLiveToken(tokenHash, purpose, now))
		.get();
	return row ? { userId: row.userId, meta: parseJsonObject(row.meta) } : null;
}

export interface ConsumeContext {
	/**
	 * SQL for the token's user id, but only inside the consumption that claimed the token (NULL in
	 * every other request): effects written as `… where users.id = ${subject}` apply for the winner only.
	 */
	subject: SQL<number | null>;
	now: number;
}

/**
 * Consumes the token exactly once, deciding from D1 alone. `effects` are statements that run in
 * the same D1 batch (one transaction) and must only take effect for the winning request.
 * Returns the token's user, the meta it was issued with and the effects' results, or null (unknown, used, expired).
 */
export async function consumeOneTimeToken(
	deps: TokenStores,
	purpose: TokenPurpose,
	token: string,
	effects: (ctx: ConsumeContext) => BatchItem<"sqlite">[] | Promise<BatchItem<"sqlite">[]> = () => [],
	now = Date.now(),
): Promise<{ userId: number; meta: Record<string, unknown>; effectResults: unknown[] } | null> {
	const tokenHash = await tokenHashOf(token);
	if (!tokenHash) return null;
	const { claim, subject } = claimOneTimeToken(deps, tokenHash, purpose, now);
	const [claimed, ...effectResults] = await deps.db.batch([claim, ...(await effects({ subject, now }))]);
	const row = (claimed as { userId: number; meta: string | null }[])[0];
	if (!row) return null;
	return { userId: row.userId, meta: parseJsonObject(row.meta), effectResults };
}

/**
 * The claim of a live token, to run first in a caller's own batch (consumeOneTimeToken's, or a session's: a login
 * link is spent in the very write that opens its session), and `subject`: the token's user id inside that batch
 * only if this claim won, NULL otherwise and everywhere else. The claim returns the token's user id and meta.
 */
export function claimOneTimeToken(
	{ db }: Pick<TokenStores, "db">,
	tokenHash: string,
	purpose: TokenPurpose,
	now: number,
): { claim: BatchItem<"sqlite">; subject: SQL<number | null> } {
	const nonce = randomToken(16);
	const claim = db
		.update(oneTimeTokens)
		.set({ closedAt: now, closedBy: nonce })
		.where(isLiveToken(tokenHash, purpose, now))
		.returning({ userId: oneTimeTokens.userId, meta: oneTimeTokens.meta });
	const subject = sql<
		number | null
	>`(select user_id from one_time_tokens where token_hash = ${tokenHash} and closed_by = ${nonce})`;
	return { claim, subject };
}

/**
 * Closes the open login links `userId` minted for others: they live on the minter's standing, so a ban or the
 * minter's deletion ends them at once, as a revoked integration key ends its own.
 */
export function closeLinksMintedByStatement(db: Db, userId: number, now: number, closedBy: string, onlyIf?: SQL) {
	return db
		.update(oneTimeTokens)
		.set({ closedAt: now, closedBy })
		.where(
			and(
				eq(oneTimeTokens.purpose, "login"),
				isNull(oneTimeTokens.closedAt),
				sql`json_extract(${oneTimeTokens.meta}, '$.createdBy') = ${userId}`,
				onlyIf,
			),
		);
}

/**
 * Closes a user's open tokens (of the given purposes, or all) — "secrets change, old doors close".
 * `userId` may be SQL (e.g. a consumption's `subject`), `onlyIf` an extra condition.
 */
export function closeOpenTokensStatement(
	db: Db,
	userId: number | SQL<number | null>,
	purposes: readonly TokenPurpose[] | "all",
	now: number,
	onlyIf?: SQL,
	closedBy = "closed",
) {
	return db
		.update(oneTimeTokens)
		.set({ closedAt: now, closedBy })
		.where(
			and(
				eq(oneTimeTokens.userId, userId),
				isNull(oneTimeTokens.closedAt),
				purposes === "all" ? undefined : inArray(oneTimeTokens.purpose, [...purposes]),
				onlyIf,
			),
		);
}

/**
 * D1 read replication through the Sessions API (`withSession`), wrapped once here: Drizzle has no support for it
 * yet, so the app hands Drizzle this session's `d1` as if it were the binding.
 *
 * A session starts at the primary (`first-primary`: every request that decides something — credentials, sessions,
 * one-time tokens, roles, bans, keys, the revocation check — and every write), at any replica
 * (`first-unconstrained`: anonymous public reads), or at a client's bookmark (at least as fresh as its last write).
 * Its bookmark after the request goes back to the client (X-D1-Bookmark, the d1_bookmark cookie).
 *
 * A bookmark the client sent is trusted only if it has a bookmark's shape; if D1 still refuses it (an unknown
 * bookmark), the request starts over at the primary instead of failing: a bookmark can make reads fresher, never
 * make a request fail. To retry, statements are kept as SQL and parameters and prepared on the session that runs
 * them.
 */

export const PRIMARY = "first-primary";
export const ANY_REPLICA = "first-unconstrained";

/** D1 bookmarks: four hex groups, 8-8-8-32 (e.g. 00000000-00000008-00000000-000…0). */
const BOOKMARK_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

export const isBookmark = (value: string | undefined | null): value is string =>
	typeof value === "string" && BOOKMARK_SHAPE.test(value);

export interface D1Session {
	/** Give this to Drizzle (createDb). */
	d1: D1Database;
	/** How the session started (what a test double records). */
	readonly start: string;
	/** The session's newest bookmark; null when no query ran. */
	bookmark(): string | null;
}

type Session = ReturnType<D1Database["withSession"]>;

/** Runs work on the request's session (opening it, or starting over at the primary, as openD1Session decides). */
type Runner = <T>(work: (s: Session) => Promise<T>) => Promise<T>;

/** A statement kept as SQL and parameters, prepared on the session that runs it. One class for every request. */
class Statement {
	constructor(
		readonly runOn: Runner,
		readonly query: string,
		readonly params: unknown[] = [],
	) {}
	bind(...values: unknown[]) {
		return new Statement(this.runOn, this.query, values);
	}
	on(s: Session): D1PreparedStatement {
		const prepared = s.prepare(this.query);
		return this.params.length > 0 ? prepared.bind(...this.params) : prepared;
	}
	all<T>() {
		return this.runOn((s) => this.on(s).all<T>());
	}
	run<T>() {
		return this.runOn((s) => this.on(s).run<T>());
	}
	first<T>(column?: string) {
		return this.runOn((s) => (column === undefined ? this.on(s).first<T>() : this.on(s).first<T>(column)));
	}
	raw<T>(options?: { columnNames?: boolean }): Promise<unknown[]> {
		// The two overloads of raw(), called as D1 defines them.
		return this.runOn(
			(s): Promise<unknown[]> =>
				options?.columnNames ? this.on(s).raw<T>({ columnNames: true }) : this.on(s).raw<T>(),
		);
	}
}

/**
 * The session opens at its first query: a request that never touches D1 (the greeting, a token check, a request
 * refused before its handler) opens none, and a session a public read replaces before any query is never opened.
 */
export function openD1Session(binding: D1Database, start: string): D1Session {
	let session: Session | undefined;
	let current = start;

	const run: Runner = async (work) => {
		const first = session === undefined;
		session ??= binding.withSession(current);
		try {
			return await work(session);
		} catch (error) {
			if (!first || current === PRIMARY || current === ANY_REPLICA || !/bookmark/i.test(String(error))) throw error;
			// D1 refused the client's bookmark: begin again at the primary.
			current = PRIMARY;
			session = binding.withSession(PRIMARY);
			return work(session);
		}
	};

	const d1 = {
		prepare: (query: string) => new Statement(run, query),
		batch: <T>(statements: Statement[]) => run((s) => s.batch<T>(statements.map((st) => st.on(s)))),
		exec: () => {
			throw new Error("exec is not available inside a D1 session");
		},
		withSession: () => {
			throw new Error("already a D1 session");
		},
		dump: () => {
			throw new Error("dump is not available inside a D1 session");
		},
	} as unknown as D1Database;

	return {
		d1,
		get start() {
			return current;
		},
		bookmark: () => session?.getBookmark() ?? null,
	};
}

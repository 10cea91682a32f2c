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
	/** Moves where the session starts; only before its first query (an anonymous public read: replicaReads). */
	startAt(start: string): void;
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
 * refused before its handler) opens none, and a public read moves its start before any query (startAt).
 * A class, not closures: every request makes one, most never query, and a light request's CPU is counted in µs.
 */
class LazyD1Session implements D1Session {
	#session: Session | undefined;
	#current: string;
	readonly d1: D1Database;

	constructor(
		private readonly binding: D1Database,
		start: string,
	) {
		this.#current = start;
		this.d1 = new SessionBinding(this.run) as unknown as D1Database;
	}

	get start() {
		return this.#current;
	}

	bookmark() {
		return this.#session?.getBookmark() ?? null;
	}

	startAt(start: string) {
		if (this.#session !== undefined) throw new Error("the D1 session has already run a query");
		this.#current = start;
	}

	readonly run: Runner = async (work) => {
		const first = this.#session === undefined;
		this.#session ??= this.binding.withSession(this.#current);
		try {
			return await work(this.#session);
		} catch (error) {
			const current = this.#current;
			if (!first || current === PRIMARY || current === ANY_REPLICA || !/bookmark/i.test(String(error))) throw error;
			// D1 refused the client's bookmark: begin again at the primary.
			this.#current = PRIMARY;
			this.#session = this.binding.withSession(PRIMARY);
			return work(this.#session);
		}
	};
}

/** What Drizzle sees as the D1 binding: statements prepared on the request's session when they run. */
class SessionBinding {
	constructor(private readonly run: Runner) {}
	prepare(query: string) {
		return new Statement(this.run, query);
	}
	batch<T>(statements: Statement[]) {
		return this.run((s) => s.batch<T>(statements.map((st) => st.on(s))));
	}
	exec(): never {
		throw new Error("exec is not available inside a D1 session");
	}
	withSession(): never {
		throw new Error("already a D1 session");
	}
	dump(): never {
		throw new Error("dump is not available inside a D1 session");
	}
}

export function openD1Session(binding: D1Database, start: string): D1Session {
	return new LazyD1Session(binding, start);
}

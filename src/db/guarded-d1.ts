/**
 * "Revoked means revoked" without an extra round trip: a D1 binding whose first query of the request runs in
 * one batch (one transaction) behind a guard statement. The guard fails the whole batch — with a SQL error, so
 * a write beside it never lands — when the guard's condition does not hold. Later queries run as usual.
 *
 * The guard's failure is a call to `json()` with text that is not JSON: SQLite raises "malformed JSON", which
 * no other statement of this code can raise (every JSON it passes is JSON.stringify's), so the error is ours.
 * (The text must depend on the lookup: a constant argument would be evaluated up front and always fail.)
 */
export interface Guard {
	/** A statement that selects 1 when the condition holds and raises "malformed JSON" otherwise. */
	sql: string;
	params: unknown[];
}

const GUARD_FAILED = /malformed JSON/i;

/** The error's message and its causes' (D1 wraps SQLite's message). */
function messagesOf(error: unknown): string {
	const parts: string[] = [];
	for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
		parts.push(String((e as Error).message ?? e));
	return parts.join(" | ");
}

/** Whether an error (or one of its causes: Drizzle wraps driver errors) is the guard's refusal. */
export function isGuardRefusal(error: unknown): boolean {
	for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
		if (e instanceof GuardRefused) return true;
	return false;
}

class GuardRefused extends Error {
	constructor() {
		super("guard refused");
		this.name = "GuardRefused";
	}
}

export interface GuardedD1 {
	d1: D1Database;
	/** Whether a query has already run behind the guard (then the guard held). */
	readonly checked: boolean;
	/** Runs the guard alone when no query did (a route that never touched D1); false when it does not hold. */
	checkNow(): Promise<boolean>;
}

export function guardedD1(inner: D1Database, guard: Guard): GuardedD1 {
	let checked = false;
	// Once refused, the answer is known: no second query to learn it again.
	let refused = false;
	const guardStatement = () => inner.prepare(guard.sql).bind(...guard.params);

	/** Runs `statements` behind the guard the first time, plainly afterwards. */
	async function batch<T>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
		if (checked) return inner.batch<T>(statements);
		try {
			const results = await inner.batch<T>([guardStatement(), ...statements]);
			checked = true;
			return results.slice(1);
		} catch (error) {
			if (GUARD_FAILED.test(messagesOf(error))) {
				refused = true;
				throw new GuardRefused();
			}
			throw error;
		}
	}

	const unwrap = new WeakMap<object, D1PreparedStatement>();

	function wrap(statement: D1PreparedStatement): D1PreparedStatement {
		const wrapped = {
			bind: (...values: unknown[]) => wrap(statement.bind(...values)),
			async run<T>() {
				return (await batch<T>([statement]))[0] as D1Result<T>;
			},
			async all<T>() {
				return (await batch<T>([statement]))[0] as D1Result<T>;
			},
			async first<T>(column?: string) {
				const row = ((await batch<Record<string, unknown>>([statement]))[0]?.results ?? [])[0];
				if (row === undefined) return null;
				return (column === undefined ? row : row[column]) as T;
			},
			// The same mapping Drizzle applies to batch results: a row's values in column order.
			async raw<T>(options?: { columnNames?: boolean }) {
				const result = (await batch<Record<string, unknown>>([statement]))[0];
				const rows = (result?.results ?? []).map((row) => Object.values(row));
				const columns = Object.keys(result?.results?.[0] ?? {});
				return (options?.columnNames ? [columns, ...rows] : rows) as T;
			},
		} as unknown as D1PreparedStatement;
		unwrap.set(wrapped, statement);
		return wrapped;
	}

	const d1 = {
		prepare: (query: string) => wrap(inner.prepare(query)),
		batch: <T>(statements: D1PreparedStatement[]) => batch<T>(statements.map((s) => unwrap.get(s) ?? s)),
		exec: (query: string) => inner.exec(query),
		dump: () => inner.dump(),
		withSession: () => {
			throw new Error("sessions are not used behind the guard");
		},
	} as unknown as D1Database;

	return {
		d1,
		get checked() {
			return checked;
		},
		async checkNow() {
			if (checked) return true;
			if (refused) return false;
			try {
				await batch([]);
				return true;
			} catch (error) {
				if (isGuardRefusal(error)) return false;
				throw error;
			}
		},
	};
}

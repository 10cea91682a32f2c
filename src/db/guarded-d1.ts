/**
 * "Revoked means revoked" without an extra round trip: a D1 binding whose first query of the request runs
 * behind a guard statement, in the same round trip. The guard fails the query — with a SQL error, so a write
 * beside it never lands — when the guard's condition does not hold. Later queries run as usual.
 *
 * How the guard rides along (measured with `npm run bench`: locally a D1 `batch` costs ~0.3 ms of CPU more than
 * one statement, a quarter of a one-row read):
 * - a plain read run in array mode (`raw()`, which is how Drizzle and compiled-select.ts run every select) is
 *   folded into ONE statement: `select guard, hit, t.* from (select guard) left join (select 1 hit, * from (read))`
 *   — the left join keeps one row when the read finds none, so the guard is evaluated either way;
 * - anything else (writes, object-mode reads, batches, a read whose SQL the fold cannot keep exact) runs in one
 *   batch (one transaction) behind the guard statement.
 *
 * The guard's failure is a call to `json()` with text that is not JSON: SQLite raises "malformed JSON", which
 * no other statement of this code can raise (every JSON it passes is JSON.stringify's), so the error is ours.
 * (The text must depend on the lookup: a constant argument would be evaluated up front and always fail.)
 */
export interface Guard {
	/**
	 * A statement that selects 1 when the condition holds and raises "malformed JSON" otherwise. Its parameters
	 * are numbered (`?1`, `?2`, …), never anonymous: a folded read's anonymous `?` then number on after them.
	 */
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

/** D1's limit of bound parameters per statement: the guard's count too once folded. */
const MAX_PARAMETERS = 100;

/**
 * The read as one statement with the guard in front — columns `[guard, hit, ...the read's]`, one row with a null
 * `hit` when the read finds nothing — or undefined when folding could change the read's answer:
 * - not a plain `select` (a write, a CTE, several statements);
 * - a parameter other than an anonymous `?` anywhere in the text: the guard's `?1`… come first, so the read's
 *   anonymous ones number on after them, which numbered or named ones would not (a false alarm inside a string
 *   literal only costs the batch); or more parameters than a statement may carry with the guard's;
 * - an ORDER BY at the top level: in SQL the rows of a subquery in FROM have no order of their own;
 * - a subquery (or table function) in the top-level FROM: inside the join SQLite may drop its ORDER BY, which
 *   alone it keeps. Subqueries elsewhere (select list, WHERE) keep their own scope and stay as they are.
 * Newlines close the read, so a trailing `--` comment cannot swallow what follows it.
 */
export function foldedRead(guard: Guard, readSql: string, readParameters: number): string | undefined {
	if (readParameters + guard.params.length > MAX_PARAMETERS) return undefined;
	let can = foldable.get(readSql);
	if (can === undefined) {
		can = canFold(readSql);
		// The app sends a few dozen distinct reads; the bound keeps a stream of distinct SQL from growing it.
		if (foldable.size < 1_000) foldable.set(readSql, can);
	}
	return can
		? `select guard_row.*, read_row.* from (${guard.sql}\n) guard_row left join (select 1 as "__hit", * from (${readSql}\n)) read_row on 1`
		: undefined;
}

// Whether a read SQL can be folded (the scan is the cost; the decision does not depend on the guard).
const foldable = new Map<string, boolean>();

const CLAUSE =
	/^(select|from|join|where|group|having|window|order|limit|offset|on|using|union|intersect|except|values)$/i;

function canFold(sql: string): boolean {
	if (!/^\s*select\b/i.test(sql) || /\?\d|[:@$][A-Za-z_]/.test(sql)) return false;
	const scan = scanTopLevel(sql);
	return scan !== undefined && !scan.fromSubquery && !/\border\s+by\b/i.test(scan.top) && !scan.top.includes(";");
}

/**
 * The SQL outside every parenthesis, string literal, quoted name and comment (each left as a space) — where a
 * clause of the statement itself can be — and whether a parenthesis opens in its FROM clause; undefined when the
 * text does not close what it opens.
 */
function scanTopLevel(sql: string): { top: string; fromSubquery: boolean } | undefined {
	let depth = 0;
	let top = "";
	let clause = "";
	let fromSubquery = false;
	for (let i = 0; i < sql.length; i++) {
		const ch = sql[i] as string;
		const close = ch === "'" || ch === '"' || ch === "`" ? ch : ch === "[" ? "]" : undefined;
		if (close !== undefined) {
			// A quote inside is doubled ('it''s'): the scan resumes after the pair, as a new literal.
			const end = sql.indexOf(close, i + 1);
			if (end < 0) return undefined;
			i = end;
		} else if (sql.startsWith("--", i)) {
			const end = sql.indexOf("\n", i);
			i = end < 0 ? sql.length : end;
		} else if (sql.startsWith("/*", i)) {
			const end = sql.indexOf("*/", i + 2);
			if (end < 0) return undefined;
			i = end + 1;
		} else if (ch === "(") {
			if (depth === 0 && (clause === "from" || clause === "join")) fromSubquery = true;
			depth++;
		} else if (ch === ")") {
			if (--depth < 0) return undefined;
		} else if (depth === 0) {
			const word = /^[A-Za-z_]\w*/.exec(sql.slice(i, i + 16))?.[0];
			if (word !== undefined && !/\w/.test(sql[i - 1] ?? "")) {
				if (CLAUSE.test(word)) clause = word.toLowerCase();
				top += sql.slice(i, i + word.length);
				i += word.length - 1;
				continue;
			}
			top += ch;
			continue;
		}
		if (depth === 0) top += " ";
	}
	return depth === 0 ? { top, fromSubquery } : undefined;
}

export function guardedD1(inner: D1Database, guard: Guard): GuardedD1 {
	let checked = false;
	// Once refused, the answer is known: no second query to learn it again.
	let refused = false;
	const guardStatement = () => inner.prepare(guard.sql).bind(...guard.params);

	/** Runs the first query behind the guard: a refusal becomes GuardRefused, and a success marks it checked. */
	async function firstBehindGuard<T>(run: () => Promise<T>): Promise<T> {
		try {
			const result = await run();
			checked = true;
			return result;
		} catch (error) {
			if (GUARD_FAILED.test(messagesOf(error))) {
				refused = true;
				throw new GuardRefused();
			}
			throw error;
		}
	}

	/** Runs `statements` in one batch behind the guard the first time, plainly afterwards. */
	async function batch<T>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
		if (checked) return inner.batch<T>(statements);
		const results = await firstBehindGuard(() => inner.batch<T>([guardStatement(), ...statements]));
		return results.slice(1);
	}

	const unwrap = new WeakMap<object, D1PreparedStatement>();

	// Once the guard held, a statement runs as itself: a batch of one costs more and maps rows through objects.
	function wrap(statement: D1PreparedStatement, sql: string, values: unknown[]): D1PreparedStatement {
		const wrapped = {
			bind: (...bound: unknown[]) => wrap(statement.bind(...bound), sql, bound),
			async run<T>() {
				if (checked) return statement.run<T>();
				return (await batch<T>([statement]))[0] as D1Result<T>;
			},
			async all<T>() {
				if (checked) return statement.all<T>();
				return (await batch<T>([statement]))[0] as D1Result<T>;
			},
			async first<T>(column?: string) {
				if (checked) return column === undefined ? statement.first<T>() : statement.first<T>(column);
				const row = ((await batch<Record<string, unknown>>([statement]))[0]?.results ?? [])[0];
				if (row === undefined) return null;
				return (column === undefined ? row : row[column]) as T;
			},
			async raw<T>(options?: { columnNames?: boolean }) {
				if (checked) return options?.columnNames ? statement.raw<T>({ columnNames: true }) : statement.raw<T>();
				const folded = options?.columnNames ? undefined : foldedRead(guard, sql, values.length);
				if (folded !== undefined) {
					const rows = await firstBehindGuard(() =>
						inner
							.prepare(folded)
							.bind(...guard.params, ...values)
							.raw<unknown[]>(),
					);
					return rows.filter((row) => row[1] !== null).map((row) => row.slice(2)) as T;
				}
				// The same mapping Drizzle applies to batch results: a row's values in column order.
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
		prepare: (query: string) => wrap(inner.prepare(query), query, []),
		batch: <T>(statements: D1PreparedStatement[]) => batch<T>(statements.map((s) => unwrap.get(s) ?? s)),
		// Neither can run behind the guard (exec takes raw text, dump is no query): refused, so no path skips it.
		exec: () => {
			throw new Error("exec is not used behind the guard");
		},
		dump: () => {
			throw new Error("dump is not used behind the guard");
		},
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

/**
 * The bench's one instrument inside workerd: wraps a Worker's `env.DB` and `env.RATE_LIMITER` so every D1 round
 * trip and every rate-limiter Durable Object call is counted (and, in --far mode, delayed), and answers
 * `GET /__bench/stats` with the counts. Never part of the deployed Worker: only the bench builds it in.
 *
 * Counting rules (D1 bills and travels per call, not per statement):
 * - one `run`/`all`/`first`/`raw` on a prepared statement, one `batch`, one `exec` = one round trip;
 * - on the plain binding every round trip goes to the primary;
 * - on `withSession(x)`: a write (any statement that is not a read) goes to the primary; a read goes to a
 *   replica, except the session's first round trip when `x` is "first-primary".
 */

/** Set by the bench through the BENCH_INSTRUMENT binding (JSON); all zero outside --far. */
interface Delays {
	primaryMs: number;
	replicaMs: number;
	doMs: number;
}

/** Requests started and finished (settled) by the handler, and what they did. */
const counts = { started: 0, finished: 0, primary: 0, replica: 0, statements: 0, durableObjectCalls: 0 };

const wait = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

const READ = /^\s*(?:--[^\n]*\n\s*)*(?:select|pragma|explain)\b/i;
const WITH_READ = /^\s*with\b/i;
const WRITE_WORD = /\b(?:insert|update|delete|replace)\b/i;
// The app sends the same few dozen statements again and again: each is classified once (the instrument's own CPU
// counts in the app's figures, so it stays small).
const reads = new Map<string, boolean>();
function isRead(sql: string): boolean {
	let read = reads.get(sql);
	if (read === undefined) {
		read = READ.test(sql) || (WITH_READ.test(sql) && !WRITE_WORD.test(sql));
		if (reads.size < 10_000) reads.set(sql, read);
	}
	return read;
}

interface Route {
	/** Whether the next round trip of this binding or session is a write-free read that a replica may serve. */
	target(read: boolean): "primary" | "replica";
}

const PRIMARY_ONLY: Route = { target: () => "primary" };

function sessionRoute(constraintOrBookmark: string | undefined): Route {
	let first = true;
	return {
		target(read) {
			const firstPrimary = first && constraintOrBookmark === "first-primary";
			first = false;
			return read && !firstPrimary ? "replica" : "primary";
		},
	};
}

function instrumentD1<T extends D1Database | D1DatabaseSession>(inner: T, route: Route, delays: Delays): T {
	const sqlOf = new WeakMap<object, string>();
	const unwrap = new WeakMap<object, D1PreparedStatement>();

	async function roundTrip<R>(sqls: string[], call: () => Promise<R>): Promise<R> {
		const target = route.target(sqls.every(isRead));
		counts[target] += 1;
		counts.statements += sqls.length;
		await wait(target === "primary" ? delays.primaryMs : delays.replicaMs);
		return call();
	}

	function wrapStatement(statement: D1PreparedStatement, sql: string): D1PreparedStatement {
		const wrapped = {
			bind: (...values: unknown[]) => wrapStatement(statement.bind(...values), sql),
			first: (column?: string) =>
				roundTrip([sql], () => (column === undefined ? statement.first() : statement.first(column))),
			run: () => roundTrip([sql], () => statement.run()),
			all: () => roundTrip([sql], () => statement.all()),
			raw: (options?: { columnNames?: boolean }) =>
				roundTrip([sql], () =>
					options?.columnNames ? statement.raw({ columnNames: true }) : statement.raw(options as undefined),
				),
		} as unknown as D1PreparedStatement;
		sqlOf.set(wrapped, sql);
		unwrap.set(wrapped, statement);
		return wrapped;
	}

	const base = {
		prepare: (query: string) => wrapStatement(inner.prepare(query), query),
		batch: (statements: D1PreparedStatement[]) =>
			roundTrip(
				statements.map((s) => sqlOf.get(s) ?? ""),
				() => inner.batch(statements.map((s) => unwrap.get(s) ?? s)),
			),
	};
	if ("withSession" in inner) {
		const db = inner as D1Database;
		return {
			...base,
			exec: (query: string) => roundTrip([query], () => db.exec(query)),
			dump: () => db.dump(),
			withSession: (constraintOrBookmark?: string) =>
				instrumentD1(db.withSession(constraintOrBookmark), sessionRoute(constraintOrBookmark), delays),
		} as unknown as T;
	}
	const session = inner as D1DatabaseSession;
	return { ...base, getBookmark: () => session.getBookmark() } as unknown as T;
}

/** A Durable Object stub whose every method call (RPC or fetch) is counted and delayed. */
function instrumentStub<S extends object>(stub: S, delays: Delays): S {
	return new Proxy(stub, {
		get(target, prop) {
			const value = Reflect.get(target, prop);
			// Awaiting a stub must not treat it as a thenable (workerd's own stubs answer undefined here too).
			if (prop === "then" || typeof value !== "function" || prop === "id" || prop === "name") return value;
			return async (...args: unknown[]) => {
				counts.durableObjectCalls += 1;
				await wait(delays.doMs);
				// Reflect.apply: an RPC method is a callable proxy whose `.apply` would be a remote method named "apply".
				return Reflect.apply(value, target, args);
			};
		},
	});
}

function instrumentNamespace<N extends object>(namespace: N, delays: Delays): N {
	return new Proxy(namespace, {
		get(target, prop) {
			const value = Reflect.get(target, prop);
			if (typeof value !== "function") return value;
			if (prop === "get" || prop === "getByName")
				return (...args: unknown[]) =>
					instrumentStub((value as (...a: unknown[]) => object).apply(target, args), delays);
			return (...args: unknown[]) => Reflect.apply(value, target, args);
		},
	});
}

function parseDelays(raw: unknown): Delays {
	const parsed = typeof raw === "string" && raw ? (JSON.parse(raw) as Partial<Delays>) : {};
	return { primaryMs: parsed.primaryMs ?? 0, replicaMs: parsed.replicaMs ?? 0, doMs: parsed.doMs ?? 0 };
}

type BenchEnv = { DB?: D1Database; RATE_LIMITER?: object; BENCH_INSTRUMENT?: string };

/** One wrapped env per real env: the app caches its parsed config by env identity. */
const wrappedEnvs = new WeakMap<object, object>();
function wrapEnv<E extends object>(env: E): E {
	let wrapped = wrappedEnvs.get(env);
	if (!wrapped) {
		const { BENCH_INSTRUMENT, ...rest } = env as BenchEnv;
		const delays = parseDelays(BENCH_INSTRUMENT);
		wrapped = {
			...rest,
			...(rest.DB ? { DB: instrumentD1(rest.DB, PRIMARY_ONLY, delays) } : {}),
			...(rest.RATE_LIMITER ? { RATE_LIMITER: instrumentNamespace(rest.RATE_LIMITER, delays) } : {}),
		};
		wrappedEnvs.set(env, wrapped);
	}
	return wrapped as E;
}

type FetchHandler<E> = (request: Request, env: E, ctx: ExecutionContext) => Response | Promise<Response>;

/** The handler, counted: `GET /__bench/stats` answers the counts since the isolate started. */
export function instrument<E extends object>(handler: FetchHandler<E>): FetchHandler<E> {
	return async (request, env, ctx) => {
		if (new URL(request.url).pathname === "/__bench/stats") return Response.json(counts);
		counts.started += 1;
		try {
			return await handler(request, wrapEnv(env), ctx);
		} finally {
			counts.finished += 1;
		}
	};
}

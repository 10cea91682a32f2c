/** The database as the tests see it: a Drizzle client, rows read back, and a counter of round trips. */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { createDb } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import { NO_REQUEST } from "../../src/services/deps.ts";

export const db = () => createDb(env.DB);

/** What a service function needs when a test calls it directly: the database, no request around it. */
export const serviceDeps = () => ({ db: db(), request: NO_REQUEST });

export async function userRow(id: number) {
	return db().select().from(users).where(eq(users.id, id)).get();
}

/**
 * Counts D1 round trips: every call that reaches the database (a batch is one), through the binding or through a
 * session it opened (`withSession`, which the app uses for every request). `sessions` records each session's start
 * constraint, `queries` the start of the session every round trip ran in, `statements` every statement a round
 * trip carried (its SQL and bound parameters: for EXPLAIN QUERY PLAN).
 */
export function countingD1(d1: D1Database) {
	const counter = {
		count: 0,
		sessions: [] as string[],
		queries: [] as { start: string; sql: string }[],
		statements: [] as { sql: string; params: unknown[] }[],
	};
	const paramsOf = new WeakMap<object, unknown[]>();
	const wrapStatement = (statement: D1PreparedStatement, start: string, sql: string): D1PreparedStatement => {
		const wrapped: D1PreparedStatement = new Proxy(statement, {
			get(target, prop) {
				const value = Reflect.get(target, prop, target);
				if (typeof value !== "function") return value;
				if (prop === "bind")
					return (...args: unknown[]) => {
						const bound = wrapStatement(value.apply(target, args), start, sql);
						paramsOf.set(bound, args);
						sqlOf.set(bound, sql);
						return bound;
					};
				if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
					return (...args: unknown[]) => {
						counter.count += 1;
						counter.queries.push({ start, sql });
						counter.statements.push({ sql, params: paramsOf.get(wrapped) ?? [] });
						return value.apply(target, args);
					};
				}
				return value.bind(target);
			},
		});
		return wrapped;
	};
	const sqlOf = new WeakMap<object, string>();
	const wrapDatabase = <T extends object>(db: T, start: string): T =>
		new Proxy(db, {
			get(target, prop) {
				// biome-ignore lint/suspicious/noExplicitAny: a binding's or session's methods, forwarded as they are
				const value: any = Reflect.get(target, prop, target);
				if (prop === "prepare")
					return (sql: string) => {
						const statement = wrapStatement(value.call(target, sql), start, sql);
						sqlOf.set(statement, sql);
						return statement;
					};
				if (prop === "withSession")
					return (constraint?: string) => {
						const label = constraint ?? "first-unconstrained";
						counter.sessions.push(label);
						return wrapDatabase(value.call(target, constraint), label);
					};
				if (prop === "batch") {
					return (statements: D1PreparedStatement[]) => {
						counter.count += 1;
						counter.queries.push({ start, sql: statements.map((st) => sqlOf.get(st) ?? "?").join(";\n") });
						for (const st of statements)
							counter.statements.push({ sql: sqlOf.get(st) ?? "?", params: paramsOf.get(st) ?? [] });
						// D1 accepts the proxies: they forward to its own statement objects.
						return value.call(target, statements);
					};
				}
				if (prop === "exec") {
					return (sql: string) => {
						counter.count += 1;
						counter.queries.push({ start, sql });
						return value.call(target, sql);
					};
				}
				return typeof value === "function" ? value.bind(target) : value;
			},
		});
	return { d1: wrapDatabase(d1, "binding"), counter };
}

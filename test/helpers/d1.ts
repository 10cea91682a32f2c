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

/** Counts D1 round trips: every call that reaches the database (a batch is one). */
export function countingD1(d1: D1Database) {
	const counter = { count: 0 };
	const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement =>
		new Proxy(statement, {
			get(target, prop) {
				const value = Reflect.get(target, prop, target);
				if (typeof value !== "function") return value;
				if (prop === "bind") return (...args: unknown[]) => wrapStatement(value.apply(target, args));
				if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
					return (...args: unknown[]) => {
						counter.count += 1;
						return value.apply(target, args);
					};
				}
				return value.bind(target);
			},
		});
	const wrapped = new Proxy(d1, {
		get(target, prop) {
			const value = Reflect.get(target, prop, target);
			if (prop === "prepare") return (sql: string) => wrapStatement(value.call(target, sql));
			if (prop === "batch") {
				return (statements: D1PreparedStatement[]) => {
					counter.count += 1;
					// Unwrap: D1 needs its own statement objects.
					return value.call(target, statements);
				};
			}
			if (prop === "exec") {
				return (sql: string) => {
					counter.count += 1;
					return value.call(target, sql);
				};
			}
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
	return { d1: wrapped, counter };
}

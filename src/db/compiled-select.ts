import { fillPlaceholders } from "drizzle-orm";
import type { Db } from "./client.ts";

/**
 * A Drizzle select rendered to SQL once per isolate, then run on each request's database with its placeholders
 * filled. Rendering is the expensive part of a small read: for `GET /user/profile`, Drizzle's building of the
 * user-record select (a dozen SQL fragments) was a quarter of the isolate's CPU (`npm run bench -- --profile`).
 *
 * For plain selects only: the row comes back as `raw()` arrays, named by `fields` in selection order, with no
 * driver-value mapping — right for columns and `sql` fields whose values SQLite returns as they are (integers,
 * text, nulls), which is every column this is used with (`compiled-select.test.ts` compares it with Drizzle's own
 * result).
 */
export function compiledSelect<Row extends Record<string, unknown>>(
	render: () => { toSQL(): { sql: string; params: unknown[] } },
	fields: readonly (keyof Row & string)[],
) {
	let compiled: { sql: string; params: unknown[] } | undefined;
	return async (db: Db, values: Record<string, unknown>): Promise<Row | undefined> => {
		compiled ??= render().toSQL();
		const rows = await db.$client
			.prepare(compiled.sql)
			.bind(...fillPlaceholders(compiled.params, values))
			.raw<unknown[]>();
		const row = rows[0];
		if (row === undefined) return undefined;
		const record: Record<string, unknown> = {};
		for (let i = 0; i < fields.length; i++) record[fields[i] as string] = row[i];
		return record as Row;
	};
}

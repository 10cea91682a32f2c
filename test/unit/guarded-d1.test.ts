import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { foldedRead, type Guard, guardedD1, isGuardRefusal } from "../../src/db/guarded-d1.ts";
import { countingD1 } from "../helpers/d1.ts";
import { createUser } from "../helpers/factories.ts";
import { unique } from "../helpers/unique.ts";

/**
 * The guard a Bearer request's first query runs behind (db/guarded-d1.ts), with a guard the test switches: the
 * same shape as services/session-guard.ts (numbered parameters, "malformed JSON" when it does not hold).
 */
function switchGuard(holds: boolean, userId = 0): Guard {
	return {
		sql: "select json(case when ?1 = 1 and exists (select 1 from users where id = ?2) then '1' else 'ended' end)",
		params: [holds ? 1 : 0, userId],
	};
}

async function guarded(holds: boolean) {
	const user = await createUser(); // the guard's lookup finds a row
	const { d1, counter } = countingD1(env.DB);
	const guard = guardedD1(d1, switchGuard(holds, user.id));
	return { guard, counter };
}

async function rejection(promise: Promise<unknown>) {
	try {
		await promise;
	} catch (error) {
		return error;
	}
	throw new Error("expected a rejection");
}

describe("the first read folded behind the guard (raw(): Drizzle's selects, compiled-select.ts)", () => {
	it("answers exactly what the read alone answers — rows, none, several, repeated column names — in one statement", async () => {
		const a = await createUser({ firstName: unique("A") });
		const b = await createUser({ firstName: unique("B") });
		const reads: [string, unknown[]][] = [
			["select id, email, first_name from users where id = ?", [a.id]],
			["select id, email from users where id = ?", [-1]],
			["select id from users where id in (?, ?) and email like ?", [a.id, b.id, "%@%"]],
			// A join selecting `id` twice: array mode keeps both, in place.
			["select u.id, v.id, u.email from users u join users v on v.id = ? where u.id = ?", [b.id, a.id]],
			// A literal that looks like a clause stays a literal.
			[
				"select id, 'x) order by (x' as note, (select count(*) from users where id = ?) from users where id = ?",
				[a.id, a.id],
			],
			["select max(id) from users where id < ?", [-5]],
		];
		for (const [sql, params] of reads) {
			const expected = await env.DB.prepare(sql)
				.bind(...params)
				.raw();
			const { guard, counter } = await guarded(true);
			const rows = await guard.d1
				.prepare(sql)
				.bind(...params)
				.raw();
			expect(rows, sql).toStrictEqual(expected);
			expect(guard.checked).toBe(true);
			expect(counter.count, "one round trip, one statement").toBe(1);
			expect(counter.statements[0]?.sql, sql).toContain("guard_row");
		}
	});

	it("refuses when the guard does not hold, whether or not the read finds a row", async () => {
		for (const id of [1, -1]) {
			const { guard, counter } = await guarded(false);
			const error = await rejection(guard.d1.prepare("select id from users where id = ?").bind(id).raw());
			expect(isGuardRefusal(error)).toBe(true);
			expect(guard.checked).toBe(false);
			expect(await guard.checkNow(), "the refusal is remembered").toBe(false);
			expect(counter.count).toBe(1);
		}
	});

	it("a write is never folded: it runs in the guard's batch, and a refusal leaves nothing written", async () => {
		const user = await createUser();
		const { guard, counter } = await guarded(false);
		const error = await rejection(
			guard.d1.prepare("update users set first_name = ? where id = ?").bind("Written", user.id).run(),
		);
		expect(isGuardRefusal(error)).toBe(true);
		expect(counter.statements.map((s) => s.sql)).not.toContain(expect.stringContaining("guard_row"));
		const row = await env.DB.prepare("select first_name from users where id = ?").bind(user.id).first("first_name");
		expect(row).not.toBe("Written");
	});

	it("after the guard held, each statement runs as itself (no batch of one)", async () => {
		const user = await createUser();
		const { guard, counter } = await guarded(true);
		await guard.d1.prepare("select id from users where id = ?").bind(user.id).raw();
		const first = await guard.d1.prepare("select id, email from users where id = ?").bind(user.id).first();
		expect(first).toStrictEqual({ id: user.id, email: user.email });
		expect(await guard.d1.prepare("select email from users where id = ?").bind(user.id).first("email")).toBe(
			user.email,
		);
		expect(counter.statements.slice(1).map((s) => s.sql)).toStrictEqual([
			"select id, email from users where id = ?",
			"select email from users where id = ?",
		]);
	});
});

describe("foldedRead: only where the fold keeps the read's answer exact", () => {
	const guard = switchGuard(true);
	it.each([
		["a write", "update users set first_name = ? where id = ?"],
		["a CTE", "with x as (select 1) select * from x"],
		["a numbered parameter", "select id from users where id = ?1"],
		["a named parameter", "select id from users where id = :id"],
		["a top-level ORDER BY", "select id from users where id > ? order by id desc"],
		["a top-level ORDER BY after a subquery", "select id, (select 1) from users ORDER\nBY id"],
		// Inside the join SQLite drops a FROM subquery's ORDER BY that it keeps when the read runs alone.
		["a subquery in FROM", "select id from (select id from users order by id desc)"],
		["a subquery joined in FROM", "select u.id from users u join (select id from users order by id) v on v.id = u.id"],
		["a table function in FROM", "select value from json_each(?)"],
		["two statements", "select 1; select 2"],
		["an unclosed parenthesis", "select (1 from users"],
		["an unclosed literal", "select 'x from users"],
	])("not %s", (_, sql) => {
		expect(foldedRead(guard, sql, 1)).toBeUndefined();
	});

	it.each([
		[
			"an ORDER BY inside a scalar subquery",
			"select (select group_concat(id) from (select id from users order by id)) from users where id = ?",
		],
		["an ORDER BY inside a literal", "select 'order by' from users where id = ?"],
		["a subquery in WHERE", "select id from users where id in (select user_id from sessions where id = ?)"],
		["a long name before FROM", "select subscription_periods_x.id from_date from users where id = ?"],
		["a plain select", "  SELECT id FROM users WHERE id = ? LIMIT 1"],
	])("but %s", (_, sql) => {
		expect(foldedRead(guard, sql, 1)).toContain(sql);
	});

	it("not when the guard's parameters and the read's would pass D1's 100 per statement", () => {
		const sql = "select id from users where id = ?";
		expect(foldedRead(guard, sql, 100 - guard.params.length)).toBeDefined();
		expect(foldedRead(guard, sql, 101 - guard.params.length)).toBeUndefined();
	});
});

describe("folded reads that the review found fragile", () => {
	it("nothing runs around the guard: exec, dump and withSession are refused", async () => {
		const { guard, counter } = await guarded(false);
		expect(() => guard.d1.exec("update users set first_name = 'x'")).toThrow(/not used behind the guard/);
		expect(() => guard.d1.dump()).toThrow(/not used behind the guard/);
		expect(() => guard.d1.withSession("first-primary")).toThrow(/not used behind the guard/);
		expect(counter.count).toBe(0);
	});

	it("a read ending in a line comment still answers", async () => {
		const { guard } = await guarded(true);
		expect(await guard.d1.prepare("select 1 -- the end").raw()).toStrictEqual([[1]]);
	});

	it("a read runs folded while it and the guard carry at most 100 parameters, in the batch beyond, and answers either way", async () => {
		const user = await createUser();
		for (const count of [97, 98, 99]) {
			const { guard, counter } = await guarded(true);
			const ids = [user.id, ...Array<number>(count - 1).fill(-1)];
			const rows = await guard.d1
				.prepare(`select id from users where id in (${ids.map(() => "?").join(", ")})`)
				.bind(...ids)
				.raw();
			expect(rows, `${count} parameters`).toStrictEqual([[user.id]]);
			expect(counter.statements[0]?.sql.includes("guard_row"), `${count} parameters`).toBe(count <= 98);
		}
	});
});

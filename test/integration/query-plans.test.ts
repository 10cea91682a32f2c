import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { issueOneTimeToken } from "../../src/services/one-time-tokens.ts";
import { countingD1, db } from "../helpers/d1.ts";
import { createModule, createUser, ildLogin, kc7Login, PASSWORD, userWithToken } from "../helpers/factories.ts";
import { bearer, sendWith } from "../helpers/http.ts";
import { deviceSession } from "../helpers/requests.ts";
import { uniqueIp } from "../helpers/unique.ts";

/**
 * Scale: every statement the hot paths send (sign-in on both surfaces, refresh, the Bearer reads and their
 * revocation check, user lookups, login links, profile updates) is captured as sent, with its parameters, and
 * SQLite's EXPLAIN QUERY PLAN must find each table it touches through an index or its key: a full scan of a
 * table that grows with the users would make the 100,000th user slower than the first (`npm run bench -- --scale`
 * measures the same paths at 1,000 and 100,000 users).
 */

/**
 * Scans that are fine: tables that do not grow with users, SQLite's own temporary structures, a subquery's
 * materialized result (one user's rows: how the subquery reaches its table is a line of the plan of its own), and
 * the one row of the session guard a first read is folded behind (db/guarded-d1.ts).
 */
const SCAN_ALLOWED =
	/^SCAN (modules|communities|community_categories|json_each|CONSTANT ROW|guard_row$|\(subquery-\d+\))/;

interface PlanRow {
	detail: string;
}

async function scansIn(statements: { sql: string; params: unknown[] }[]): Promise<string[]> {
	const problems: string[] = [];
	for (const { sql, params } of statements) {
		if (!/^\s*(select|insert|update|delete|with)/i.test(sql)) continue;
		const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
			.bind(...params)
			.all<PlanRow>();
		for (const { detail } of plan.results) {
			if (/^SCAN /.test(detail) && !SCAN_ALLOWED.test(detail)) problems.push(`${detail}\n    in: ${sql.slice(0, 300)}`);
		}
	}
	return problems;
}

async function statementsOf(path: string, init: RequestInit = {}) {
	const { d1, counter } = countingD1(env.DB);
	const res = await sendWith({ DB: d1 }, path, init);
	expect(res.status, `${init.method ?? "GET"} ${path}`).toBeLessThan(500);
	return counter.statements;
}

const json = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
	method,
	headers: { "Content-Type": "application/json", "CF-Connecting-IP": uniqueIp(), ...headers },
	body: JSON.stringify(body),
});

describe("hot paths use indexes (EXPLAIN QUERY PLAN)", () => {
	it("no statement of a hot path scans a table that grows with users", async () => {
		const user = await createUser();
		const { user: admin, token: adminToken } = await userWithToken(["Admin"]);
		const { refresh } = await ildLogin(user.email);
		const session = await deviceSession(user.id);
		const link = await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId: user.id });
		const module = await createModule();
		await kc7Login(user.username as string);
		const paths: [string, RequestInit][] = [
			["/sign/login", json("POST", { email: user.email, password: PASSWORD })],
			["/api/auth", json("POST", { username: user.username, password: PASSWORD })],
			["/api/auth", json("POST", { username: user.email, password: PASSWORD })],
			["/sign/login", json("POST", { email: "nobody@example.com", password: PASSWORD })],
			["/sign/refresh", { headers: { Cookie: `refresh_token=${refresh}` } }],
			["/sign/check", { headers: bearer(session.token) }],
			["/api/users/me", { headers: bearer(session.token) }],
			["/user/profile", { headers: bearer(session.token) }],
			[`/api/users/${user.username}`, { headers: bearer(session.token) }],
			[`/api/users/${user.id}`, { headers: bearer(session.token) }],
			[`/api/users/email/${encodeURIComponent(user.email)}`, { headers: bearer(adminToken) }],
			[`/api/users/${user.id}/modules`, { headers: bearer(session.token) }],
			[`/api/users/${user.id}/modules/${module.id}`, json("PUT", { score: 1 }, bearer(adminToken))],
			["/user/profile", json("PUT", { firstName: "Planned" }, bearer(session.token))],
			["/user/sessions", { headers: bearer(session.token) }],
			["/user/security-events", { headers: bearer(session.token) }],
			[`/user/${user.id}`, { headers: bearer(adminToken) }],
			[`/auth/token-login?token=${link.token}`, {}],
			["/sign/reset", json("POST", { email: user.email })],
			["/api/modules", {}],
			["/communities", {}],
			[`/user/profile/${admin.id}`, {}],
		];
		const problems: string[] = [];
		let statements = 0;
		for (const [path, init] of paths) {
			const sent = await statementsOf(path, init);
			statements += sent.length;
			problems.push(...(await scansIn(sent)).map((p) => `${init.method ?? "GET"} ${path}: ${p}`));
		}
		expect(statements).toBeGreaterThan(30);
		expect(problems, problems.join("\n")).toEqual([]);
	});

	it("the check itself sees a scan (so it can fail)", async () => {
		const problems = await scansIn([{ sql: "select id from users where first_name = ?", params: ["x"] }]);
		expect(problems).toHaveLength(1);
		expect(problems[0]).toMatch(/^SCAN users/);
	});
});

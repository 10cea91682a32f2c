/**
 * The bench's accounts: registered through the API (so their hashes are the app's own), then marked verified
 * (and given usernames or roles) in D1; sign-ins for tokens and refresh cookies; and, for --scale, many more
 * users inserted straight into D1 reusing one of those hashes.
 */
import { randomBytes } from "node:crypto";
import { refreshCookieOf } from "./load.ts";
import type { D1Like } from "./server.ts";

export const PASSWORD = `Bench-${randomBytes(12).toString("base64url")}`;

export interface Account {
	id: number;
	email: string;
	username: string;
}

export interface SignedIn {
	token: string;
	cookie: string;
	/** X-D1-Bookmark of the answer, when the app sends one. */
	bookmark: string | null;
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
	return fetch(`${url}${path}`, {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body: JSON.stringify(body),
	});
}

/** `count` accounts bench-<i>@bench.test (username bench_<i>), verified. */
export async function registerAccounts(url: string, db: D1Like, count: number, prefix = "bench"): Promise<Account[]> {
	const accounts: Account[] = [];
	for (let i = 0; i < count; i++) {
		const email = `${prefix}-${i}@bench.test`;
		const res = await post(url, "/sign/register", {
			email,
			password: PASSWORD,
			firstName: "Bench",
			lastName: `User ${i}`,
		});
		if (res.status !== 201) throw new Error(`POST /sign/register → ${res.status} ${await res.text()}`);
		const username = `${prefix}_${i}`;
		await db
			.prepare("UPDATE users SET email_verified_at = ?, username = ? WHERE email = ?")
			.bind(Date.now(), username, email)
			.run();
		const row = await db.prepare("SELECT id FROM users WHERE email = ?").bind(email).first<{ id: number }>();
		if (!row) throw new Error(`${email} was registered but is not in D1`);
		accounts.push({ id: row.id, email, username });
	}
	return accounts;
}

export async function grantRole(db: D1Like, account: Account, role: "Admin" | "Manager" | "API") {
	await db.prepare("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?, ?)").bind(account.id, role).run();
}

export async function signIn(url: string, email: string): Promise<SignedIn> {
	const res = await post(url, "/sign/login", { email, password: PASSWORD });
	const text = await res.text();
	if (res.status !== 200) throw new Error(`POST /sign/login → ${res.status} ${text}`);
	const cookie = refreshCookieOf(res.headers.getSetCookie());
	if (!cookie) throw new Error("POST /sign/login set no refresh_token cookie");
	return { token: (JSON.parse(text) as { token: string }).token, cookie, bookmark: res.headers.get("x-d1-bookmark") };
}

const ROWS_PER_STATEMENT = 10_000;

/**
 * Users scale-<n>@bench.test (username scale_<n>) for n in [from, to], verified, all with `passwordHash` (so
 * each signs in with PASSWORD). One statement per 10,000 rows, generated inside SQLite: 4 bound parameters each.
 */
export async function insertScaleUsers(db: D1Like, from: number, to: number, passwordHash: string) {
	const now = Date.now();
	for (let start = from; start <= to; start += ROWS_PER_STATEMENT) {
		const end = Math.min(to, start + ROWS_PER_STATEMENT - 1);
		await db
			.prepare(
				`WITH RECURSIVE seq(n) AS (SELECT CAST(?1 AS INTEGER) UNION ALL SELECT n + 1 FROM seq WHERE n < CAST(?2 AS INTEGER))
INSERT INTO users (email, username, password_hash, first_name, last_name, email_verified_at, created_at, updated_at)
SELECT 'scale-' || n || '@bench.test', 'scale_' || n, ?3, 'Scale', 'User ' || n, ?4, ?4, ?4 FROM seq`,
			)
			.bind(start, end, passwordHash, now)
			.run();
	}
}

export async function passwordHashOf(db: D1Like, account: Account): Promise<string> {
	const row = await db
		.prepare("SELECT password_hash AS hash FROM users WHERE id = ?")
		.bind(account.id)
		.first<{ hash: string }>();
	if (!row?.hash) throw new Error(`no password hash for ${account.email}`);
	return row.hash;
}

export async function userCount(db: D1Like): Promise<number> {
	return (await db.prepare("SELECT count(*) AS n FROM users").first<{ n: number }>())?.n ?? 0;
}

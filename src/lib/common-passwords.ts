import { staticAsset } from "./static-assets.ts";

/**
 * The common passwords `passwordProblem` refuses: `assets/common-passwords.txt` (written by
 * src/scripts/common-passwords.ts — the 10,000 most common, lower-case, those of 8–256 code points), one per line.
 * A static asset rather than part of the bundle: few requests check a new password, and every isolate would
 * otherwise load the list at start-up. The first such request of an isolate reads it; the Set then lives as long
 * as the isolate (the assets never change under a running version).
 */
export const COMMON_PASSWORDS_FILE = "/common-passwords.txt";

let list: Promise<ReadonlySet<string>> | undefined;

/** The list, read once per isolate. A failed read is not kept, and fails the request: never a check without it. */
export function commonPasswords(assets: Fetcher): Promise<ReadonlySet<string>> {
	if (list === undefined) {
		const reading = staticAsset(assets, COMMON_PASSWORDS_FILE).then(parseCommonPasswords);
		reading.catch(() => {
			if (list === reading) list = undefined;
		});
		list = reading;
	}
	return list;
}

/** The file's words; refuses a file too short to be the list. */
export function parseCommonPasswords(text: string): ReadonlySet<string> {
	const words = new Set(text.split("\n").filter((word) => word !== ""));
	// A truncated or wrong file must not quietly weaken the rule.
	if (words.size < 3000) throw new Error(`${COMMON_PASSWORDS_FILE}: ${words.size} words, expected over 3,000`);
	return words;
}

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EXPECTED_WORDS } from "../../src/lib/common-passwords.ts";
import { commonPasswords, DEFAULT_COUNT, LIST_FILE, renderList } from "../../src/scripts/common-passwords.ts";

// Runs in Node: the vendored denylist (a static asset the Worker reads) must be exactly what its generator makes from
// the pinned source list, so nobody edits it by hand and a dependency bump that changes the list shows up here.
describe("assets/common-passwords.txt", () => {
	it("is the generator's output for the top 10,000 of the pinned list", () => {
		expect(readFileSync(LIST_FILE, "utf8")).toBe(renderList(DEFAULT_COUNT));
	});

	it("holds the list's well-known leaders and nothing the length rule refuses anyway", () => {
		const words = commonPasswords();
		// The count the Worker's loader insists on (it refuses a shorter file as not the list).
		expect(words.length).toBe(EXPECTED_WORDS);
		expect(words).toContain("password");
		expect(words).toContain("12345678");
		expect(words.every((w) => [...w].length >= 8 && w === w.toLowerCase() && !w.includes("\n"))).toBe(true);
	});
});

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { commonPasswords, DEFAULT_COUNT, renderModule } from "../../src/scripts/common-passwords.ts";

// Runs in Node: the vendored denylist must be exactly what its generator makes from the pinned source list, so
// nobody edits it by hand and a dependency bump that changes the list shows up here.
const vendored = fileURLToPath(new URL("../../src/lib/common-passwords.ts", import.meta.url).href);

describe("src/lib/common-passwords.ts", () => {
	it("is the generator's output for the top 10,000 of the pinned list", () => {
		expect(readFileSync(vendored, "utf8")).toBe(renderModule(DEFAULT_COUNT));
	});

	it("holds the list's well-known leaders and nothing the length rule refuses anyway", () => {
		const words = commonPasswords();
		expect(words).toContain("password");
		expect(words).toContain("12345678");
		expect(words.every((w) => [...w].length >= 8 && w === w.toLowerCase())).toBe(true);
	});
});

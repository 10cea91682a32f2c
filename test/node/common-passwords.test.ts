import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { COMMON_PASSWORDS } from "../../src/lib/common-passwords.ts";
import { decodeFrontCoded, encodeFrontCoded } from "../../src/lib/front-coding.ts";
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

describe("front coding (the vendored list's format)", () => {
	it("decodes the vendored list to exactly the generator's words", () => {
		expect(new Set(decodeFrontCoded(COMMON_PASSWORDS))).toEqual(new Set(commonPasswords()));
		expect(decodeFrontCoded(COMMON_PASSWORDS)).toHaveLength(commonPasswords().length);
	});

	it("round-trips sorted, deduplicated words: shared prefixes past 35, non-BMP text, one-character words", () => {
		const long = "x".repeat(50);
		const words = [`${long}a`, `${long}b`, "😀😀smile", "😀😁smile", "a", "ab", "b", "b", ""];
		expect(decodeFrontCoded(encodeFrontCoded(words))).toEqual([...new Set(words)].sort());
		expect(encodeFrontCoded([`${long}a`, `${long}b`]).split("\n")[1]).toBe(`z${"x".repeat(15)}b`);
	});

	it("refuses a malformed list rather than guessing", () => {
		expect(() => decodeFrontCoded("0abc\n5de")).toThrow(/malformed/);
		expect(() => decodeFrontCoded("0abc\n!de")).toThrow(/malformed/);
		expect(() => encodeFrontCoded(["a\nb"])).toThrow(/newline/);
	});
});

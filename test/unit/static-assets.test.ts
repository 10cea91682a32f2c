import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { COMMON_PASSWORDS_FILE, EXPECTED_WORDS, parseCommonPasswords } from "../../src/lib/common-passwords.ts";
import { staticAsset } from "../../src/lib/static-assets.ts";

/** A stand-in ASSETS binding that counts its reads and answers with `status`. */
function countingAssets(status: number, body = "text") {
	const reads: string[] = [];
	const assets = {
		fetch: async (input: RequestInfo | URL) => {
			reads.push(new URL(input instanceof Request ? input.url : input).pathname);
			return new Response(status === 200 ? body : "no", { status });
		},
	} as unknown as Fetcher;
	return { assets, reads };
}

describe("static assets (the ASSETS binding)", () => {
	it("reads a file once per isolate and keeps it", async () => {
		const { assets, reads } = countingAssets(200, "kept");
		expect(await staticAsset(assets, "/unit/kept.txt")).toBe("kept");
		expect(await staticAsset(assets, "/unit/kept.txt")).toBe("kept");
		expect(reads).toEqual(["/unit/kept.txt"]);
	});

	it("never shares a read in progress between requests (it could die with its request): concurrent first uses each read", async () => {
		const { assets, reads } = countingAssets(200, "twice");
		expect(
			await Promise.all([staticAsset(assets, "/unit/concurrent.txt"), staticAsset(assets, "/unit/concurrent.txt")]),
		).toEqual(["twice", "twice"]);
		expect(reads).toEqual(["/unit/concurrent.txt", "/unit/concurrent.txt"]);
		await staticAsset(assets, "/unit/concurrent.txt");
		expect(reads).toHaveLength(2);
	});

	it("fails clearly on a missing file and does not keep the failure: the next use reads again", async () => {
		const { assets, reads } = countingAssets(404);
		await expect(staticAsset(assets, "/unit/missing.txt")).rejects.toThrow(/static asset \/unit\/missing\.txt: 404/);
		await expect(staticAsset(assets, "/unit/missing.txt")).rejects.toThrow(/404/);
		expect(reads).toEqual(["/unit/missing.txt", "/unit/missing.txt"]);
	});

	it("serves the deployed files through the real binding", async () => {
		expect(await staticAsset(env.ASSETS, "/docs.html")).toMatch(/^<!doctype html>/);
		const words = parseCommonPasswords(await staticAsset(env.ASSETS, COMMON_PASSWORDS_FILE));
		expect(words.has("password")).toBe(true);
	});

	it("refuses a password list that is not the whole list, rather than checking against less", async () => {
		const real = await staticAsset(env.ASSETS, COMMON_PASSWORDS_FILE);
		expect(parseCommonPasswords(real).size).toBe(EXPECTED_WORDS);
		expect(() => parseCommonPasswords("password\n12345678\n")).toThrow(/2 words, not the list/);
		const lines = real.split("\n");
		expect(() => parseCommonPasswords(lines.slice(0, -100).join("\n"))).toThrow(/not the list/);
		// Windows line ends (a checkout with core.autocrlf) still give the words the check compares.
		const crlf = parseCommonPasswords(real.replaceAll("\n", "\r\n"));
		expect(crlf.size).toBe(EXPECTED_WORDS);
		expect([...crlf].some((word) => word.includes("\r"))).toBe(false);
	});
});

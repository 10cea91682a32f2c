import { describe, expect, it } from "vitest";
import {
	hashPassword,
	PBKDF2_MAX_ITERATIONS,
	parsePasswordHash,
	parsePeppers,
	passwordProblem,
	verifyPassword,
} from "../../src/lib/password.ts";

const peppers = parsePeppers("p2:second-secret,p1:first-secret");

describe("password hashing", () => {
	it("stores a self-describing PBKDF2 hash at the production cap", async () => {
		const stored = await hashPassword("correct-horse-battery-staple", peppers);
		expect(stored).toMatch(/^pbkdf2-sha256\$i=100000\$p=p2\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
		const parsed = parsePasswordHash(stored);
		expect(parsed?.iterations).toBe(PBKDF2_MAX_ITERATIONS);
		expect(parsed?.salt).toHaveLength(16);
	});

	it("salts every hash", async () => {
		const [a, b] = await Promise.all([hashPassword("same password", peppers), hashPassword("same password", peppers)]);
		expect(a).not.toBe(b);
	});

	it("verifies the right password and rejects others", async () => {
		const stored = await hashPassword("pässwörd-ünïcode", peppers);
		expect(await verifyPassword("pässwörd-ünïcode", stored, peppers)).toEqual({ ok: true, needsRehash: false });
		expect((await verifyPassword("pässwörd-ünicode", stored, peppers)).ok).toBe(false);
		expect((await verifyPassword("", stored, peppers)).ok).toBe(false);
	});

	it("depends on the pepper: the same hash fails under another pepper secret", async () => {
		const stored = await hashPassword("correct-horse-battery-staple", peppers);
		const otherSecret = parsePeppers("p2:a-different-secret");
		expect((await verifyPassword("correct-horse-battery-staple", stored, otherSecret)).ok).toBe(false);
	});

	it("asks for a rehash when the hash used an older pepper or fewer iterations", async () => {
		const old = await hashPassword("correct-horse-battery-staple", parsePeppers("p1:first-secret"));
		expect(await verifyPassword("correct-horse-battery-staple", old, peppers)).toEqual({ ok: true, needsRehash: true });
		const weaker = old.replace("i=100000", "i=1000");
		// Same salt/hash under fewer iterations does not verify: parameters are part of the hash.
		expect((await verifyPassword("correct-horse-battery-staple", weaker, peppers)).ok).toBe(false);
	});

	it("rejects malformed or over-cap stored hashes without throwing", async () => {
		for (const stored of ["", "plain", "pbkdf2-sha256$i=200000$p=p2$AAAA$AAAA", "bcrypt$…", null]) {
			expect((await verifyPassword("whatever-password", stored, peppers)).ok).toBe(false);
		}
	});

	it("emulates production's PBKDF2 cap: more than 100,000 iterations throws", async () => {
		const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("x"), "PBKDF2", false, ["deriveBits"]);
		const params = (iterations: number) => ({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(16), iterations });
		await expect(crypto.subtle.deriveBits(params(PBKDF2_MAX_ITERATIONS + 1), key, 256)).rejects.toThrow(/100000/);
		await expect(crypto.subtle.deriveBits(params(PBKDF2_MAX_ITERATIONS), key, 256)).resolves.toBeInstanceOf(
			ArrayBuffer,
		);
	});

	it("counts length in code points and refuses the email as password", () => {
		expect(passwordProblem("😀😀😀😀😀😀😀")).toMatch(/at least 8/); // 7 code points, 14 UTF-16 units
		expect(passwordProblem("😀😀😀😀😀😀😀😀")).toBeNull();
		expect(passwordProblem("x".repeat(256))).toBeNull();
		expect(passwordProblem("x".repeat(257))).toMatch(/at most 256/);
		expect(passwordProblem("User@Example.com", "user@example.com")).toMatch(/email/);
	});

	it("parses pepper lists and refuses empty ones", () => {
		expect(parsePeppers("a:1, b:2")).toEqual([
			{ id: "a", secret: "1" },
			{ id: "b", secret: "2" },
		]);
		expect(() => parsePeppers("")).toThrow();
		expect(() => parsePeppers("nocolon")).toThrow();
	});
});

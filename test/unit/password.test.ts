import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { commonPasswords } from "../../src/lib/common-passwords.ts";
import {
	hashPassword,
	PBKDF2_MAX_ITERATIONS,
	parsePasswordHash,
	parsePeppers,
	passwordProblem,
	verifyPassword,
} from "../../src/lib/password.ts";

const peppers = parsePeppers("p2:second-secret,p1:first-secret");

// The list as the Worker reads it: the static asset, through the ASSETS binding.
let common: ReadonlySet<string>;
beforeAll(async () => {
	common = await commonPasswords(env.ASSETS);
});
/** The rules for an account with neither email nor username given. */
const problem = (password: string, account = {}) => passwordProblem(password, account, common);

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
		expect(problem("😀😀😀😀😀😀😀")).toMatch(/at least 8/); // 7 code points, 14 UTF-16 units
		expect(problem("😀😀😀😀😀😀😀😀")).toBeNull();
		expect(problem("x".repeat(256))).toBeNull();
		expect(problem("x".repeat(257))).toMatch(/at most 256/);
		expect(problem("User@Example.com", { email: "user@example.com" })).toMatch(/email/);
	});

	it("refuses the 10,000 most common passwords, whole and in any case or compatibility form", () => {
		// Of the top 10,000, those within the length rule (shorter ones already fail by length).
		expect(common.size).toBeGreaterThan(3000);
		for (const word of ["password", "Password123", "QWERTYUIOP", " iloveyou ", "trustno1", "11111111"])
			expect(problem(word), word).toBe("Password is too common");
		expect(problem("ｐａｓｓｗｏｒｄ")).toBe("Password is too common"); // full-width letters (NFKC)
		// Only a whole match counts: a passphrase containing a common word is fine.
		expect(problem("my password is a long sentence")).toBeNull();
		expect(problem("password-but-longer-and-mine")).toBeNull();
	});

	it("refuses the account's own email, its local part and its username", () => {
		const account = { email: "Jane.Doe.77@example.com", username: "jane_the_tester" };
		expect(problem("jane.doe.77@example.com", account)).toBe("Password must not equal the email");
		expect(problem("JANE.DOE.77", account)).toBe("Password must not equal the email");
		expect(problem("Jane_The_Tester", account)).toBe("Password must not equal the username");
		expect(problem("jane.doe.77 plus more", account)).toBeNull();
		expect(problem("jane.doe.77", { email: "someone.else@example.com" })).toBeNull();
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

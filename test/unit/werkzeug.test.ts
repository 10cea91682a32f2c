import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
	inspectWerkzeugHash,
	isWerkzeugHash,
	verifyWerkzeugHash,
	type WerkzeugFormat,
	type WerkzeugRefusal,
	werkzeugKdf,
} from "../../src/lib/werkzeug.ts";
import fixtureFile from "../fixtures/werkzeug/fixtures.json";

// test/fixtures/werkzeug/fixtures.json comes from test/fixtures/werkzeug/generate.py: hashes made by Werkzeug's
// generate_password_hash (or built as its security.py computes them) and checked with Werkzeug's own
// check_password_hash in every release at hand, which the file records per fixture.

type WerkzeugAnswer = boolean | string;
interface Fixture {
	id: string;
	format: string;
	password: string;
	wrongPassword?: string;
	hash: string;
	expect: "ok" | "refused";
	refusal?: WerkzeugRefusal;
	werkzeug: Record<string, { password: WerkzeugAnswer; wrongPassword?: WerkzeugAnswer }>;
}

const fixtures = fixtureFile.fixtures as Fixture[];
const accepted = fixtures.filter((f) => f.expect === "ok");
const refused = fixtures.filter((f) => f.expect === "refused");
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = (text: string) => new TextEncoder().encode(text);
// Lone UTF-16 surrogates, built at run time: in the source they could not travel as UTF-8 to the Workers pool.
const HIGH_SURROGATE = String.fromCharCode(0xd800);
const LOW_SURROGATE = String.fromCharCode(0xdc00);

/** Counts every key derivation verifyWerkzeugHash starts (they all go through werkzeugKdf). */
function countDerivations(options: { skipWork?: boolean } = {}) {
	const spies = [
		vi.spyOn(werkzeugKdf, "pbkdf2"),
		vi.spyOn(werkzeugKdf, "scrypt"),
		vi.spyOn(werkzeugKdf, "hmacSha256"),
	] as const;
	// A stand-in result (matching no digest used with it): a hash at the limit is shown to be computed without the
	// cost, and a broken bound fails its test at once instead of computing for minutes.
	if (options.skipWork) for (const spy of spies) spy.mockReturnValue(new Uint8Array(64).fill(0xff));
	return {
		pbkdf2: spies[0],
		scrypt: spies[1],
		total: () => spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0),
	};
}

afterEach(() => {
	vi.restoreAllMocks();
});

function splitStored(stored: string) {
	const first = stored.indexOf("$");
	const second = stored.indexOf("$", first + 1);
	return { method: stored.slice(0, first), salt: stored.slice(first + 1, second), digest: stored.slice(second + 1) };
}

/** Another valid salt: the first code point replaced. */
function tamperSalt(stored: string): string {
	const { method, salt, digest } = splitStored(stored);
	const [head = "", ...rest] = [...salt];
	return `${method}$${head === "A" ? "B" : "A"}${rest.join("")}$${digest}`;
}

/** Another valid digest: the last hex digit changed. */
function tamperDigest(stored: string): string {
	const { method, salt, digest } = splitStored(stored);
	return `${method}$${salt}$${digest.slice(0, -1)}${digest.endsWith("0") ? "1" : "0"}`;
}

/** Costly enough that its time per verify inside workerd is worth a log line. */
function isCostly(stored: string): boolean {
	const { method } = splitStored(stored);
	return /^pbkdf2:sha256:(2|6)\d{5}$/.test(method) || method === "scrypt:32768:8:1";
}

describe("the fixtures", () => {
	it("cover every accepted format, each confirmed by a real Werkzeug release", () => {
		expect(new Set(accepted.map((f) => f.format))).toEqual(
			new Set<WerkzeugFormat>(["pbkdf2:sha1", "pbkdf2:sha256", "pbkdf2:sha512", "scrypt", "sha256"]),
		);
		expect(fixtureFile.werkzeugReleases.length).toBeGreaterThanOrEqual(2);
		for (const fixture of accepted) {
			const answers = Object.values(fixture.werkzeug);
			expect(answers, fixture.id).toContainEqual({ password: true, wrongPassword: false });
			expect(
				answers.filter((a) => a.password === false || a.wrongPassword === true),
				fixture.id,
			).toEqual([]);
		}
		for (const method of ["pbkdf2:sha256:260000", "pbkdf2:sha256:600000", "scrypt:32768:8:1"])
			expect(
				accepted.some((f) => f.hash.startsWith(`${method}$`)),
				method,
			).toBe(true);
	});
});

describe("verifyWerkzeugHash on Werkzeug's hashes", () => {
	for (const fixture of accepted) {
		it(`${fixture.id}: the password verifies; a wrong one, a tampered salt and a tampered digest do not`, async () => {
			const format = fixture.format as WerkzeugFormat;
			const started = performance.now();
			expect(await verifyWerkzeugHash(fixture.password, fixture.hash)).toEqual({ ok: true, format });
			const elapsed = performance.now() - started;
			// No timing assertion, only a record. scrypt runs @noble/hashes, which vitest's module runner slows several
			// times over; src/scripts/bench-werkzeug.ts has the figures for a bundled Worker.
			if (isCostly(fixture.hash))
				console.log(`werkzeug: ${splitStored(fixture.hash).method} ${elapsed.toFixed(0)} ms per verify in workerd`);
			expect(await verifyWerkzeugHash(fixture.wrongPassword ?? "", fixture.hash)).toEqual({ ok: false, format });
			expect(await verifyWerkzeugHash(fixture.password, tamperSalt(fixture.hash))).toEqual({ ok: false, format });
			expect(await verifyWerkzeugHash(fixture.password, tamperDigest(fixture.hash))).toEqual({ ok: false, format });
			expect(inspectWerkzeugHash(fixture.hash)).toEqual({ format });
			expect(isWerkzeugHash(fixture.hash)).toBe(true);
		});
	}
});

describe("refusing without computing", () => {
	it("counts derivations: an accepted hash makes exactly one", async () => {
		// The control for every `total()` of 0 below: the counter does see the work.
		const derivations = countDerivations();
		const cheap = accepted.find((f) => f.id === "pbkdf2-sha256-one-character") as Fixture;
		expect(await verifyWerkzeugHash(cheap.password, cheap.hash)).toEqual({ ok: true, format: "pbkdf2:sha256" });
		expect(derivations.total()).toBe(1);
	});

	for (const fixture of refused) {
		it(`${fixture.id} is refused as ${fixture.refusal}`, async () => {
			const derivations = countDerivations({ skipWork: true });
			expect(await verifyWerkzeugHash(fixture.password, fixture.hash)).toEqual({ refused: fixture.refusal });
			expect(inspectWerkzeugHash(fixture.hash)).toEqual({ refused: fixture.refusal });
			expect(derivations.total()).toBe(0);
			expect(isWerkzeugHash(fixture.hash)).toBe(true);
		});
	}

	const salt = "Cwe1RHtJ6yUN1tGo";
	const digest32 = "0".repeat(64);
	const digest64 = "0".repeat(128);
	/** `method$salt$digest` with a digest of the right length that no derivation below produces. */
	const withMethod = (method: string) => {
		const digestBytes = method.startsWith("pbkdf2:sha1:") ? 20 : method.startsWith("pbkdf2:sha256:") ? 32 : 64;
		return `${method}$${salt}$${"0".repeat(2 * digestBytes)}`;
	};
	it.each<[string, WerkzeugRefusal | "computed"]>([
		["pbkdf2:sha256:1000000", "computed"],
		["pbkdf2:sha256:1000001", "out-of-bounds"],
		["pbkdf2:sha1:1000000", "computed"],
		["pbkdf2:sha1:1000001", "out-of-bounds"],
		["pbkdf2:sha512:1000000", "computed"],
		["pbkdf2:sha512:1000001", "out-of-bounds"],
		["pbkdf2:sha256:99999999999999999999999999999", "out-of-bounds"],
		// scrypt: N·r·p ≤ 2^20 and 128·N·r ≤ 32 MiB
		["scrypt:32768:8:4", "computed"], // both exactly at the limit
		["scrypt:32768:8:5", "out-of-bounds"],
		["scrypt:65536:8:1", "out-of-bounds"], // 64 MiB
		["scrypt:131072:2:1", "computed"], // 32 MiB exactly
		["scrypt:262144:4:1", "out-of-bounds"], // 128 MiB
		["scrypt:262144:1:1", "malformed"], // 32 MiB, but OpenSSL (so Werkzeug) needs N < 2^(16·r)
		["scrypt:2:1:524288", "computed"], // within the contract's limits, however costly
		["scrypt:2:1:524289", "out-of-bounds"],
		["scrypt:1048576:1:1", "out-of-bounds"],
		["scrypt:1099511627776:8:1", "out-of-bounds"],
	])("%s at or past the limits: %s", async (method, expected) => {
		const stored = withMethod(method);
		const derivations = countDerivations({ skipWork: true });
		const result = await verifyWerkzeugHash("correct horse battery staple", stored);
		if (expected === "computed") {
			const { format } = inspectWerkzeugHash(stored) as { format: WerkzeugFormat };
			expect(result).toEqual({ ok: false, format });
			expect(derivations.total()).toBe(1);
		} else {
			expect(result).toEqual({ refused: expected });
			expect(derivations.total()).toBe(0);
		}
	});

	it("passes the parsed parameters to the derivation", async () => {
		const derivations = countDerivations({ skipWork: true });
		await verifyWerkzeugHash("pw", `pbkdf2:sha256:1000000$${salt}$${digest32}`);
		await verifyWerkzeugHash("pw", `scrypt:32768:8:4$sälz$${digest64}`);
		expect(derivations.pbkdf2).toHaveBeenCalledWith("sha256", utf8("pw"), utf8(salt), 1_000_000);
		expect(derivations.scrypt).toHaveBeenCalledWith(utf8("pw"), utf8("sälz"), 32768, 8, 4);
	});

	const valid = `pbkdf2:sha256:1000$${salt}$${digest32}`;
	it.each<[string, WerkzeugRefusal, string]>([
		["empty", "malformed", ""],
		["no separators", "malformed", "pbkdf2:sha256:260000"],
		["one separator", "malformed", `pbkdf2:sha256:260000$${salt}`],
		["only separators", "malformed", "$$"],
		["the identity core's own format", "malformed", `pbkdf2-sha256$i=100000$p=t1$${"A".repeat(22)}$${"A".repeat(43)}`],
		["unknown method", "malformed", `argon2$${salt}$${digest32}`],
		["iterations zero", "malformed", `pbkdf2:sha256:0$${salt}$${digest32}`],
		["iterations negative", "malformed", `pbkdf2:sha256:-1$${salt}$${digest32}`],
		["iterations with a leading zero", "malformed", `pbkdf2:sha256:0260000$${salt}$${digest32}`],
		["iterations with a space", "malformed", `pbkdf2:sha256: 260000$${salt}$${digest32}`],
		["iterations in exponent form", "malformed", `pbkdf2:sha256:1e5$${salt}$${digest32}`],
		["iterations with an underscore", "malformed", `pbkdf2:sha256:260_000$${salt}$${digest32}`],
		["iterations in other digits", "malformed", `pbkdf2:sha256:٢٦٠٠٠٠$${salt}$${digest32}`],
		["iterations empty", "malformed", `pbkdf2:sha256:$${salt}$${digest32}`],
		["too many pbkdf2 arguments", "malformed", `pbkdf2:sha256:1000:1$${salt}$${digest32}`],
		["pbkdf2 with another digest", "unsupported", `pbkdf2:sha224:1000$${salt}$${"0".repeat(56)}`],
		["pbkdf2 with an upper-case digest name", "unsupported", `pbkdf2:SHA256:1000$${salt}$${digest32}`],
		["pbkdf2 without arguments", "unsupported", `pbkdf2$${salt}$${digest32}`],
		["scrypt with two arguments", "malformed", `scrypt:32768:8$${salt}$${digest64}`],
		["scrypt with four arguments", "malformed", `scrypt:32768:8:1:1$${salt}$${digest64}`],
		["scrypt N not a power of two", "malformed", `scrypt:3000:8:1$${salt}$${digest64}`],
		["scrypt N = 1", "malformed", `scrypt:1:8:1$${salt}$${digest64}`],
		["scrypt r = 0", "malformed", `scrypt:1024:0:1$${salt}$${digest64}`],
		["scrypt p = 0", "malformed", `scrypt:1024:8:0$${salt}$${digest64}`],
		["plain", "unsupported", "plain$$correct horse battery staple"],
		["legacy sha1", "unsupported", `sha1$${salt}$${"0".repeat(40)}`],
		["empty salt", "unsupported", `pbkdf2:sha256:1000$$${digest32}`],
		["salt with a lone surrogate", "malformed", `pbkdf2:sha256:1000$ab${HIGH_SURROGATE}$${digest32}`],
		["salt over 256 bytes", "out-of-bounds", `pbkdf2:sha256:1000$${"s".repeat(257)}$${digest32}`],
		["stored hash over 1,024 characters", "out-of-bounds", `${valid}${"0".repeat(1024)}`],
		["a megabyte of text", "out-of-bounds", "$".repeat(1_000_000)],
		["digest too short", "malformed", valid.slice(0, -2)],
		["digest too long", "malformed", `${valid}00`],
		["digest in upper case", "malformed", valid.replace(/0+$/, "A".repeat(64))],
		["digest not hex", "malformed", valid.replace(/0+$/, "g".repeat(64))],
		["digest with a separator", "malformed", `${valid.slice(0, -2)}$0`],
		["digest with spaces", "malformed", `${valid.slice(0, -2)} 0`],
		["sha512 digest for sha256", "malformed", `pbkdf2:sha256:1000$${salt}$${digest64}`],
		["legacy digest of the wrong length", "malformed", `sha256$${salt}$${"0".repeat(40)}`],
	])("%s is refused as %s, never thrown, nothing computed", async (_name, refusal, stored) => {
		const derivations = countDerivations({ skipWork: true });
		await expect(verifyWerkzeugHash("correct horse battery staple", stored)).resolves.toEqual({ refused: refusal });
		expect(inspectWerkzeugHash(stored)).toEqual({ refused: refusal });
		expect(derivations.total()).toBe(0);
	});

	it.each([
		["a lone surrogate", `pass${HIGH_SURROGATE}word`],
		["a reversed surrogate pair", `pass${LOW_SURROGATE}${HIGH_SURROGATE}word`],
		["1,028 UTF-8 bytes (257 four-byte code points)", "🔑".repeat(257)],
		["1,025 ASCII characters", "a".repeat(1025)],
		["a megabyte", "a".repeat(1_000_000)],
	])("a password with %s is refused before any work", async (_name, password) => {
		const derivations = countDerivations({ skipWork: true });
		const stored = accepted.find((f) => f.id === "pbkdf2-sha256-one-character")?.hash as string;
		expect(await verifyWerkzeugHash(password, stored)).toEqual({ refused: "invalid-password" });
		expect(derivations.total()).toBe(0);
	});
});

describe("isWerkzeugHash", () => {
	it.each([
		["pbkdf2:sha256:260000$salt$00", true],
		["pbkdf2:sha256$salt$00", true],
		["pbkdf2$salt$00", true],
		["scrypt:32768:8:1$salt$00", true],
		["scrypt$salt$00", true],
		["sha256$salt$00", true],
		["md5$salt$00", true],
		["plain$$password", true],
		[`pbkdf2-sha256$i=100000$p=t1$${"A".repeat(22)}$${"A".repeat(43)}`, false],
		["pbkdf2:sha256:260000$salt", false],
		["pbkdf2:sha256:260000", false],
		["argon2$salt$00", false],
		["", false],
		["$$", false],
	])("%s → %s", (stored, expected) => {
		expect(isWerkzeugHash(stored)).toBe(expected);
	});
});

describe("the specialised PBKDF2-HMAC-SHA256", () => {
	it("matches RFC 7914's PBKDF2-HMAC-SHA256 vectors (first 32-byte block)", () => {
		expect(hex(werkzeugKdf.pbkdf2("sha256", utf8("passwd"), utf8("salt"), 1))).toBe(
			"55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
		);
		expect(hex(werkzeugKdf.pbkdf2("sha256", utf8("Password"), utf8("NaCl"), 80000))).toBe(
			"4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56",
		);
		expect(hex(werkzeugKdf.pbkdf2("sha256", utf8("password"), utf8("salt"), 4096))).toBe(
			"c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
		);
	});

	it("matches @noble/hashes' pbkdf2 across HMAC key and salt block boundaries", () => {
		const random = (length: number) => crypto.getRandomValues(new Uint8Array(length));
		for (const passwordLength of [0, 1, 31, 32, 63, 64, 65, 127, 128, 129, 300]) {
			for (const saltLength of [0, 1, 16, 51, 52, 55, 56, 59, 60, 64, 119, 120, 200]) {
				const password = random(passwordLength);
				const salt = random(saltLength);
				for (const iterations of [1, 2, 3, 64]) {
					const expected = pbkdf2(sha256, password, salt, { c: iterations, dkLen: 32 });
					expect(hex(werkzeugKdf.pbkdf2("sha256", password, salt, iterations)), `${passwordLength}/${saltLength}`).toBe(
						hex(expected),
					);
				}
			}
		}
	});
});

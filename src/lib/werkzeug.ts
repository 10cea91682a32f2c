import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { scrypt } from "@noble/hashes/scrypt.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { constantTimeEqual } from "./encoding.ts";

/**
 * KC7's legacy Werkzeug password hashes (CONTRACT.md, "Migrating KC7 accounts (v2)"), verified byte-exact with
 * Werkzeug's `check_password_hash`:
 *
 *   pbkdf2:<sha1|sha256|sha512>:<iterations>$<salt>$<hex>   iterations 1..1,000,000
 *   scrypt:<N>:<r>:<p>$<salt>$<hex>                        N·r·p ≤ 2^20, 128·N·r ≤ 32 MiB, 64-byte key
 *   sha256$<salt>$<hex>                                    legacy: HMAC-SHA256(key = salt, message = password)
 *
 * As in Werkzeug, the salt is the UTF-8 bytes of the salt text (never base64-decoded), the password is its UTF-8
 * bytes (no normalisation), and the derived key is as long as the digest (PBKDF2) or 64 bytes (scrypt).
 *
 * Anything else is refused without computing anything: parameters beyond the limits, forms the contract does not
 * list (`pbkdf2:sha256$…` without iterations, whose meaning changed between Werkzeug releases — 150,000 in 1.0,
 * 260,000 in 2.0, 600,000 in 2.3, 1,000,000 in 3.1 —, bare `scrypt$…`, `md5$…`, `plain$…`), an empty salt (Werkzeug never generates one, and 2.x
 * refuses it for PBKDF2), parameters Werkzeug itself cannot compute (scrypt's N not a power of two, N ≥ 2^(16·r),
 * or over the `maxmem` Werkzeug passes to OpenSSL), a digest that is not lowercase hex of the right length (it can
 * never equal Werkzeug's `.hex()`), and text that is not valid Unicode (Python's `str.encode()` raises on it).
 *
 * Cost: production Workers cap Web Crypto PBKDF2 — and node:crypto's pbkdf2, which goes through the same check —
 * at 100,000 iterations, so PBKDF2 runs in JavaScript here. PBKDF2-HMAC-SHA256, KC7's format, uses the
 * specialised loop below (in workerd about 3× faster than @noble/hashes' generic pbkdf2, ~0.2 s at 260,000
 * iterations); SHA-1, SHA-512 and scrypt use @noble/hashes. The work is synchronous CPU time (see
 * `src/scripts/bench-werkzeug.ts`). Note that N·r·p does not bound scrypt's cost on its own: a large p within the
 * limits (scrypt:2:1:524288) has PBKDF2 produce and consume 128·r·p = 64 MiB, about 10 s of CPU.
 */

export type WerkzeugFormat = "pbkdf2:sha1" | "pbkdf2:sha256" | "pbkdf2:sha512" | "scrypt" | "sha256";

/**
 * Why a hash (or the password offered for it) is not computed:
 * - `malformed`: not `method$salt$hex`, bad numbers or digest, or parameters Werkzeug itself cannot compute;
 * - `unsupported`: a Werkzeug form the contract does not accept (see above);
 * - `out-of-bounds`: parameters or lengths beyond the limits;
 * - `invalid-password`: the password is not valid Unicode or is longer than any accepted password.
 */
export type WerkzeugRefusal = "malformed" | "unsupported" | "out-of-bounds" | "invalid-password";

export type WerkzeugVerifyResult = { ok: boolean; format: WerkzeugFormat } | { refused: WerkzeugRefusal };

/** Contract: PBKDF2 at any iteration count up to 1,000,000. */
const WERKZEUG_MAX_PBKDF2_ITERATIONS = 1_000_000;
/** Contract: scrypt with N·r·p ≤ 2^20 … */
const WERKZEUG_MAX_SCRYPT_COST = 2 ** 20;
/** … and 128·N·r ≤ 32 MiB. */
const WERKZEUG_MAX_SCRYPT_MEMORY = 32 * 1024 * 1024;
/** Passwords are at most 256 code points (contract), so at most 1,024 UTF-8 bytes. */
const WERKZEUG_MAX_PASSWORD_BYTES = 1024;
/** Werkzeug's salts are 16 characters by default (8 before 2.0); anything near this is not a Werkzeug hash. */
const MAX_SALT_BYTES = 256;
/** `pbkdf2:sha512:1000000` + salt + 128 hex digits fits comfortably. */
const MAX_STORED_LENGTH = 1024;

const SCRYPT_KEY_BYTES = 64;
const PBKDF2_DIGEST_BYTES = { sha1: 20, sha256: 32, sha512: 64 } as const;
type Pbkdf2Hash = keyof typeof PBKDF2_DIGEST_BYTES;

type WerkzeugMethod =
	| { format: `pbkdf2:${Pbkdf2Hash}`; hash: Pbkdf2Hash; iterations: number }
	| { format: "scrypt"; n: number; r: number; p: number }
	| { format: "sha256" };
type ParsedWerkzeugHash = WerkzeugMethod & { salt: Uint8Array; digest: Uint8Array };
type Refused = { refused: WerkzeugRefusal };

const LEGACY_METHODS = new Set(["plain", "md5", "sha1", "sha224", "sha256", "sha384", "sha512"]);
const encoder = new TextEncoder();

/**
 * Whether `stored` is in Werkzeug's `method$salt$hash` layout with a method Werkzeug knows (pbkdf2, scrypt or a
 * legacy hashlib name) — also when its parameters are refused. The identity core's own format
 * (`pbkdf2-sha256$i=…`) is not.
 */
export function isWerkzeugHash(stored: string): boolean {
	const first = stored.indexOf("$");
	if (first < 0 || stored.indexOf("$", first + 1) < 0) return false;
	const method = stored.slice(0, first);
	return /^(pbkdf2|scrypt)(:|$)/.test(method) || LEGACY_METHODS.has(method);
}

/** Parses and bounds-checks a stored hash without computing anything: what it is, or why it is refused. */
export function inspectWerkzeugHash(stored: string): { format: WerkzeugFormat } | Refused {
	const parsed = parseWerkzeugHash(stored);
	return "refused" in parsed ? parsed : { format: parsed.format };
}

/**
 * Checks `password` against a stored Werkzeug hash: `{ok, format}` when it was computed, `{refused}` when the hash
 * (or the password) is refused, in which case nothing was computed. Never throws on user data.
 */
export async function verifyWerkzeugHash(password: string, stored: string): Promise<WerkzeugVerifyResult> {
	const parsed = parseWerkzeugHash(stored);
	if ("refused" in parsed) return parsed;
	// Lone surrogates: Python's str.encode() raises, so Werkzeug can match no such password.
	if (password.length > WERKZEUG_MAX_PASSWORD_BYTES || !password.isWellFormed()) return { refused: "invalid-password" };
	const secret = encoder.encode(password);
	if (secret.length > WERKZEUG_MAX_PASSWORD_BYTES) return { refused: "invalid-password" };
	let derived: Uint8Array;
	switch (parsed.format) {
		case "sha256":
			derived = werkzeugKdf.hmacSha256(parsed.salt, secret);
			break;
		case "scrypt":
			derived = werkzeugKdf.scrypt(secret, parsed.salt, parsed.n, parsed.r, parsed.p);
			break;
		default:
			derived = werkzeugKdf.pbkdf2(parsed.hash, secret, parsed.salt, parsed.iterations);
	}
	return { ok: constantTimeEqual(derived, parsed.digest), format: parsed.format };
}

/**
 * The key derivations, called through this object so that tests can count calls (refused hashes must reach none)
 * and the benchmark can time them. Each returns the raw bytes Werkzeug hex-encodes.
 */
export const werkzeugKdf = {
	pbkdf2(hash: Pbkdf2Hash, password: Uint8Array, salt: Uint8Array, iterations: number): Uint8Array {
		if (hash === "sha256") return pbkdf2HmacSha256(password, salt, iterations);
		return pbkdf2(hash === "sha1" ? sha1 : sha512, password, salt, { c: iterations, dkLen: PBKDF2_DIGEST_BYTES[hash] });
	},
	scrypt(password: Uint8Array, salt: Uint8Array, n: number, r: number, p: number): Uint8Array {
		// Within the bounds, noble's working set 128·r·(N + p + 1) is at most 32 MiB for V plus 64 MiB for B (N = 2,
		// p = 2^19), under its default maxmem of 1 GiB.
		return scrypt(password, salt, { N: n, r, p, dkLen: SCRYPT_KEY_BYTES });
	},
	hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
		return hmac(sha256, key, message);
	},
};

function parseWerkzeugHash(stored: string): ParsedWerkzeugHash | Refused {
	if (stored.length > MAX_STORED_LENGTH) return { refused: "out-of-bounds" };
	// Werkzeug: method, salt, hashval = pwhash.split("$", 2)
	const first = stored.indexOf("$");
	const second = first < 0 ? -1 : stored.indexOf("$", first + 1);
	if (second < 0) return { refused: "malformed" };
	const method = parseMethod(stored.slice(0, first));
	if ("refused" in method) return method;

	const saltText = stored.slice(first + 1, second);
	if (saltText === "") return { refused: "unsupported" };
	if (!saltText.isWellFormed()) return { refused: "malformed" };
	const salt = encoder.encode(saltText);
	if (salt.length > MAX_SALT_BYTES) return { refused: "out-of-bounds" };

	const digestBytes =
		method.format === "scrypt" ? SCRYPT_KEY_BYTES : method.format === "sha256" ? 32 : PBKDF2_DIGEST_BYTES[method.hash];
	const digest = fromLowerHex(stored.slice(second + 1), digestBytes);
	if (!digest) return { refused: "malformed" };
	return { ...method, salt, digest };
}

function parseMethod(method: string): WerkzeugMethod | Refused {
	const args = method.split(":");
	if (args[0] === "pbkdf2") {
		// Without an iteration count Werkzeug uses its release's default (150,000, 260,000, 600,000 or 1,000,000).
		if (args.length < 3) return { refused: "unsupported" };
		if (args.length > 3) return { refused: "malformed" };
		const hash = args[1];
		if (hash !== "sha1" && hash !== "sha256" && hash !== "sha512") return { refused: "unsupported" };
		const iterations = parseCount(args[2] ?? "", WERKZEUG_MAX_PBKDF2_ITERATIONS);
		if (typeof iterations === "string") return { refused: iterations };
		return { format: `pbkdf2:${hash}`, hash, iterations };
	}
	if (args[0] === "scrypt") {
		if (args.length === 1) return { refused: "unsupported" };
		if (args.length !== 4) return { refused: "malformed" };
		const counts = args.slice(1).map((arg) => parseCount(arg, WERKZEUG_MAX_SCRYPT_COST));
		if (counts.includes("malformed")) return { refused: "malformed" };
		const [n, r, p] = counts;
		if (typeof n !== "number" || typeof r !== "number" || typeof p !== "number") return { refused: "out-of-bounds" };
		if (n < 2 || (n & (n - 1)) !== 0) return { refused: "malformed" };
		if (n * r * p > WERKZEUG_MAX_SCRYPT_COST || 128 * n * r > WERKZEUG_MAX_SCRYPT_MEMORY)
			return { refused: "out-of-bounds" };
		if (!werkzeugCanScrypt(n, r, p)) return { refused: "malformed" };
		return { format: "scrypt", n, r, p };
	}
	if (method === "sha256") return { format: "sha256" };
	return { refused: LEGACY_METHODS.has(method) ? "unsupported" : "malformed" };
}

/** A canonical decimal count in 1..max; a larger one is out of bounds, anything else malformed. */
function parseCount(text: string, max: number): number | "malformed" | "out-of-bounds" {
	if (!/^[1-9][0-9]*$/.test(text)) return "malformed";
	if (text.length > String(max).length) return "out-of-bounds";
	const value = Number(text);
	return value > max ? "out-of-bounds" : value;
}

/**
 * Whether Werkzeug can compute scrypt with these parameters: it calls hashlib.scrypt with maxmem = 132·N·r·p, and
 * OpenSSL refuses N ≥ 2^(16·r) and a working set of 128·r·(N + 2) + 128·r·p bytes above maxmem.
 */
function werkzeugCanScrypt(n: number, r: number, p: number): boolean {
	if (16 * r <= 63 && n >= 2 ** (16 * r)) return false;
	return 128 * r * (n + 2) + 128 * r * p <= 132 * n * r * p;
}

function fromLowerHex(hex: string, bytes: number): Uint8Array | null {
	if (hex.length !== bytes * 2 || !/^[0-9a-f]*$/.test(hex)) return null;
	const out = new Uint8Array(bytes);
	for (let i = 0; i < bytes; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
	return out;
}

// ---------------------------------------------------------------------------------------------------------------
// PBKDF2-HMAC-SHA256 for one 32-byte block (Werkzeug's dklen), specialised: the HMAC key's inner and outer SHA-256
// states are computed once, and each iteration is then exactly two compressions of fixed-layout blocks with no
// allocation. U1 = HMAC(password, salt ‖ INT(1)) comes from @noble/hashes. Checked against @noble/hashes' pbkdf2,
// RFC 7914's PBKDF2-HMAC-SHA256 vectors and Werkzeug's own hashes in test/unit/werkzeug.test.ts.

const K = Int32Array.from([
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
	0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
	0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
]);
const IV = Int32Array.from([
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const SHA256_BLOCK_BYTES = 64;

function pbkdf2HmacSha256(password: Uint8Array, salt: Uint8Array, iterations: number): Uint8Array {
	const key = password.length > SHA256_BLOCK_BYTES ? sha256(password) : password;
	const inner = hmacKeyState(key, 0x36363636);
	const outer = hmacKeyState(key, 0x5c5c5c5c);
	const block = new Uint8Array(salt.length + 4);
	block.set(salt);
	block[salt.length + 3] = 1; // INT(1): one block of output
	const u1 = hmac(sha256, password, block);

	const u = new Int32Array(8);
	const t = new Int32Array(8);
	const w = new Int32Array(64);
	for (let i = 0; i < 8; i++) {
		u[i] = readWord(u1, 4 * i);
		t[i] = u[i] as number;
	}
	// U_i = H(outer ‖ H(inner ‖ U_{i-1})): each hashed message is 32 bytes after the 64-byte key block, so its last
	// block is those 8 words, the 0x80 marker, zeros and the bit length (64 + 32) · 8 = 768. compress() only writes
	// w[16..63], so the padding in w[8..15] is set once.
	w[8] = 0x80000000 | 0;
	w[15] = (SHA256_BLOCK_BYTES + 32) * 8;
	for (let iteration = 1; iteration < iterations; iteration++) {
		w.set(u);
		compress(inner, w, u);
		w.set(u);
		compress(outer, w, u);
		for (let i = 0; i < 8; i++) t[i] = (t[i] as number) ^ (u[i] as number);
	}
	const out = new Uint8Array(32);
	for (let i = 0; i < 8; i++) {
		const word = t[i] as number;
		out[4 * i] = word >>> 24;
		out[4 * i + 1] = word >>> 16;
		out[4 * i + 2] = word >>> 8;
		out[4 * i + 3] = word;
	}
	return out;
}

function readWord(bytes: Uint8Array, at: number): number {
	return (
		((bytes[at] as number) << 24) |
		((bytes[at + 1] as number) << 16) |
		((bytes[at + 2] as number) << 8) |
		(bytes[at + 3] as number)
	);
}

/** The SHA-256 state after compressing the 64-byte block key ⊕ pad (HMAC's inner or outer prefix). */
function hmacKeyState(key: Uint8Array, pad: number): Int32Array {
	const w = new Int32Array(64).fill(pad, 0, 16);
	for (let i = 0; i < key.length; i++) w[i >> 2] = (w[i >> 2] as number) ^ ((key[i] as number) << (24 - 8 * (i & 3)));
	const state = new Int32Array(8);
	compress(IV, w, state);
	return state;
}

/** One SHA-256 compression of the block in w[0..15] (w[16..63] is scratch) from `state` into `out`. */
function compress(state: Int32Array, w: Int32Array, out: Int32Array): void {
	for (let i = 16; i < 64; i++) {
		const w15 = w[i - 15] as number;
		const w2 = w[i - 2] as number;
		const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
		const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
		w[i] = (s1 + (w[i - 7] as number) + s0 + (w[i - 16] as number)) | 0;
	}
	let a = state[0] as number;
	let b = state[1] as number;
	let c = state[2] as number;
	let d = state[3] as number;
	let e = state[4] as number;
	let f = state[5] as number;
	let g = state[6] as number;
	let h = state[7] as number;
	// Eight rounds per pass with the variables' roles rotating instead of shifting them along. Each round:
	//   T1 = h + Σ1(e) + Ch(e,f,g) + K[i] + W[i];  d += T1;  h = T1 + Σ0(a) + Maj(a,b,c)
	// biome-ignore format: one round per pair of lines reads like the specification
	for (let i = 0; i < 64; i += 8) {
		h = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + (K[i] as number) + (w[i] as number)) | 0;
		d = (d + h) | 0;
		h = (h + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
		g = (g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + ((d & e) ^ (~d & f)) + (K[i + 1] as number) + (w[i + 1] as number)) | 0;
		c = (c + g) | 0;
		g = (g + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) ^ (h & b) ^ (a & b))) | 0;
		f = (f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + ((c & d) ^ (~c & e)) + (K[i + 2] as number) + (w[i + 2] as number)) | 0;
		b = (b + f) | 0;
		f = (f + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) ^ (g & a) ^ (h & a))) | 0;
		e = (e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + ((b & c) ^ (~b & d)) + (K[i + 3] as number) + (w[i + 3] as number)) | 0;
		a = (a + e) | 0;
		e = (e + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) ^ (f & h) ^ (g & h))) | 0;
		d = (d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + ((a & b) ^ (~a & c)) + (K[i + 4] as number) + (w[i + 4] as number)) | 0;
		h = (h + d) | 0;
		d = (d + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) ^ (e & g) ^ (f & g))) | 0;
		c = (c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + ((h & a) ^ (~h & b)) + (K[i + 5] as number) + (w[i + 5] as number)) | 0;
		g = (g + c) | 0;
		c = (c + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) ^ (d & f) ^ (e & f))) | 0;
		b = (b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + ((g & h) ^ (~g & a)) + (K[i + 6] as number) + (w[i + 6] as number)) | 0;
		f = (f + b) | 0;
		b = (b + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) ^ (c & e) ^ (d & e))) | 0;
		a = (a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + ((f & g) ^ (~f & h)) + (K[i + 7] as number) + (w[i + 7] as number)) | 0;
		e = (e + a) | 0;
		a = (a + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) ^ (b & d) ^ (c & d))) | 0;
	}
	out[0] = ((state[0] as number) + a) | 0;
	out[1] = ((state[1] as number) + b) | 0;
	out[2] = ((state[2] as number) + c) | 0;
	out[3] = ((state[3] as number) + d) | 0;
	out[4] = ((state[4] as number) + e) | 0;
	out[5] = ((state[5] as number) + f) | 0;
	out[6] = ((state[6] as number) + g) | 0;
	out[7] = ((state[7] as number) + h) | 0;
}

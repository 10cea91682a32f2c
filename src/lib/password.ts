import { base64url, constantTimeEqual, fromBase64url, randomBytes } from "./encoding.ts";
import { isWerkzeugHash, verifyWerkzeugHash } from "./werkzeug.ts";

/**
 * Password hashing: HMAC-SHA256 pepper, then PBKDF2-HMAC-SHA256.
 *
 * Production Workers reject PBKDF2 above 100,000 iterations (local workerd does not), so the
 * work factor is fixed at that cap and the pepper — a secret outside the database — adds
 * the strength a higher count would have. Each stored hash describes itself:
 *
 *   pbkdf2-sha256$i=100000$p=<pepper id>$<salt b64url>$<hash b64url>
 *
 * so iterations or pepper can change later and old hashes are upgraded at the next login.
 */

export const PBKDF2_MAX_ITERATIONS = 100_000;
const PASSWORD_PARAMS = { iterations: PBKDF2_MAX_ITERATIONS, saltBytes: 16, hashBytes: 32 } as const;
const ALGORITHM = "pbkdf2-sha256";
/** How every hash of the current format begins (anything else stored is a legacy, KC7 Werkzeug, hash). */
export const CURRENT_HASH_PREFIX = `${ALGORITHM}$`;

export interface Pepper {
	id: string;
	secret: string;
}

/** `PASSWORD_PEPPERS` is `id:secret[,id:secret…]`; the first one peppers new hashes, all verify. */
export function parsePeppers(raw: string | undefined): Pepper[] {
	const peppers = (raw ?? "")
		.split(",")
		.map((entry) => entry.trim())
		.filter(Boolean)
		.map((entry) => {
			const colon = entry.indexOf(":");
			if (colon < 1 || colon === entry.length - 1) throw new Error("PASSWORD_PEPPERS entries must be id:secret");
			return { id: entry.slice(0, colon), secret: entry.slice(colon + 1) };
		});
	if (peppers.length === 0) throw new Error("PASSWORD_PEPPERS is not configured");
	return peppers;
}

interface ParsedHash {
	iterations: number;
	pepperId: string;
	salt: Uint8Array;
	hash: Uint8Array;
}

export function parsePasswordHash(stored: string): ParsedHash | null {
	const parts = stored.split("$");
	if (parts.length !== 5 || parts[0] !== ALGORITHM) return null;
	const iterations = Number(parts[1]?.match(/^i=(\d+)$/)?.[1]);
	const pepperId = parts[2]?.match(/^p=(.+)$/)?.[1];
	if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS || !pepperId)
		return null;
	try {
		return { iterations, pepperId, salt: fromBase64url(parts[3] ?? ""), hash: fromBase64url(parts[4] ?? "") };
	} catch {
		return null;
	}
}

const encoder = new TextEncoder();

// The pepper's HMAC key, imported once per isolate and pepper (the peppers are fixed configuration).
type KeyPromise = ReturnType<typeof crypto.subtle.importKey>;
const pepperKeys = new Map<string, KeyPromise>();
function pepperKey(pepper: string): KeyPromise {
	let key = pepperKeys.get(pepper);
	if (!key) {
		key = crypto.subtle.importKey("raw", encoder.encode(pepper), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
		key.catch(() => pepperKeys.delete(pepper));
		pepperKeys.set(pepper, key);
	}
	return key;
}

async function derive(password: string, pepper: string, salt: Uint8Array, iterations: number, bytes: number) {
	const hmacKey = await pepperKey(pepper);
	const peppered = await crypto.subtle.sign("HMAC", hmacKey, encoder.encode(password.normalize("NFC")));
	const baseKey = await crypto.subtle.importKey("raw", peppered, "PBKDF2", false, ["deriveBits"]);
	const bits = await crypto.subtle.deriveBits(
		{ name: "PBKDF2", hash: "SHA-256", salt, iterations },
		baseKey,
		bytes * 8,
	);
	return new Uint8Array(bits);
}

export async function hashPassword(password: string, peppers: Pepper[]): Promise<string> {
	const pepper = peppers[0];
	if (!pepper) throw new Error("no pepper configured");
	const salt = randomBytes(PASSWORD_PARAMS.saltBytes);
	const hash = await derive(password, pepper.secret, salt, PASSWORD_PARAMS.iterations, PASSWORD_PARAMS.hashBytes);
	return `${ALGORITHM}$i=${PASSWORD_PARAMS.iterations}$p=${pepper.id}$${base64url(salt)}$${base64url(hash)}`;
}

// Verifying against this costs exactly what verifying a real hash costs, so an unknown
// account (or one without a password) is not distinguishable by timing.
const DUMMY_HASH = `${ALGORITHM}$i=${PASSWORD_PARAMS.iterations}$p=dummy$${"A".repeat(22)}$${"A".repeat(43)}`;

export interface VerifyResult {
	ok: boolean;
	/** The hash was made with other parameters or pepper: store a fresh one. */
	needsRehash: boolean;
}

export async function verifyPassword(
	password: string,
	stored: string | null | undefined,
	peppers: Pepper[],
): Promise<VerifyResult> {
	// KC7's accounts arrive with Werkzeug hashes (src/lib/werkzeug.ts): right means "store ours now".
	if (stored && isWerkzeugHash(stored)) {
		const legacy = await verifyWerkzeugHash(password, stored);
		if ("ok" in legacy) return { ok: legacy.ok, needsRehash: legacy.ok };
		// Refused without computing (parameters out of bounds): an invalid credential, at a current hash's cost.
	}
	const parsed = stored ? parsePasswordHash(stored) : null;
	const pepper = parsed ? peppers.find((p) => p.id === parsed.pepperId) : undefined;
	if (!parsed || !pepper) {
		const dummy = parsePasswordHash(DUMMY_HASH) as ParsedHash;
		await derive(password, peppers[0]?.secret ?? "", dummy.salt, dummy.iterations, dummy.hash.length);
		return { ok: false, needsRehash: false };
	}
	const candidate = await derive(password, pepper.secret, parsed.salt, parsed.iterations, parsed.hash.length);
	const ok = constantTimeEqual(candidate, parsed.hash);
	const needsRehash =
		ok &&
		(parsed.iterations !== PASSWORD_PARAMS.iterations ||
			parsed.pepperId !== peppers[0]?.id ||
			parsed.hash.length !== PASSWORD_PARAMS.hashBytes);
	return { ok, needsRehash };
}

export interface PasswordAccount {
	email?: string | null;
	username?: string | null;
}

/**
 * Contract: 8–256 Unicode code points; not the account's email, the email's local part or its username; not one
 * of the most common passwords (`common`: src/lib/common-passwords.ts). The comparisons ignore case, surrounding
 * spaces and compatibility forms (full-width letters), and only a whole-password match counts: a long passphrase
 * that merely contains "password" is fine. Returns the problem, or null.
 */
export function passwordProblem(
	password: string,
	account: PasswordAccount,
	common: ReadonlySet<string>,
): string | null {
	const length = [...password].length;
	if (length < 8) return "Password must be at least 8 characters";
	if (length > 256) return "Password must be at most 256 characters";
	const { email, username } = account;
	const candidate = comparable(password);
	if (email) {
		const address = comparable(email);
		const at = address.lastIndexOf("@");
		if (candidate === address || (at > 0 && candidate === address.slice(0, at)))
			return "Password must not equal the email";
	}
	if (username && candidate === comparable(username)) return "Password must not equal the username";
	if (common.has(candidate)) return "Password is too common";
	return null;
}

/** What the rules compare: case, surrounding spaces and compatibility forms (full-width letters) do not count. */
function comparable(value: string): string {
	return value.normalize("NFKC").trim().toLowerCase();
}

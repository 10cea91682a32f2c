// Byte helpers on Web Crypto only, so the same code runs in workerd and in Node scripts.

export function base64url(bytes: Uint8Array): string {
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function fromBase64url(value: string): Uint8Array {
	if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new TypeError("not base64url");
	const padded = value.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (value.length % 4)) % 4);
	const binary = atob(padded);
	const out = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
	return out;
}

export function randomBytes(length: number): Uint8Array {
	return crypto.getRandomValues(new Uint8Array(length));
}

/** An opaque random token: 32 bytes (256 bits) unless asked otherwise. */
export function randomToken(bytes = 32): string {
	return base64url(randomBytes(bytes));
}

export async function sha256(value: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
	return base64url(new Uint8Array(digest));
}

/** Constant-time comparison of equal-length byte arrays (length itself is not secret here). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	let diff = 0;
	for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
	return diff === 0;
}

/** A JSON object stored as text (event details, token meta); anything else — absent, malformed, not an object — reads as {}. */
export function parseJsonObject(text: string | null): Record<string, unknown> {
	if (!text) return {};
	try {
		const value: unknown = JSON.parse(text);
		return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
	} catch {
		return {};
	}
}

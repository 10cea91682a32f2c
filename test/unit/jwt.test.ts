import { env } from "cloudflare:workers";
import { importJWK, type JWK, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/config.ts";
import { base64url, fromBase64url } from "../../src/lib/encoding.ts";
import {
	ACCESS_TOKEN_TTL_SECONDS,
	publicJwks,
	signAccessToken,
	VERIFIED_LIMIT,
	verifyAccessToken,
} from "../../src/lib/jwt.ts";

const config = getConfig(env);
const keys = env.JWT_PRIVATE_KEYS;
const subject = { userId: 42, sessionId: "sess-1", roles: ["Admin" as const] };

async function forge(
	jwkJson: string,
	options: {
		header?: Record<string, unknown>;
		claims?: Record<string, unknown>;
		omit?: ("sub" | "iat" | "exp" | "sid")[];
		iatOffset?: number;
	} = {},
) {
	const jwk = JSON.parse(jwkJson) as JWK;
	const key = await importJWK({ ...jwk, alg: "ES256" }, "ES256");
	const now = Math.floor(Date.now() / 1000) + (options.iatOffset ?? 0);
	const claims: Record<string, unknown> = {
		iss: config.issuer,
		aud: config.audience,
		sub: "42",
		sid: "sess-1",
		roles: ["Admin"],
		iat: now,
		exp: now + 900,
		...options.claims,
	};
	for (const name of options.omit ?? []) delete claims[name];
	return new SignJWT(claims)
		.setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "at+jwt", ...options.header } as { alg: string })
		.sign(key);
}

const verify = (token: string) => verifyAccessToken(keys, config, token);

describe("access tokens", () => {
	it("signs ES256 tokens with kid, typ at+jwt and the contract's claims", async () => {
		const { token, claims } = await signAccessToken(keys, config, subject);
		const [header, payload] = token
			.split(".")
			.slice(0, 2)
			.map((part) => JSON.parse(new TextDecoder().decode(fromBase64url(part))));
		expect(header).toEqual({ alg: "ES256", kid: "test-signing", typ: "at+jwt" });
		expect(payload).toMatchObject({
			iss: config.issuer,
			aud: config.audience,
			sub: "42",
			sid: "sess-1",
			roles: ["Admin"],
		});
		expect(payload.exp - payload.iat).toBe(ACCESS_TOKEN_TTL_SECONDS);
		expect(await verify(token)).toEqual(claims);
	});

	it("publishes every configured key, public parts only", async () => {
		const jwks = await publicJwks(keys);
		expect(jwks.keys.map((k) => k.kid)).toEqual(["test-signing", "test-secondary"]);
		for (const key of jwks.keys) {
			expect(key).not.toHaveProperty("d");
			expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
		}
	});

	it("accepts tokens signed by any configured key (rotation)", async () => {
		expect(await verify(await forge(env.TEST_SECONDARY_JWK))).toMatchObject({ userId: 42 });
	});

	it.each([
		["a key that is not configured", () => forge(env.TEST_FOREIGN_JWK)],
		["a foreign key claiming a configured kid", () => forge(env.TEST_FOREIGN_JWK, { header: { kid: "test-signing" } })],
		["the wrong typ", () => forge(env.TEST_SECONDARY_JWK, { header: { typ: "JWT" } })],
		["no typ", () => forge(env.TEST_SECONDARY_JWK, { header: { typ: undefined } })],
		["another issuer", () => forge(env.TEST_SECONDARY_JWK, { claims: { iss: "https://evil.example" } })],
		["another audience", () => forge(env.TEST_SECONDARY_JWK, { claims: { aud: "someone-else" } })],
		["no sub", () => forge(env.TEST_SECONDARY_JWK, { omit: ["sub"] })],
		["no iat", () => forge(env.TEST_SECONDARY_JWK, { omit: ["iat"] })],
		["no exp", () => forge(env.TEST_SECONDARY_JWK, { omit: ["exp"] })],
		["no sid", () => forge(env.TEST_SECONDARY_JWK, { omit: ["sid"] })],
		["a non-numeric sub", () => forge(env.TEST_SECONDARY_JWK, { claims: { sub: "admin" } })],
		["an expired exp", () => forge(env.TEST_SECONDARY_JWK, { iatOffset: -3600 })],
	])("rejects a token with %s", async (_, make) => {
		expect(await verify(await make())).toBeNull();
	});

	it("rejects alg none, HS256 key confusion and tampering", async () => {
		const { token } = await signAccessToken(keys, config, { ...subject, roles: [] });
		const [header, payload, signature] = token.split(".") as [string, string, string];
		const enc = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));
		const claims = JSON.parse(new TextDecoder().decode(fromBase64url(payload)));

		const none = `${enc({ alg: "none", typ: "at+jwt" })}.${payload}.`;
		const escalated = `${header}.${enc({ ...claims, roles: ["Admin"] })}.${signature}`;
		const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
		const hmacKey = await crypto.subtle.importKey(
			"raw",
			new TextEncoder().encode(JSON.stringify((await publicJwks(keys)).keys[0])),
			{ name: "HMAC", hash: "SHA-256" },
			false,
			["sign"],
		);
		const hsInput = `${enc({ alg: "HS256", kid: "test-signing", typ: "at+jwt" })}.${payload}`;
		const hs = `${hsInput}.${base64url(new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, new TextEncoder().encode(hsInput))))}`;

		for (const bad of [none, escalated, flipped, hs, "", "a.b.c", `${token}x`]) expect(await verify(bad)).toBeNull();
		expect(await verify(token)).not.toBeNull();
	});
});

describe("verified tokens kept per isolate", () => {
	afterEach(() => {
		vi.restoreAllMocks();
		vi.useRealTimers();
	});
	let next = 0;
	// A token no other test has verified (its own session id).
	const fresh = () => signAccessToken(keys, config, { ...subject, sessionId: `kept-${next++}-${crypto.randomUUID()}` });
	const countVerifications = () => vi.spyOn(crypto.subtle, "verify");

	it("verifies a token once; its next uses get the same claims without a signature check", async () => {
		const { token, claims } = await fresh();
		const verifications = countVerifications();
		expect(await verify(token)).toEqual(claims);
		expect(await verify(token)).toEqual(claims);
		expect(await verify(token)).toEqual(claims);
		expect(verifications).toHaveBeenCalledTimes(1);
	});

	it("refuses a kept token from the second it expires, as jose does", async () => {
		const { token, claims } = await fresh();
		expect(await verify(token)).toEqual(claims);
		vi.useFakeTimers({ toFake: ["Date"], now: (claims.expiresAt - 1) * 1000 });
		expect(await verify(token)).toEqual(claims);
		vi.setSystemTime(claims.expiresAt * 1000);
		expect(await verify(token)).toBeNull();
		vi.useRealTimers();
		expect(await verify(token)).toEqual(claims);
	});

	it("refuses a kept token before its nbf", async () => {
		const now = Math.floor(Date.now() / 1000);
		const token = await forge(env.TEST_SECONDARY_JWK, { claims: { nbf: now + 60, sid: `nbf-${next++}` } });
		expect(await verify(token)).toBeNull();
		vi.useFakeTimers({ toFake: ["Date"], now: (now + 60) * 1000 });
		expect(await verify(token)).toMatchObject({ userId: 42 });
		vi.setSystemTime((now + 59) * 1000);
		expect(await verify(token)).toBeNull();
	});

	it("serves only the identical token: one changed signature character is verified, and refused", async () => {
		const { token } = await fresh();
		expect(await verify(token)).not.toBeNull();
		// The second-to-last character: the last one's low bits are padding, which base64url decoders ignore.
		const changed = token.at(-2) === "A" ? "B" : "A";
		const verifications = countVerifications();
		expect(await verify(`${token.slice(0, -2)}${changed}${token.at(-1)}`)).toBeNull();
		expect(verifications).toHaveBeenCalledTimes(1);
	});

	it("keeps no refusal: a forged token is checked on every use", async () => {
		// A configured kid, so that jose does check the signature (an unknown kid fails before it).
		const forged = await forge(env.TEST_FOREIGN_JWK, {
			header: { kid: "test-signing" },
			claims: { sid: `forged-${next++}` },
		});
		const verifications = countVerifications();
		expect(await verify(forged)).toBeNull();
		expect(await verify(forged)).toBeNull();
		expect(verifications).toHaveBeenCalledTimes(2);
	});

	it("serves a kept token only for the issuer and audience it was verified for", async () => {
		const { token } = await fresh();
		expect(await verify(token)).not.toBeNull();
		expect(await verifyAccessToken(keys, { ...config, audience: "someone-else" }, token)).toBeNull();
		expect(await verifyAccessToken(keys, { ...config, issuer: "https://evil.example" }, token)).toBeNull();
		expect(await verify(token)).not.toBeNull();
	});

	it(`keeps at most ${VERIFIED_LIMIT}, dropping the oldest first`, async () => {
		const first = await fresh();
		expect(await verify(first.token)).toEqual(first.claims);
		for (let i = 0; i < VERIFIED_LIMIT; i++) expect(await verify((await fresh()).token)).not.toBeNull();
		const verifications = countVerifications();
		expect(await verify(first.token)).toEqual(first.claims);
		expect(verifications).toHaveBeenCalledTimes(1);
	});

	it("hands out claims no caller can change for the next request", async () => {
		const { token } = await fresh();
		const claims = (await verify(token)) as unknown as { roles: string[]; userId: number };
		expect(() => claims.roles.push("Admin")).toThrow(TypeError);
		expect(() => {
			claims.userId = 1;
		}).toThrow(TypeError);
	});
});

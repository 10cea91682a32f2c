import { env } from "cloudflare:workers";
import { importJWK, type JWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config.ts";
import { base64url, fromBase64url } from "../../src/lib/encoding.ts";
import { ACCESS_TOKEN_TTL_SECONDS, publicJwks, signAccessToken, verifyAccessToken } from "../../src/lib/jwt.ts";

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

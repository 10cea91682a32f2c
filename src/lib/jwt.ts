import { createLocalJWKSet, importJWK, type JWK, type JWTVerifyGetKey, jwtVerify, SignJWT } from "jose";
import { parseRoles, type Role } from "./roles.ts";

/**
 * Access tokens: ES256 JWTs, 15 minutes, `typ: at+jwt`.
 * `JWT_PRIVATE_KEYS` holds a JSON array of private EC P-256 JWKs with `kid`s: the first signs,
 * every one verifies (and is published at /.well-known/jwks.json), which is how keys rotate.
 */

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** Who issues the tokens and for whom (the configuration's `issuer` and `audience`). */
export interface TokenAudience {
	issuer: string;
	audience: string;
}

const ALG = "ES256";
const TYP = "at+jwt";

export interface AccessClaims {
	userId: number;
	sessionId: string;
	/** Frozen: verified claims are shared by every request that presents the same token. */
	roles: readonly Role[];
	issuedAt: number; // seconds
	expiresAt: number; // seconds
}

interface PublicJwk {
	kty: string;
	crv: string;
	x: string;
	y: string;
	kid: string;
	alg: string;
	use: string;
}

interface KeyRing {
	signer: { kid: string; key: CryptoKey };
	publicJwks: { keys: PublicJwk[] };
	verifyKey: JWTVerifyGetKey;
	/** Tokens these keys verified, by the whole token (see verifyAccessToken). */
	verified: Map<string, VerifiedToken>;
}

interface VerifiedToken {
	claims: AccessClaims;
	/** What the token was verified for: a hit must be for the same issuer and audience. */
	issuer: string;
	audience: string;
	/** The token's `nbf`, when it had one (seconds). */
	notBefore: number | undefined;
}

/** Verified tokens kept per isolate and key ring: ~0.5 KB each, so at most ~0.5 MB. */
export const VERIFIED_LIMIT = 1024;

const rings = new Map<string, Promise<KeyRing>>();

async function buildRing(raw: string): Promise<KeyRing> {
	let jwks: JWK[];
	try {
		const parsed = JSON.parse(raw) as JWK[] | JWK;
		jwks = Array.isArray(parsed) ? parsed : [parsed];
	} catch {
		throw new Error("JWT_PRIVATE_KEYS is not valid JSON");
	}
	const first = jwks[0];
	if (!first?.kid || !first.d) throw new Error("JWT_PRIVATE_KEYS must hold private JWKs with a kid");
	const publicKeys = jwks.map(({ kty, crv, x, y, kid }): PublicJwk => {
		if (kty !== "EC" || crv !== "P-256" || !x || !y || !kid)
			throw new Error("JWT keys must be EC P-256 JWKs with a kid");
		return { kty, crv, x, y, kid, alg: ALG, use: "sig" };
	});
	const key = (await importJWK({ ...first, alg: ALG }, ALG)) as CryptoKey;
	return {
		signer: { kid: first.kid, key },
		publicJwks: { keys: publicKeys },
		verifyKey: createLocalJWKSet({ keys: publicKeys }),
		verified: new Map(),
	};
}

// Keys are imported once per isolate (per secret value), not per request.
function keyRing(raw: string): Promise<KeyRing> {
	let ring = rings.get(raw);
	if (!ring) {
		ring = buildRing(raw);
		ring.catch(() => rings.delete(raw));
		rings.set(raw, ring);
	}
	return ring;
}

export async function publicJwks(rawKeys: string) {
	return (await keyRing(rawKeys)).publicJwks;
}

export async function signAccessToken(
	rawKeys: string,
	config: TokenAudience,
	subject: { userId: number; sessionId: string; roles: readonly Role[] },
	now = Date.now(),
): Promise<{ token: string; claims: AccessClaims }> {
	const { signer } = await keyRing(rawKeys);
	const issuedAt = Math.floor(now / 1000);
	const expiresAt = issuedAt + ACCESS_TOKEN_TTL_SECONDS;
	const token = await new SignJWT({ sid: subject.sessionId, roles: subject.roles })
		.setProtectedHeader({ alg: ALG, kid: signer.kid, typ: TYP })
		.setIssuer(config.issuer)
		.setAudience(config.audience)
		.setSubject(String(subject.userId))
		.setIssuedAt(issuedAt)
		.setExpirationTime(expiresAt)
		.sign(signer.key);
	return { token, claims: { ...subject, issuedAt, expiresAt } };
}

/**
 * Returns the claims, or null for any token that is not a valid access token of ours.
 *
 * A client sends the same access token with every request for up to 15 minutes, and the ES256 verification is the
 * largest part of a Bearer request's own CPU (`npm run bench -- --profile`). So a token these keys verified is kept,
 * by the whole token — header, claims and signature: the identical string verifies identically under the same keys,
 * issuer and audience, and only time changes the answer, so its expiry (and `nbf`) are checked again on every use,
 * as jose checks them. Only successes are kept (a forged token costs a verification every time, as before); the
 * keys are per isolate and secret value (a rotation deploys new isolates); at most VERIFIED_LIMIT, oldest out
 * first. Revocation and bans are not decided here: every Bearer route checks the session on the primary.
 */
export async function verifyAccessToken(
	rawKeys: string,
	config: TokenAudience,
	token: string,
): Promise<AccessClaims | null> {
	const { verifyKey, verified } = await keyRing(rawKeys);
	const known = verified.get(token);
	if (known && known.issuer === config.issuer && known.audience === config.audience) {
		const now = Math.floor(Date.now() / 1000);
		if (known.claims.expiresAt > now && (known.notBefore === undefined || known.notBefore <= now)) return known.claims;
		if (known.claims.expiresAt <= now) verified.delete(token);
	}
	try {
		const { payload } = await jwtVerify(token, verifyKey, {
			algorithms: [ALG],
			issuer: config.issuer,
			audience: config.audience,
			typ: TYP,
			requiredClaims: ["exp", "iat", "sub", "sid"],
		});
		const userId = Number(payload.sub);
		const roles = Array.isArray(payload.roles) ? payload.roles : [];
		if (!/^[1-9]\d*$/.test(payload.sub ?? "") || !Number.isSafeInteger(userId)) return null;
		if (typeof payload.sid !== "string") return null;
		const claims: AccessClaims = Object.freeze({
			userId,
			sessionId: payload.sid,
			roles: Object.freeze(parseRoles(roles)),
			issuedAt: payload.iat as number,
			expiresAt: payload.exp as number,
		});
		if (!verified.has(token) && verified.size >= VERIFIED_LIMIT)
			verified.delete(verified.keys().next().value as string);
		verified.set(token, { claims, issuer: config.issuer, audience: config.audience, notBefore: payload.nbf });
		return claims;
	} catch {
		return null;
	}
}

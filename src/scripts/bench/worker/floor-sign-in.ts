/**
 * Floor Worker (information, no target): a subset of what a password sign-in must do by contract, each step once,
 * by hand, with no framework — `POST {email}`:
 * 1. the account by email, with what the token and the account rules need (D1, one round trip);
 * 2. the per-account and per-network hits on the app's own RateLimiter objects, before the password is checked
 *    (the contract counts failed sign-ins, and counting after the check would let parallel guesses through);
 * 3. one PBKDF2-SHA256 of 100,000 iterations (the PBKDF2 floor's);
 * 4. the session row and its `login.succeeded` event in one D1 batch (the event in the same write as the change);
 * 5. one ES256 access token;
 * 6. the two hits taken back after the success (ctx.waitUntil), as only failed sign-ins count.
 * Left out although the contract asks for them (so the floor is a lower bound, and sign-in ÷ this floor counts
 * them as the app's): body validation, the refresh cookie and the user in the answer, the session's device columns,
 * the new-device lookup, cancelling a pending deletion, the D1 Sessions API and its bookmark, a hash upgrade.
 *
 * Locally D1 and the Durable Object run in the workerd process beside the Worker, so their CPU is in every figure
 * here, though in production it is not the Worker's: this floor ÷ the PBKDF2 floor is a lower bound of what the
 * contract's I/O costs on local workerd.
 */
import { importJWK, type JWK, SignJWT } from "jose";
import type { RateLimiter } from "../../../durable-objects/rate-limiter.ts";
import { randomToken, sha256 } from "../../../lib/encoding.ts";
import { limiterObjectName } from "../../../services/rate-limits.ts";
import { instrument } from "./instrument.ts";

interface FloorEnv {
	DB: D1Database;
	RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
	JWT_PRIVATE_KEYS: string;
	JWT_ISSUER: string;
	JWT_AUDIENCE: string;
}

const ITERATIONS = 100_000;
// The bench lifts every limit the same way for the app (server.ts, RATE_LIMITS).
const LIMIT = 1_000_000;
const WINDOW_MS = 60_000;
const encoder = new TextEncoder();

const READ = `select id, password_hash, email_verified_at, banned_at, banned_until,
	(select group_concat(role) from user_roles where user_roles.user_id = users.id) as roles
	from users where email = ?`;
const INSERT_SESSION = `insert into sessions (id, user_id, family, token_hash, created_at, last_used_at, expires_at)
	values (?, ?, ?, ?, ?, ?, ?)`;
const INSERT_EVENT = `insert into security_events (at, type, outcome, user_id, actor_type, actor_id, session_id)
	values (?, 'login.succeeded', 'success', ?, 'user', ?, ?)`;

let signer: { key: CryptoKey | Uint8Array; kid: string | undefined } | undefined;

export default {
	fetch: instrument(async (request, env: FloorEnv, ctx) => {
		const { email } = (await request.json()) as { email: string };
		const user = await env.DB.prepare(READ).bind(email).first<{ id: number; roles: string | null }>();
		if (!user) return Response.json({ error: "Unauthorized" }, { status: 401 });
		// The app's own objects, named as the app names them: its per-network key is the client address, "unknown"
		// when none came (the bench sends none, as a direct socket has no Cloudflare in front).
		const names = await Promise.all([
			limiterObjectName({ name: "loginAccount", key: `user:${user.id}` }),
			limiterObjectName({ name: "loginIp", key: request.headers.get("CF-Connecting-IP") ?? "unknown" }),
		]);
		const limiters = names.map((name) => env.RATE_LIMITER.getByName(name));
		const decisions = await Promise.all(limiters.map((limiter) => limiter.hit(LIMIT, WINDOW_MS)));
		if (decisions.some((d) => !d.allowed)) return Response.json({ error: "Too Many Requests" }, { status: 429 });

		const password = await crypto.subtle.importKey(
			"raw",
			encoder.encode("correct-horse-battery-staple"),
			"PBKDF2",
			false,
			["deriveBits"],
		);
		const salt = crypto.getRandomValues(new Uint8Array(16));
		await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: ITERATIONS }, password, 256);

		const now = Date.now();
		const sessionId = crypto.randomUUID();
		const refreshToken = randomToken();
		await env.DB.batch([
			env.DB.prepare(INSERT_SESSION).bind(
				sessionId,
				user.id,
				crypto.randomUUID(),
				await sha256(refreshToken),
				now,
				now,
				now + 30 * 86_400_000,
			),
			env.DB.prepare(INSERT_EVENT).bind(now, user.id, user.id, sessionId),
		]);

		if (!signer) {
			const [jwk] = JSON.parse(env.JWT_PRIVATE_KEYS) as JWK[];
			signer = { key: await importJWK(jwk as JWK, "ES256"), kid: jwk?.kid };
		}
		const iat = Math.floor(now / 1000);
		const token = await new SignJWT({ sid: sessionId, roles: user.roles?.split(",") ?? [] })
			.setProtectedHeader({ alg: "ES256", kid: signer.kid, typ: "at+jwt" })
			.setIssuer(env.JWT_ISSUER)
			.setAudience(env.JWT_AUDIENCE)
			.setSubject(String(user.id))
			.setIssuedAt(iat)
			.setExpirationTime(iat + 900)
			.sign(signer.key);

		ctx.waitUntil(Promise.all(limiters.map((limiter) => limiter.refund(WINDOW_MS))));
		return Response.json({ token, expiresIn: 900 });
	}),
} satisfies ExportedHandler<FloorEnv>;

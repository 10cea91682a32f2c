/**
 * Floor Worker: one jose ES256 verification per request of the Bearer token, with the app's own options
 * (algorithm, issuer, audience, typ, required claims) against the app's public keys (FLOOR_JWKS binding).
 */
import { createLocalJWKSet, type JWK, jwtVerify } from "jose";
import { instrument } from "./instrument.ts";

interface FloorEnv {
	FLOOR_JWKS: string;
	JWT_ISSUER: string;
	JWT_AUDIENCE: string;
}

let keys: ReturnType<typeof createLocalJWKSet> | undefined;

export default {
	fetch: instrument(async (request, env: FloorEnv) => {
		keys ??= createLocalJWKSet({ keys: JSON.parse(env.FLOOR_JWKS) as JWK[] });
		const token = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
		try {
			const { payload } = await jwtVerify(token, keys, {
				algorithms: ["ES256"],
				issuer: env.JWT_ISSUER,
				audience: env.JWT_AUDIENCE,
				typ: "at+jwt",
				requiredClaims: ["exp", "iat", "sub", "sid"],
			});
			return Response.json({ sub: payload.sub });
		} catch {
			return Response.json({ error: "Unauthorized" }, { status: 401 });
		}
	}),
} satisfies ExportedHandler<FloorEnv>;

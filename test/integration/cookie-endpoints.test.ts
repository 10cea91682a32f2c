import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sessions } from "../../src/db/schema.ts";
import { db } from "../helpers/d1.ts";
import { createUser, ildLogin } from "../helpers/factories.ts";
import { expectError, refreshCookieOf, send, withCookie } from "../helpers/http.ts";

/**
 * The endpoints the refresh cookie authenticates act only for the user: not for another site (a
 * cross-site navigation or fetch), not for a link scanner's HEAD, not for a planted second cookie.
 */
const COOKIE_ENDPOINTS: { name: string; path: string; method: string }[] = [
	{ name: "GET /sign/refresh", path: "/sign/refresh", method: "GET" },
	{ name: "GET /sign/logout", path: "/sign/logout", method: "GET" },
	{ name: "POST /auth/refresh-token", path: "/auth/refresh-token", method: "POST" },
];

async function sessionState(refresh: string) {
	const family = refresh.split(".")[0] as string;
	const row = await db().select().from(sessions).where(eq(sessions.family, family)).get();
	return { tokenHash: row?.tokenHash, revokedAt: row?.revokedAt };
}

describe("cookie endpoints act only for the user", () => {
	for (const endpoint of COOKIE_ENDPOINTS) {
		it(`${endpoint.name}: a cross-site request without Origin is 403 and changes nothing`, async () => {
			const user = await createUser();
			const { refresh } = await ildLogin(user.email);
			const before = await sessionState(refresh);
			const res = await send(endpoint.path, {
				method: endpoint.method,
				headers: { ...withCookie(refresh), "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate" },
			});
			await expectError(res, 403);
			expect(refreshCookieOf(res)).toBeNull();
			expect(await sessionState(refresh)).toEqual(before);
			// The same request from the user's own site works.
			const own = await send(endpoint.path, {
				method: endpoint.method,
				headers: { ...withCookie(refresh), "Sec-Fetch-Site": "same-site" },
			});
			expect(own.status).toBe(200);
		});

		it(`${endpoint.name}: a foreign Origin is 403 and changes nothing`, async () => {
			const user = await createUser();
			const { refresh } = await ildLogin(user.email);
			const before = await sessionState(refresh);
			const res = await send(endpoint.path, {
				method: endpoint.method,
				headers: { ...withCookie(refresh), Origin: "https://evil.example" },
			});
			await expectError(res, 403);
			expect(await sessionState(refresh)).toEqual(before);
		});

		it(`${endpoint.name}: two refresh_token cookies (one planted) are 401 and rotate nothing`, async () => {
			const user = await createUser();
			const victim = await ildLogin(user.email);
			const attacker = await ildLogin((await createUser()).email);
			const [victimBefore, attackerBefore] = [await sessionState(victim.refresh), await sessionState(attacker.refresh)];
			for (const cookie of [
				`refresh_token=${attacker.refresh}; refresh_token=${victim.refresh}`,
				`refresh_token=${victim.refresh}; other=1; refresh_token=${attacker.refresh}`,
			]) {
				const res = await send(endpoint.path, { method: endpoint.method, headers: { Cookie: cookie } });
				await expectError(res, 401);
				expect(refreshCookieOf(res)).toBeNull();
			}
			expect(await sessionState(victim.refresh)).toEqual(victimBefore);
			expect(await sessionState(attacker.refresh)).toEqual(attackerBefore);
		});
	}

	for (const path of ["/sign/refresh", "/sign/logout"]) {
		it(`HEAD ${path} runs nothing: 204, no cookie, the session untouched`, async () => {
			const user = await createUser();
			const { refresh } = await ildLogin(user.email);
			const before = await sessionState(refresh);
			const res = await send(path, { method: "HEAD", headers: withCookie(refresh) });
			expect(res.status).toBe(204);
			expect(res.headers.getSetCookie()).toEqual([]);
			expect(await sessionState(refresh)).toEqual(before);
			expect((await send("/sign/refresh", { headers: withCookie(refresh) })).status).toBe(200);
		});
	}
});

import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { integrationKeys, oneTimeTokens } from "../../../src/db/schema.ts";
import { sha256 } from "../../../src/lib/encoding.ts";
import { createIntegrationKey } from "../../../src/services/integration-keys.ts";
import { db, serviceDeps } from "../../helpers/d1.ts";
import { createUser, loginLinkToken, userWithToken } from "../../helpers/factories.ts";
import {
	bearer,
	expectError,
	PRODUCTION_VARS,
	refreshCookieOf,
	send,
	sendWith,
	withCookie,
} from "../../helpers/http.ts";
import { linkFor } from "../../helpers/requests.ts";

let partnerKey: string;
let partnerKeyId: number;
beforeAll(async () => {
	const admin = await createUser({ roles: ["Admin"] });
	const created = await createIntegrationKey(serviceDeps(), { name: "Test partner" }, admin.id);
	partnerKey = created.key;
	partnerKeyId = created.id;
});

const magic = (query: string, init: RequestInit = {}) =>
	send(`/auth/magic-link?${query}`, { redirect: "manual", ...init });

describe("POST /api/users/:user_id/magic-link", () => {
	it("returns a single-use link on the configured base URL, and records which key and caller made it", async () => {
		const { user: caller, token } = await userWithToken(["API"]);
		const target = await createUser();
		const res = await send(`https://evil.example/api/users/${target.id}/magic-link`, {
			method: "POST",
			headers: { ...bearer(token), "X-Integration-Key": partnerKey, Host: "evil.example" },
		});
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		const { login_link } = (await res.json()) as { login_link: string };
		const url = new URL(login_link);
		expect(`${url.origin}${url.pathname}`).toBe("http://localhost:8787/auth/magic-link");
		const linkToken = url.searchParams.get("token") as string;
		expect(linkToken).toMatch(/^[\w-]{43}$/);

		const row = await db()
			.select()
			.from(oneTimeTokens)
			.where(eq(oneTimeTokens.tokenHash, await sha256(linkToken)))
			.get();
		expect(row?.purpose).toBe("login");
		expect(row?.userId).toBe(target.id);
		expect(JSON.parse(row?.meta ?? "{}")).toMatchObject({ integrationKeyId: partnerKeyId, createdBy: caller.id });
		expect(row && row.expiresAt - row.createdAt).toBe(10 * 60 * 1000);
		const key = await db().select().from(integrationKeys).where(eq(integrationKeys.id, partnerKeyId)).get();
		expect(key?.lastUsedAt).not.toBeNull();
	});

	it("takes the body as optional: none, an empty one (Content-Length: 0) or {}", async () => {
		const { token } = await userWithToken(["API"]);
		const target = await createUser();
		const post = (init: RequestInit) =>
			send(`/api/users/${target.id}/magic-link`, {
				method: "POST",
				...init,
				headers: { ...bearer(token), "X-Integration-Key": partnerKey, ...(init.headers as Record<string, string>) },
			});
		expect((await post({})).status).toBe(200);
		// Bytes, not a string: a string body would make Request add "text/plain", which real body-less clients do not send.
		expect((await post({ body: new Uint8Array(0) })).status).toBe(200);
		expect((await post({ body: "{}", headers: { "Content-Type": "application/json" } })).status).toBe(200);
		await expectError(await post({ body: new TextEncoder().encode("next=/x") }), 415);
	});

	it("carries `next` into the link", async () => {
		const { token } = await userWithToken(["Manager"]);
		const target = await createUser();
		const res = await linkFor(target.id, token, partnerKey, { next: "/dashboard/modules" });
		const { login_link } = (await res.json()) as { login_link: string };
		expect(new URL(login_link).searchParams.get("next")).toBe("/dashboard/modules");
	});

	it("refuses a `next` that could not be used (400), instead of silently ignoring it later", async () => {
		const { token } = await userWithToken(["API"]);
		const target = await createUser();
		const refused = ["https://evil.com/x", "//evil.com", "javascript:alert(1)", "/ok\u0000", "/a b", "\u202e/x"];
		// Resolve to a path starting with `//` on the dashboard's own origin: a SPA could navigate there off-site.
		refused.push("..//evil.com", "/..//evil.com", "/dashboard/..//evil.com", "./..//evil.com/x");
		for (const next of refused) {
			const body = await expectError(await linkFor(target.id, token, partnerKey, { next }), 400);
			expect(body.issues?.[0]?.path).toBe("next");
		}
		expect((await linkFor(target.id, token, partnerKey, { next: "/dashboard/ok" })).status).toBe(200);
	});

	it("checks token (401), then key (401 Unauthorized), then role (403), then the user (404)", async () => {
		const plain = await userWithToken();
		const staff = await userWithToken(["Admin"]);
		const target = await createUser();
		await expectError(await linkFor(target.id, null, partnerKey), 401);
		await expectError(await linkFor(target.id, null, null), 401);
		await expectError(await linkFor(target.id, staff.token, null), 401, "Unauthorized");
		await expectError(await linkFor(target.id, staff.token, "ik_wrong"), 401, "Unauthorized");
		await expectError(await linkFor(target.id, plain.token, "ik_wrong"), 401, "Unauthorized");
		await expectError(await linkFor(target.id, plain.token, partnerKey), 403);
		await expectError(await linkFor(999999999, plain.token, partnerKey), 403);
		await expectError(await linkFor(999999999, staff.token, partnerKey), 404, "User not found");
		await expectError(await linkFor(target.id, staff.token, partnerKey, { next: 5 }), 400);
		await expectError(await linkFor(target.id, staff.token, partnerKey, { role: "Admin" }), 400);
	});
});

describe("GET /auth/magic-link", () => {
	it("consumes the token, sets the refresh cookie and redirects to the dashboard; a second use is 401", async () => {
		const user = await createUser();
		const token = await loginLinkToken(user.id);
		const res = await magic(`token=${token}`);
		expect(res.status).toBe(302);
		expect(res.headers.get("Location")).toBe(env.DASHBOARD_URL);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		const refresh = refreshCookieOf(res) as string;
		expect((await send("/sign/refresh", { headers: withCookie(refresh) })).status).toBe(200);
		const again = await magic(`token=${token}`);
		expect(await again.json()).toEqual({ error: "Unauthorized", message: "Invalid token" });
		expect(again.status).toBe(401);
	});

	it("answers HEAD and prefetches with 204, no cookie, and leaves the token unused", async () => {
		const user = await createUser();
		const token = await loginLinkToken(user.id);
		const peeks = [
			await magic(`token=${token}`, { method: "HEAD" }),
			await magic(`token=${token}`, { headers: { "Sec-Purpose": "prefetch" } }),
			await magic(`token=${token}`, { headers: { "Sec-Purpose": "prefetch;prerender" } }),
			await magic(`token=${token}`, { headers: { Purpose: "prefetch" } }),
			await magic("token=not-a-valid-token", { method: "HEAD" }),
			await send(`/auth/token-login?token=${token}`, { method: "HEAD" }),
			// Peeks are answered before the query is validated: a token over the 512-character limit (a 400 for
			// GET) or a `next` over its limit is still a 204 for HEAD and prefetches.
			await magic(`token=${"x".repeat(600)}`, { method: "HEAD" }),
			await send(`/auth/token-login?token=${"x".repeat(600)}`, { method: "HEAD" }),
			await magic(`token=${token}&next=/${"a".repeat(3000)}`, { headers: { "Sec-Purpose": "prefetch" } }),
		];
		for (const res of peeks) {
			expect(res.status).toBe(204);
			expect(refreshCookieOf(res)).toBeNull();
		}
		expect((await magic(`token=${token}`)).status).toBe(302);
		await expectError(await send(`/auth/token-login?token=${"x".repeat(600)}`), 400);
	});

	it("redirects to `next` only inside allowed origins", async () => {
		const allowed: [string, string][] = [
			["/dashboard/modules?x=1", "http://localhost:5173/dashboard/modules?x=1"],
			["modules", "http://localhost:5173/modules"],
			["http://localhost:5173/elsewhere", "http://localhost:5173/elsewhere"],
			["http://127.0.0.1:3000/dev", "http://127.0.0.1:3000/dev"], // development: loopback is allowed
		];
		const hostile = [
			"//evil.com",
			"//evil.com/dashboard",
			"..//evil.com",
			"/dashboard/..//evil.com",
			"/\\evil.com",
			"/\t/evil.com",
			"\\\\evil.com",
			"https://evil.com",
			"https:evil.com",
			"javascript:alert(1)",
			"JaVaScRiPt:alert(1)",
			"data:text/html,<script>alert(1)</script>",
			"http://localhost.evil.com",
			"http://localhost:5173@evil.com",
			"https://user:pass@localhost:5173/x",
			"http://[::1]:5173/",
			"ftp://localhost:5173/",
		];
		for (const [next, location] of allowed) {
			const user = await createUser();
			const res = await magic(`token=${await loginLinkToken(user.id)}&next=${encodeURIComponent(next)}`);
			expect(res.headers.get("Location"), next).toBe(location);
		}
		for (const next of hostile) {
			const user = await createUser();
			const res = await magic(`token=${await loginLinkToken(user.id)}&next=${encodeURIComponent(next)}`);
			expect(res.status).toBe(302);
			expect(res.headers.get("Location"), next).toBe(env.DASHBOARD_URL);
		}
	});

	it("in production allows only the dashboard's origin and ALLOWED_REDIRECT_ORIGINS", async () => {
		const prod = {
			...PRODUCTION_VARS,
			DASHBOARD_URL: "https://app.example.com/dashboard",
			ALLOWED_REDIRECT_ORIGINS: "https://learn.example.org",
		};
		const cases: [string, string][] = [
			["/x", "https://app.example.com/x"],
			["https://learn.example.org/course", "https://learn.example.org/course"],
			["http://localhost:5173/", "https://app.example.com/dashboard"],
			["http://app.example.com/", "https://app.example.com/dashboard"],
		];
		for (const [next, location] of cases) {
			const user = await createUser();
			const token = await loginLinkToken(user.id);
			const res = await sendWith(prod, `/auth/magic-link?token=${token}&next=${encodeURIComponent(next)}`);
			expect(res.headers.get("Location"), next).toBe(location);
		}
	});

	it('answers missing, malformed, unknown and expired tokens with 401 "Invalid token"', async () => {
		await expectError(await magic(""), 401, "Invalid token");
		await expectError(await magic("token=abc"), 401, "Invalid token");
		await expectError(await magic(`token=${"A".repeat(43)}`), 401, "Invalid token");
		const user = await createUser();
		const token = await loginLinkToken(user.id);
		await db()
			.update(oneTimeTokens)
			.set({ expiresAt: Date.now() - 1 })
			.where(eq(oneTimeTokens.tokenHash, await sha256(token)));
		await expectError(await magic(`token=${token}`), 401, "Invalid token");
	});
});

describe("GET /auth/token-login", () => {
	it("returns an access token and the refresh cookie once", async () => {
		const user = await createUser();
		const token = await loginLinkToken(user.id);
		const res = await send(`/auth/token-login?token=${token}`);
		expect(res.status).toBe(200);
		const body = (await res.json()) as { access_token: string };
		expect(Object.keys(body)).toEqual(["access_token"]);
		const me = await send("/api/users/me", { headers: bearer(body.access_token) });
		expect(((await me.json()) as { user_id: number }).user_id).toBe(user.id);
		expect(refreshCookieOf(res)).toBeTruthy();
		await expectError(await send(`/auth/token-login?token=${token}`), 401, "Invalid token");
		await expectError(await send("/auth/token-login"), 401, "Invalid token");
	});

	it("works end to end from a link a partner created", async () => {
		const { token } = await userWithToken(["API"]);
		const target = await createUser();
		const { login_link } = (await (await linkFor(target.id, token, partnerKey)).json()) as { login_link: string };
		const url = new URL(login_link);
		const res = await send(`/auth/token-login${url.search}`);
		expect(res.status).toBe(200);
	});
});

describe("login links never escalate", () => {
	it("refuses links for accounts holding a role unless the caller is Admin, and for Admins always", async () => {
		const admin = await userWithToken(["Admin"]);
		for (const callerRoles of [["Manager"], ["API"], ["Manager", "API"]] as const) {
			const caller = await userWithToken([...callerRoles]);
			for (const targetRoles of [["Manager"], ["API"], ["Admin"]] as const) {
				const target = await createUser({ roles: [...targetRoles] });
				await expectError(await linkFor(target.id, caller.token, partnerKey), 403, "Unauthorized");
			}
		}
		for (const targetRoles of [["Admin"], ["Admin", "API"]] as const) {
			const target = await createUser({ roles: [...targetRoles] });
			await expectError(await linkFor(target.id, admin.token, partnerKey), 403, "Unauthorized");
		}
		const manager = await createUser({ roles: ["Manager"] });
		expect((await linkFor(manager.id, admin.token, partnerKey)).status).toBe(200);
	});

	it("checks in the contract's order: token, key (401) before role and target (403) before existence (404)", async () => {
		const manager = await userWithToken(["Manager"]);
		const admin = await createUser({ roles: ["Admin"] });
		await expectError(await linkFor(admin.id, null, partnerKey), 401);
		await expectError(await linkFor(admin.id, manager.token, "ik_wrong"), 401, "Unauthorized");
		await expectError(await linkFor(admin.id, manager.token, partnerKey), 403, "Unauthorized");
		await expectError(await linkFor(99_999_999, manager.token, partnerKey), 404, "User not found");
	});
});

import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { importJWK, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS, getConfig } from "../../src/config.ts";
import { type Role, userRoles } from "../../src/db/schema.ts";
import { sha256 } from "../../src/lib/encoding.ts";
import { signAccessToken } from "../../src/lib/jwt.ts";
import { createCommunity } from "../../src/services/communities.ts";
import { createIntegrationKey } from "../../src/services/integration-keys.ts";
import { storeImage } from "../../src/services/profile-images.ts";
import { IMAGES } from "../fixtures/images.ts";
import { db, serviceDeps } from "../helpers/d1.ts";
import { createModule, createUser, kc7Login, sessionToken } from "../helpers/factories.ts";
import { bearer, refreshCookieOf, send, sendWith, withCookie } from "../helpers/http.ts";
import { loadOperations, needsBearer, type Operation, validRequest } from "../helpers/openapi-walk.ts";

/**
 * The access rule every operation declares in the document (security, `x-roles`, `x-self`) checked
 * against what it does, for every kind of caller. A route added later is covered automatically.
 */

type Caller = "none" | "expired" | "foreign-key" | "plain" | Role;
const CALLERS: Caller[] = ["none", "expired", "foreign-key", "plain", "Manager", "Admin", "API"];
const ROOMY = {
	RATE_LIMITS: JSON.stringify(
		Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((n) => [n, { limit: 1_000_000, windowSeconds: 60 }])),
	),
};

// GETs whose side effects the contract defines: rotation, logout, consuming a login link.
const STATEFUL_GETS = new Set(["ildRefresh", "ildLogout", "kc7RedeemMagicLink", "kc7TokenLogin"]);

interface Principal {
	id: number;
	token: string;
	roles: Role[];
}

let operations: Operation[];
const principals = new Map<Caller, Principal>();
const tokens = new Map<Caller, string>();
let target: { id: number; email: string };
let fixtures: { module: number; community: number; key: string; imageKey: string };

async function freshKeyId(): Promise<string> {
	const admin = principals.get("Admin") as Principal;
	return String((await createIntegrationKey(serviceDeps(), { name: `access-${Math.random()}` }, admin.id)).id);
}

async function requestFor(
	op: Operation,
	caller: Caller,
	subject: number,
): Promise<{ path: string; init: RequestInit }> {
	const values: Record<string, string> = {
		user_id: String(subject),
		userId: String(subject),
		user: String(subject),
		module_id: String(fixtures.module),
		communityId: String(fixtures.community),
		id: op.path.includes("integration-keys") ? await freshKeyId() : "1",
		key: fixtures.imageKey,
		sessionId: "A".repeat(22),
		token: "A".repeat(43),
		email: target.email,
	};
	const headers: Record<string, string> = { "CF-Connecting-IP": "10.7.7.7" };
	// A signed-in caller gets a session of its own for each request: logout, session revokes and password changes
	// end the session they are sent with, and revoked means revoked for every later request.
	const principal = principals.get(caller);
	const token = principal ? await sessionToken(principal.id, principal.roles) : tokens.get(caller);
	if (token) Object.assign(headers, bearer(token));
	return validRequest(op, values, headers, fixtures.key);
}

beforeAll(async () => {
	operations = await loadOperations();
	for (const caller of ["plain", "Manager", "Admin", "API"] as const) {
		const roles: Role[] = caller === "plain" ? [] : [caller];
		const user = await createUser({ roles });
		principals.set(caller, { id: user.id, token: (await kc7Login(user.username as string)).token, roles });
		tokens.set(caller, (principals.get(caller) as Principal).token);
	}
	const plain = principals.get("plain") as Principal;
	const config = getConfig(env);
	const past = Date.now() - 60 * 60 * 1000;
	tokens.set(
		"expired",
		(await signAccessToken(env.JWT_PRIVATE_KEYS, config, { userId: plain.id, sessionId: "x", roles: ["Admin"] }, past))
			.token,
	);
	const foreign = JSON.parse(env.TEST_FOREIGN_JWK) as JWK;
	const now = Math.floor(Date.now() / 1000);
	tokens.set(
		"foreign-key",
		await new SignJWT({ sid: "x", roles: ["Admin"] })
			.setProtectedHeader({ alg: "ES256", kid: "test-signing", typ: "at+jwt" })
			.setIssuer(config.issuer)
			.setAudience(config.audience)
			.setSubject(String(plain.id))
			.setIssuedAt(now)
			.setExpirationTime(now + 900)
			.sign(await importJWK({ ...foreign, alg: "ES256" }, "ES256")),
	);
	const targetUser = await createUser();
	target = { id: targetUser.id, email: targetUser.email };
	const admin = principals.get("Admin") as Principal;
	fixtures = {
		module: (await createModule()).id,
		community: (await createCommunity({ db: db() }, { name: "Access", categories: ["a"] })).id,
		key: (await createIntegrationKey(serviceDeps(), { name: "access" }, admin.id)).key,
		imageKey: await storeImage(env.PROFILE_IMAGES, IMAGES["image/gif"], "image/gif", target.id),
	};
});

/**
 * What the matrix must cover, read from the raw document (not through loadOperations, whose reading it checks): every
 * operation under any HTTP method × every caller, and every operation that declares `x-self`.
 */
async function documentedCoverage(): Promise<{ pairs: Set<string>; selfOps: Set<string> }> {
	const res = await send("/openapi.json");
	expect(res.status).toBe(200);
	const doc = (await res.json()) as { paths: Record<string, Record<string, { "x-self"?: string }>> };
	const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
	const pairs = new Set<string>();
	const selfOps = new Set<string>();
	for (const [path, item] of Object.entries(doc.paths)) {
		for (const [method, op] of Object.entries(item)) {
			if (!HTTP_METHODS.includes(method)) continue;
			for (const caller of CALLERS) pairs.add(`${method.toUpperCase()} ${path} as ${caller}`);
			if (op["x-self"]) selfOps.add(`${method.toUpperCase()} ${path}`);
		}
	}
	return { pairs, selfOps };
}

/** The router's own answer for a path it does not serve under this method: the request never reached a handler. */
async function missedRoute(res: Response): Promise<boolean> {
	if (res.status === 405) return true;
	if (res.status !== 404) return false;
	return ((await res.clone().json()) as { message?: string }).message === "Resource not found";
}

describe("generated access matrix", () => {
	it("every operation × every caller matches its declared rule", async () => {
		const failures: string[] = [];
		// What was actually sent (the method of the request, the operation's template), and to whom.
		const exercised = new Set<string>();
		const selfChecked = new Set<string>();
		// Operations that a caller the rule allows got through to: answered by a handler, not the router's 404/405.
		const reached = new Set<string>();
		for (const op of operations) {
			for (const caller of CALLERS) {
				const { path, init } = await requestFor(op, caller, target.id);
				const res = await sendWith(ROOMY, path, init);
				exercised.add(`${init.method} ${op.path} as ${caller}`);
				const where = `${op.method} ${op.path} as ${caller} → ${res.status}`;
				if (res.status >= 500) failures.push(where);
				if (!needsBearer(op)) {
					if (res.status === 403) failures.push(`${where} (public route refused by role)`);
					if (!(await missedRoute(res))) reached.add(`${op.method} ${op.path}`);
					continue;
				}
				const principal = principals.get(caller);
				if (!principal) {
					if (res.status !== 401) failures.push(`${where} (expected 401)`);
					continue;
				}
				const allowed = !op.roles || principal.roles.some((r) => op.roles?.includes(r));
				if (allowed && (res.status === 401 || res.status === 403)) failures.push(`${where} (expected access)`);
				if (!allowed && res.status !== 403) failures.push(`${where} (expected 403)`);
				if (allowed && !(await missedRoute(res))) reached.add(`${op.method} ${op.path}`);
			}
			// Self-or-role routes: a plain user on their own resource is allowed.
			if (op.self) {
				const plain = principals.get("plain") as Principal;
				const { path, init } = await requestFor(op, "plain", plain.id);
				const res = await sendWith(ROOMY, path, init);
				selfChecked.add(`${init.method} ${op.path}`);
				if (res.status === 401 || res.status === 403 || res.status >= 500 || (await missedRoute(res))) {
					failures.push(`${op.method} ${op.path} as plain on self → ${res.status} (expected access)`);
				}
			}
		}
		const documented = await documentedCoverage();
		// Nothing skipped or sent under another method: the pairs exercised are exactly the document's cross product.
		expect([...exercised].sort()).toEqual([...documented.pairs].sort());
		expect([...selfChecked].sort()).toEqual([...documented.selfOps].sort());
		// And each operation was served to a caller it allows. A request the router does not match is answered 404 or
		// 405 for everyone, which the rules above let through for a public operation (neither a refusal by role nor a
		// 5xx) and for an allowed caller of any operation.
		const unreached = operations.map((o) => `${o.method} ${o.path}`).filter((o) => !reached.has(o));
		expect(unreached, "operations no allowed caller reached").toEqual([]);
		expect(failures, failures.join("\n")).toEqual([]);
	}, 300_000);

	it("every role-restricted operation declares its roles in the document", async () => {
		const restricted = operations.filter((o) => o.roles);
		expect(restricted.length).toBeGreaterThanOrEqual(15);
		for (const op of restricted) for (const role of op.roles ?? []) expect(["Admin", "Manager", "API"]).toContain(role);
	});
});

describe("methods and side effects", () => {
	it("every mutating path answers GET and HEAD with 404 or 405", async () => {
		const admin = principals.get("Admin") as Principal;
		const readable = new Set(operations.filter((o) => o.method === "GET").map((o) => o.path));
		const failures: string[] = [];
		for (const op of operations.filter((o) => o.method !== "GET" && !readable.has(o.path))) {
			const { path } = await requestFor(op, "Admin", target.id);
			for (const method of ["GET", "HEAD"]) {
				const res = await send(path, { method, headers: bearer(admin.token) });
				if (res.status !== 404 && res.status !== 405) failures.push(`${method} ${op.path} → ${res.status}`);
			}
		}
		expect(failures).toEqual([]);
	});

	it("no GET changes stored state (the contract's rotation, logout and login-link GETs aside)", async () => {
		const fingerprint = async () => {
			const tables = await env.DB.prepare(
				"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name",
			).all<{ name: string }>();
			const rows = [];
			for (const { name } of tables.results)
				rows.push(JSON.stringify((await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results));
			return sha256(rows.join("\n"));
		};
		const failures: string[] = [];
		for (const op of operations.filter((o) => o.method === "GET" && !STATEFUL_GETS.has(o.operationId))) {
			const { path, init } = await requestFor(op, "Admin", target.id);
			const before = await fingerprint();
			const res = await sendWith(ROOMY, path, init);
			if ((await fingerprint()) !== before) failures.push(`GET ${op.path} → ${res.status} changed state`);
		}
		expect(failures).toEqual([]);
	});
});

describe("object-level access", () => {
	it("a user cannot act on another user's sessions", async () => {
		const a = await createUser();
		const b = await createUser();
		const aLogin = await kc7Login(a.username as string);
		const aOther = await kc7Login(a.username as string);
		const bLogin = await send("/api/auth", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ username: b.username, password: "correct-horse-battery-staple" }),
		});
		const bRefresh = refreshCookieOf(bLogin) as string;
		// A changes their password (revoking their other sessions), then logs out (their own session, from their token).
		const changed = await send("/user/changepassword", {
			method: "PUT",
			headers: { ...bearer(aLogin.token), "Content-Type": "application/json" },
			body: JSON.stringify({ currentPassword: "correct-horse-battery-staple", newPassword: "a-brand-new-passphrase" }),
		});
		expect(changed.status).toBe(200);
		expect((await send("/sign/logout", { headers: bearer(aLogin.token) })).status).toBe(200);
		// Revoked means revoked: the logged-out session's access token no longer works.
		expect((await send("/user/profile", { headers: bearer(aLogin.token) })).status).toBe(401);
		// Both acted on A: A's sessions, this one and the other, are closed …
		expect((await send("/sign/refresh", { headers: withCookie(aLogin.refresh) })).status).toBe(401);
		expect((await send("/sign/refresh", { headers: withCookie(aOther.refresh) })).status).toBe(401);
		// … and on nothing of B's: B's session still refreshes and B's password still signs in.
		expect((await send("/sign/refresh", { headers: withCookie(bRefresh) })).status).toBe(200);
		await kc7Login(b.username as string);
	});
});

/** The roles a JWT claims (read, not verified: the suite above proves the server verifies). */
function rolesOf(token: string): Role[] {
	const payload = JSON.parse(atob((token.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/")));
	return payload.roles as Role[];
}

describe("no sequence of two calls escalates", () => {
	const ROLE_SETS: Role[][] = [[], ["Manager"], ["API"], ["Manager", "API"], ["Admin"], ["Admin", "API"]];

	it("mint-then-redeem: every caller × every target never yields roles beyond what the caller may grant", async () => {
		const admin = principals.get("Admin") as Principal;
		// An unbound key (the widest kind): if any key lets a caller escalate, this one does.
		const key = (await createIntegrationKey(serviceDeps(), { name: "escalation" }, admin.id)).key;
		let minted = 0;
		for (const callerRoles of ROLE_SETS.filter((r) => r.length > 0)) {
			const caller = await createUser({ roles: callerRoles });
			const callerToken = (await kc7Login(caller.username as string)).token;
			for (const targetRoles of ROLE_SETS) {
				const targetUser = await createUser({ roles: targetRoles });
				const res = await send(`/api/users/${targetUser.id}/magic-link`, {
					method: "POST",
					headers: { ...bearer(callerToken), "X-Integration-Key": key },
				});
				const label = `${callerRoles.join("+")} → ${targetRoles.join("+") || "plain"}`;
				if (res.status !== 200) {
					expect(res.status, label).toBe(403);
					continue;
				}
				minted += 1;
				const link = ((await res.json()) as { login_link: string }).login_link;
				const redeemed = await send(`/auth/token-login?token=${new URL(link).searchParams.get("token")}`);
				expect(redeemed.status, label).toBe(200);
				const granted = rolesOf(((await redeemed.json()) as { access_token: string }).access_token);
				// The session has the target's own roles: never Admin, and beyond the caller's only for an Admin caller.
				expect([...granted].sort(), label).toEqual([...targetRoles].sort());
				expect(granted, label).not.toContain("Admin");
				if (!callerRoles.includes("Admin")) expect(granted, label).toEqual([]);
			}
		}
		// Every caller reaches plain users (5 callers); Admins also Manager, API and Manager+API (2 Admin sets × 3).
		expect(minted).toBe(5 + 2 * 3);
	});

	it("refresh after a role change carries the roles as they are now, on both surfaces", async () => {
		const user = await createUser({ roles: ["Manager", "API"] });
		const res = await send("/api/auth", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ username: user.username, password: "correct-horse-battery-staple" }),
		});
		let refresh = refreshCookieOf(res) as string;
		expect(rolesOf(((await res.json()) as { access_token: string }).access_token).sort()).toEqual(["API", "Manager"]);
		await db()
			.delete(userRoles)
			.where(and(eq(userRoles.userId, user.id), eq(userRoles.role, "Manager")));
		const ild = await send("/sign/refresh", { headers: withCookie(refresh) });
		expect(rolesOf(((await ild.json()) as { token: string }).token)).toEqual(["API"]);
		refresh = refreshCookieOf(ild) as string;
		await db().delete(userRoles).where(eq(userRoles.userId, user.id));
		const kc7 = await send("/auth/refresh-token", { method: "POST", headers: withCookie(refresh) });
		expect(rolesOf(((await kc7.json()) as { access_token: string }).access_token)).toEqual([]);
	});
});

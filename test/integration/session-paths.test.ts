import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { type Role, userRoles, users } from "../../src/db/schema.ts";
import { createIntegrationKey } from "../../src/services/integration-keys.ts";
import { db, serviceDeps, userRow } from "../helpers/d1.ts";
import { createUser, PASSWORD, userWithToken } from "../helpers/factories.ts";
import { bearer, refreshCookieOf, send, sendJson, sendWith, withCookie } from "../helpers/http.ts";
import { eventually, outbox, tokenFromMail } from "../helpers/mail.ts";

/**
 * Every path that opens or continues a session, walked against every account state. The rules
 * (services/account-policy.ts) are decided once in the identity core; this table is what proves
 * no path forgot one. A route that opens or continues a session declares `x-session` in the
 * OpenAPI document, and the last test fails until such a route is added to PATHS below.
 */

type State =
	| "verified"
	| "unverified"
	| "provisioned"
	| "manager"
	| "api"
	| "admin"
	| "banned"
	| "banned until yesterday";
type Account = Awaited<ReturnType<typeof createUser>>;

const STATES: Record<State, () => Promise<Account>> = {
	verified: () => createUser(),
	unverified: () => createUser({ verified: false }),
	// Created by POST /api/users: no password, email unverified, signs in by link or after a reset.
	provisioned: () => createUser({ password: null, verified: false }),
	manager: () => createUser({ roles: ["Manager"] }),
	api: () => createUser({ roles: ["API"] }),
	admin: () => createUser({ roles: ["Admin"] }),
	// Banned after sign-up (as PUT /user/{id}/ban leaves the row), indefinitely or by a timed ban that has ended.
	banned: () => banned(null),
	"banned until yesterday": () => banned(Date.now() - 24 * 60 * 60 * 1000),
};

async function banned(until: number | null): Promise<Account> {
	const account = await createUser();
	await db()
		.update(users)
		.set({ bannedAt: Date.now() - 2 * 24 * 60 * 60 * 1000, bannedUntil: until, banReason: "test" })
		.where(eq(users.id, account.id));
	return account;
}

let staffKey: string;
let admin: { token: string };
let manager: { token: string };
beforeAll(async () => {
	const owner = await createUser({ roles: ["Admin"] });
	staffKey = (await createIntegrationKey(serviceDeps(), { name: "session paths" }, owner.id)).key;
	admin = await userWithToken(["Admin"]);
	manager = await userWithToken(["Manager"]);
});

function claimsOf(token: string): { sub: string; roles: Role[] } {
	const payload = token.split(".")[1] ?? "";
	return JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
}

async function mintLink(targetId: number, callerToken: string): Promise<{ status: number; token?: string }> {
	const res = await send(`/api/users/${targetId}/magic-link`, {
		method: "POST",
		headers: { ...bearer(callerToken), "X-Integration-Key": staffKey },
	});
	if (res.status !== 200) return { status: res.status };
	const { login_link } = (await res.json()) as { login_link: string };
	return { status: 200, token: new URL(login_link).searchParams.get("token") as string };
}

/** What a path gave: the status, and the access token and refresh cookie when it opened a session. */
interface Outcome {
	status: number;
	accessToken?: string;
	refresh?: string | null;
}

async function outcomeOf(res: Response, read: (body: Record<string, string>) => string | undefined): Promise<Outcome> {
	const refresh = refreshCookieOf(res);
	if (res.status !== 200 && res.status !== 302) return { status: res.status };
	if (res.status === 302) {
		// The browser flow has no access token in its answer: the session is the cookie; refresh to read it.
		const refreshed = await send("/sign/refresh", { headers: withCookie(refresh as string) });
		const body = (await refreshed.json()) as { token: string };
		return { status: 302, accessToken: body.token, refresh: refreshCookieOf(refreshed) };
	}
	return { status: 200, accessToken: read((await res.json()) as Record<string, string>), refresh };
}

/** A session-producing path: from an account, try to get a session. */
interface SessionPath {
	operationIds: string[];
	open(account: Account): Promise<Outcome>;
}

const byLink = (redeem: (token: string) => Promise<Response>, read: (b: Record<string, string>) => string) =>
	async function open(account: Account, callerToken = admin.token): Promise<Outcome> {
		const minted = await mintLink(account.id, callerToken);
		if (!minted.token) return { status: minted.status };
		return outcomeOf(await redeem(minted.token), read);
	};

const PATHS: Record<string, SessionPath> = {
	"ILD password": {
		operationIds: ["ildLogin"],
		open: async (a) =>
			outcomeOf(await sendJson("/sign/login", { email: a.email, password: a.password ?? PASSWORD }), (b) => b.token),
	},
	"KC7 password (username)": {
		operationIds: ["kc7Authenticate"],
		open: async (a) =>
			outcomeOf(
				await sendJson("/api/auth", { username: a.username, password: a.password ?? PASSWORD }),
				(b) => b.access_token,
			),
	},
	"KC7 password (email)": {
		operationIds: ["kc7Authenticate"],
		open: async (a) =>
			outcomeOf(
				await sendJson("/api/auth", { username: a.email, password: a.password ?? PASSWORD }),
				(b) => b.access_token,
			),
	},
	"login link, JSON redemption": {
		operationIds: ["kc7CreateLoginLink", "kc7TokenLogin"],
		open: byLink(
			(t) => send(`/auth/token-login?token=${t}`),
			(b) => b.access_token as string,
		),
	},
	"login link, browser redemption": {
		operationIds: ["kc7CreateLoginLink", "kc7RedeemMagicLink"],
		open: byLink(
			(t) => send(`/auth/magic-link?token=${t}`, { redirect: "manual" }),
			(b) => b.token as string,
		),
	},
	"password reset, then ILD password": {
		operationIds: ["ildRequestPasswordReset", "ildResetPassword"],
		open: async (a) => {
			const newPassword = `a fresh passphrase ${Math.random()}`;
			await sendJson("/sign/reset", { email: a.email });
			const mail = await eventually(async () => (await outbox(a.email)).find((m) => m.subject.includes("Reset")));
			const res = await sendJson(`/sign/reset/${tokenFromMail(mail.text)}`, { password: newPassword });
			if (res.status !== 200) return { status: res.status };
			return outcomeOf(await sendJson("/sign/login", { email: a.email, password: newPassword }), (b) => b.token);
		},
	},
};

/**
 * The expected answer of each path for each state: a session (with the account's own roles), or
 * the refusal. Provisioned accounts have no password; unverified ones may not use a password until
 * they prove the mailbox (a reset does); links to accounts holding a role need an Admin caller, and
 * never reach an Admin.
 */
const EXPECTED: Record<State, Record<string, number>> = {
	verified: { password: 200, link: 200, reset: 200 },
	unverified: { password: 403, link: 200, reset: 200 },
	provisioned: { password: 401, link: 200, reset: 200 },
	manager: { password: 200, link: 200, reset: 200 },
	api: { password: 200, link: 200, reset: 200 },
	admin: { password: 200, link: 403, reset: 200 },
	// A ban closes every door (403 "Account disabled" to the right password, no link is minted); a reset sets the
	// password but opens no session, and the sign-in after it is refused the same way.
	banned: { password: 403, link: 403, reset: 403 },
	"banned until yesterday": { password: 200, link: 200, reset: 200 },
};
const kindOf = (path: string) =>
	path.startsWith("login link") ? "link" : path.startsWith("password reset") ? "reset" : "password";

describe("every session-producing path × every account state", () => {
	for (const [state, make] of Object.entries(STATES) as [State, () => Promise<Account>][]) {
		for (const [name, path] of Object.entries(PATHS)) {
			const expected = EXPECTED[state][kindOf(name)] as number;
			it(`${name} for a ${state} account → ${expected}`, async () => {
				const account = await make();
				const roles = (await db().select().from(userRoles).where(eq(userRoles.userId, account.id))).map((r) => r.role);
				const outcome = await path.open(account);
				const status = outcome.status === 302 ? 200 : outcome.status;
				expect(status, name).toBe(expected);
				if (status !== 200) {
					expect(outcome.refresh ?? null, "a refused path sets no session cookie").toBeNull();
					return;
				}
				// A session carries the account's own roles, never the caller's.
				const claims = claimsOf(outcome.accessToken as string);
				expect(claims.sub).toBe(String(account.id));
				expect([...claims.roles].sort()).toEqual([...roles].sort());
				// And the session continues on both surfaces' refresh routes (with the same roles).
				const ild = await send("/sign/refresh", { headers: withCookie(outcome.refresh as string) });
				expect(ild.status).toBe(200);
				const kc7 = await send("/auth/refresh-token", {
					method: "POST",
					headers: withCookie(refreshCookieOf(ild) as string),
				});
				expect(kc7.status).toBe(200);
				const kc7Claims = claimsOf(((await kc7.json()) as { access_token: string }).access_token);
				expect([...kc7Claims.roles].sort()).toEqual([...roles].sort());
			});
		}
	}

	it("a login link minted by a non-Admin reaches plain accounts only", async () => {
		for (const state of ["verified", "unverified", "provisioned"] as const) {
			expect((await mintLink((await STATES[state]()).id, manager.token)).status, state).toBe(200);
		}
		for (const state of ["manager", "api", "admin"] as const) {
			expect((await mintLink((await STATES[state]()).id, manager.token)).status, state).toBe(403);
		}
	});

	it("redeeming a link never marks the email verified (the partner vouches for the session only)", async () => {
		const account = await STATES.unverified();
		expect((await PATHS["login link, JSON redemption"]?.open(account))?.status).toBe(200);
		expect((await userRow(account.id))?.emailVerifiedAt).toBeNull();
		expect((await PATHS["ILD password"]?.open(account))?.status).toBe(403);
	});

	it("a role granted after a non-Admin minted the link does not ride on it", async () => {
		const target = await createUser();
		const minted = await mintLink(target.id, manager.token);
		expect(minted.status).toBe(200);
		await db().insert(userRoles).values({ userId: target.id, role: "Manager" });
		expect((await send(`/auth/token-login?token=${minted.token}`)).status).toBe(401);
		await db().delete(userRoles).where(eq(userRoles.userId, target.id));
		expect((await send(`/auth/token-login?token=${minted.token}`)).status, "and the link is spent").toBe(401);
	});

	it("a link whose token KV has not seen yet (another location) still signs in, exactly once", async () => {
		const target = await createUser();
		const minted = await mintLink(target.id, admin.token);
		const blind = new Proxy(env.TOKENS, {
			get: (t, p) => (p === "get" ? async () => null : (Reflect.get(t, p, t)?.bind?.(t) ?? Reflect.get(t, p, t))),
		});
		expect((await sendWith({ TOKENS: blind }, `/auth/token-login?token=${minted.token}`)).status).toBe(200);
		expect((await sendWith({ TOKENS: blind }, `/auth/token-login?token=${minted.token}`)).status).toBe(401);
	});

	it("covers every operation the document marks as opening or continuing a session", async () => {
		const document = (await (await send("/openapi.json")).json()) as {
			paths: Record<string, Record<string, { operationId: string; "x-session"?: string }>>;
		};
		const marked = Object.values(document.paths)
			.flatMap((item) => Object.values(item))
			.filter((op) => op["x-session"] === "opens" || op["x-session"] === "continues")
			.map((op) => op.operationId);
		const covered = new Set([...Object.values(PATHS).flatMap((p) => p.operationIds), "ildRefresh", "kc7RefreshToken"]);
		expect(marked.length).toBeGreaterThanOrEqual(6);
		for (const operationId of marked) expect(covered, `${operationId} is not in the table`).toContain(operationId);
	});
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { communityMemberships, deletionRequests, emailReservations, moduleProgress } from "../../../src/db/schema.ts";
import { createIntegrationKey } from "../../../src/services/integration-keys.ts";
import { issueOneTimeToken } from "../../../src/services/one-time-tokens.ts";
import { grantPeriod } from "../../../src/services/subscriptions.ts";
import { db, serviceDeps } from "../../helpers/d1.ts";
import { community, createModule, createUser, ildLogin, PASSWORD, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send } from "../../helpers/http.ts";
import { uniqueEmail } from "../../helpers/unique.ts";

/**
 * GET /user/export: every stored field about the caller. The completeness check reads the schema itself: every table
 * with a column that names a user must be exported under a key (or be listed below with the reason it is not), and
 * every column of an exported table must appear in its export — so a new user-owned table or column that is not
 * exported fails here.
 */

type Json = Record<string, unknown>;

/** Table → export key. */
const EXPORTED: Record<string, string> = {
	users: "user",
	user_roles: "roles",
	community_memberships: "communities",
	subscription_periods: "subscriptionPeriods",
	module_progress: "moduleProgress",
	sessions: "sessions",
	security_events: "securityEvents",
	deletion_requests: "deletionRequest",
	email_reservations: "emailReservations",
	one_time_tokens: "oneTimeTokens",
	integration_keys: "integrationKeys",
};

/** Columns never exported: secrets, and the user id every exported row shares. Keyed `table.column`. */
const WITHHELD = new Set([
	"users.password_hash",
	"users.categories", // exported as the top-level `categories`
	"user_roles.user_id",
	"user_roles.role", // exported as the `roles` strings
	"community_memberships.user_id",
	"community_memberships.community_id", // as `id` (with the community's name)
	"subscription_periods.user_id",
	"module_progress.user_id",
	"sessions.user_id",
	"sessions.family", // half of the refresh token
	"sessions.token_hash",
	"sessions.prev_token_hash",
	"security_events.at", // these are the wire event's fields (GET /user/security-events): at, actor…
	"security_events.actor_type",
	"security_events.actor_id",
	"deletion_requests.user_id",
	"email_reservations.user_id",
	"one_time_tokens.token_hash", // the token itself, hashed
	"one_time_tokens.user_id",
	"one_time_tokens.closed_by", // a request nonce
	"integration_keys.key_hash",
]);

/** Columns whose export key is not their camelCase name. */
const RENAMED: Record<string, string> = { "module_progress.module_id": "moduleId" };

/** Tables with a user column that are deliberately not part of an account's export. */
const NOT_EXPORTED: Record<string, string> = {};

const camel = (column: string) => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

async function tablesNamingUsers(): Promise<string[]> {
	const tables = await env.DB.prepare(
		"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY name",
	).all<{ name: string }>();
	const naming: string[] = [];
	for (const { name } of tables.results) {
		const keys = await env.DB.prepare(`SELECT "table" FROM pragma_foreign_key_list('${name}')`).all<{
			table: string;
		}>();
		const columns = await env.DB.prepare(`SELECT name FROM pragma_table_info('${name}')`).all<{ name: string }>();
		const userColumn = columns.results.some((c) => /(^|_)user_id$/.test(c.name));
		if (name === "users" || userColumn || keys.results.some((k) => k.table === "users")) naming.push(name);
	}
	return naming;
}

async function columnsOf(table: string): Promise<string[]> {
	const columns = await env.DB.prepare(`SELECT name FROM pragma_table_info('${table}')`).all<{ name: string }>();
	return columns.results.map((c) => c.name);
}

/** A user with a row in every table that can hold one, and a live session. */
async function everythingUser() {
	const { user, token } = await userWithToken(["API"]);
	const now = Date.now();
	const group = await community(["security"]);
	await db().insert(communityMemberships).values({ userId: user.id, communityId: group.id, joinedAt: now });
	await db().run(
		// The categories a membership gives (as joining would recompute them).
		`update users set categories = '["security"]' where id = ${user.id}` as never,
	);
	await grantPeriod({ db: db() }, user.id, { plan: "pro", startsAt: now - 1000, endsAt: now + 86_400_000 });
	const module = await createModule({ maxScore: 10 });
	await db().insert(moduleProgress).values({ userId: user.id, moduleId: module.id, score: 7, updatedAt: now });
	await db()
		.insert(deletionRequests)
		.values({ userId: user.id, requestedAt: now, scheduledFor: now + 7 * 86_400_000 });
	await db()
		.insert(emailReservations)
		.values({ email: uniqueEmail(), userId: user.id, until: now + 86_400_000 });
	await issueOneTimeToken({ db: db(), env }, { purpose: "verify-email", userId: user.id, meta: { note: "test" } });
	await createIntegrationKey(serviceDeps(), { name: "export", ownerUserId: user.id, scope: "provisioned" }, user.id);
	return { user, token };
}

describe("GET /user/export", () => {
	it("is an attachment holding every stored field of every table that belongs to the account", async () => {
		const { user, token } = await everythingUser();
		const res = await send("/user/export", { headers: bearer(token) });
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
		expect(res.headers.get("Content-Disposition")).toMatch(
			/^attachment; filename="account-\d+-\d{4}-\d{2}-\d{2}\.json"$/,
		);
		const text = await res.text();
		const body = JSON.parse(text) as Json;
		expect(Object.keys(body).sort()).toEqual(
			[
				"user",
				"roles",
				"communities",
				"categories",
				"subscriptionPeriods",
				"moduleProgress",
				"sessions",
				"securityEvents",
				"deletionRequest",
				"emailReservations",
				"oneTimeTokens",
				"integrationKeys",
				"exportedAt",
			].sort(),
		);

		const tables = await tablesNamingUsers();
		const unaccounted = tables.filter((t) => !(t in EXPORTED) && !(t in NOT_EXPORTED));
		expect(unaccounted, "tables that belong to users but are not exported").toEqual([]);

		for (const [table, key] of Object.entries(EXPORTED)) {
			const value = body[key];
			const items = (Array.isArray(value) ? value : [value]) as Json[];
			expect(items.length, `${key}: the user has ${table} rows`).toBeGreaterThan(0);
			if (typeof items[0] !== "object") continue; // roles: strings
			for (const column of await columnsOf(table)) {
				const name = `${table}.${column}`;
				if (WITHHELD.has(name)) continue;
				const field = RENAMED[name] ?? camel(column);
				for (const item of items) expect(item, `${key} lacks ${field} (${name})`).toHaveProperty(field);
			}
		}

		expect((body.user as Json).email).toBe(user.email);
		expect(body.roles).toEqual(["API"]);
		expect(body.categories).toEqual(["security"]);
		expect((body.moduleProgress as Json[])[0]).toMatchObject({ score: 7, maxScore: 10 });
		expect((body.subscriptionPeriods as Json[])[0]).toMatchObject({ plan: "pro" });
		expect((body.user as Json).subscriptionStatus).toBe("active");
		expect(body.deletionRequest).toMatchObject({ scheduledFor: expect.stringMatching(/Z$/) });
		expect((body.securityEvents as Json[]).map((e) => e.type)).toContain("login.succeeded");
		expect((body.integrationKeys as Json[])[0]).toMatchObject({ name: "export", scope: "provisioned" });

		// No hash or secret of any kind.
		const stored = await env.DB.prepare(
			"SELECT password_hash AS secret FROM users WHERE id = ?1 UNION ALL SELECT token_hash FROM sessions WHERE user_id = ?1 UNION ALL SELECT family FROM sessions WHERE user_id = ?1 UNION ALL SELECT token_hash FROM one_time_tokens WHERE user_id = ?1 UNION ALL SELECT key_hash FROM integration_keys WHERE owner_user_id = ?1",
		)
			.bind(user.id)
			.all<{ secret: string }>();
		expect(stored.results.length).toBeGreaterThanOrEqual(4);
		for (const { secret } of stored.results) expect(text).not.toContain(secret);
		expect(text).not.toMatch(/passwordHash|tokenHash|keyHash|"family"/);
	});

	it("shows a password sign-in's session and its events with the user's own IP", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email, PASSWORD);
		const body = (await (await send("/user/export", { headers: bearer(token) })).json()) as Json;
		const sessions = body.sessions as Json[];
		expect(sessions).toHaveLength(1);
		expect(sessions[0]).toMatchObject({ method: "password", revokedAt: null });
		expect(body.deletionRequest).toBeNull();
		expect((body.securityEvents as Json[]).find((e) => e.type === "login.succeeded")?.ip).toMatch(/:/);
	});

	it("GET /user/{userId}/export: the same export for an Admin; 404 unknown, 403 non-Admins", async () => {
		const { user, token } = await everythingUser();
		const own = (await (await send("/user/export", { headers: bearer(token) })).json()) as Json;
		const admin = await userWithToken(["Admin"]);
		const res = await send(`/user/${user.id}/export`, { headers: bearer(admin.token) });
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Disposition")).toMatch(/^attachment; filename="account-/);
		const body = (await res.json()) as Json;
		expect(Object.keys(body).sort()).toEqual(Object.keys(own).sort());
		expect(body.user).toEqual(own.user);
		expect((body.securityEvents as Json[]).length).toBeGreaterThanOrEqual((own.securityEvents as Json[]).length);
		await expectError(await send("/user/999999999/export", { headers: bearer(admin.token) }), 404);
		const other = await userWithToken(["Manager"]);
		await expectError(await send(`/user/${user.id}/export`, { headers: bearer(other.token) }), 403);
	});

	it("needs a live Bearer token (401)", async () => {
		await expectError(await send("/user/export"), 401);
		await expectError(await send("/user/export", { headers: bearer("a.b.c") }), 401);
	});
});

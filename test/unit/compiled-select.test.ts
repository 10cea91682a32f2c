import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client.ts";
import { subscriptionPeriods, users } from "../../src/db/schema.ts";
import { createCommunity, joinCommunity } from "../../src/services/communities.ts";
import {
	findUserByEmail,
	findUserById,
	findUserByLogin,
	findUserIdentity,
	recordColumns,
	toRecord,
} from "../../src/services/users.ts";
import { countingD1, db, serviceDeps } from "../helpers/d1.ts";
import { createUser } from "../helpers/factories.ts";
import { unique } from "../helpers/unique.ts";

const DAY = 86_400_000;

/** The user record as Drizzle itself builds and maps it: what the compiled reads must equal. */
async function drizzleRecord(id: number) {
	return toRecord(await db().select(recordColumns()).from(users).where(eq(users.id, id)).get());
}

describe("the user-record reads rendered once per isolate (db/compiled-select.ts)", () => {
	it("equal Drizzle's own select, field for field, by id, email and username (any case)", async () => {
		const user = await createUser({ roles: ["Admin", "Manager"] });
		const deps = serviceDeps();
		const first = await createCommunity(deps, { name: unique("c"), categories: ["b", "a"] });
		const second = await createCommunity(deps, { name: unique("c"), categories: ["c"] });
		await joinCommunity(deps, user.id, second.id);
		await joinCommunity(deps, user.id, first.id);
		const now = Date.now();
		await db()
			.insert(subscriptionPeriods)
			.values([
				{ userId: user.id, plan: "old", startsAt: now - 30 * DAY, endsAt: now - 10 * DAY, createdAt: now },
				{ userId: user.id, plan: "pro", startsAt: now - DAY, endsAt: now + 10 * DAY, createdAt: now },
			]);

		const expected = await drizzleRecord(user.id);
		expect(expected).toMatchObject({
			id: user.id,
			roles: ["Admin", "Manager"],
			subscriptionStatus: "active",
			subscriptionPlan: "pro",
		});
		expect(expected?.communities).toHaveLength(2);
		expect(await findUserById(deps, user.id)).toStrictEqual(expected);
		expect(await findUserByEmail(deps, ` ${user.email.toUpperCase()} `)).toStrictEqual(expected);
		expect(await findUserByLogin(deps, user.email)).toStrictEqual(expected);
		expect(await findUserByLogin(deps, ` ${String(user.username).toUpperCase()} `)).toStrictEqual(expected);
	});

	it("the identity reads (KC7's lookups) equal Drizzle's select of the three columns", async () => {
		const user = await createUser();
		const deps = serviceDeps();
		const expected = await db()
			.select({ id: users.id, username: users.username, email: users.email })
			.from(users)
			.where(eq(users.id, user.id))
			.get();
		expect(expected).toStrictEqual({ id: user.id, username: user.username, email: user.email });
		expect(await findUserIdentity(deps, { id: user.id })).toStrictEqual(expected);
		expect(await findUserIdentity(deps, { email: ` ${user.email.toUpperCase()}` })).toStrictEqual(expected);
		expect(await findUserIdentity(deps, { username: `${String(user.username).toUpperCase()} ` })).toStrictEqual(
			expected,
		);
		expect(await findUserIdentity(deps, { id: 2_000_000_000 })).toBeNull();
	});

	it("equal Drizzle's for an account with nulls (no password, no username, no periods) and say null for no one", async () => {
		const user = await createUser({ password: null, username: null, verified: false });
		const deps = serviceDeps();
		const expected = await drizzleRecord(user.id);
		expect(expected).toMatchObject({ passwordHash: null, username: null, roles: [], communities: [] });
		expect(expected?.subscriptionStatus).toBe("none");
		expect(await findUserById(deps, user.id)).toStrictEqual(expected);
		expect(await findUserByEmail(deps, user.email)).toStrictEqual(expected);
		expect(await findUserById(deps, 2_000_000_000)).toBeNull();
		expect(await findUserByEmail(deps, `${unique("nobody")}@example.com`)).toBeNull();
		expect(await findUserByLogin(deps, unique("nobody"))).toBeNull();
	});

	it("read in one round trip, the same SQL each time, with the key and the time as parameters", async () => {
		const user = await createUser();
		const { d1, counter } = countingD1(env.DB);
		const deps = { ...serviceDeps(), db: createDb(d1) };
		await findUserById(deps, user.id);
		await findUserById(deps, user.id);
		expect(counter.count).toBe(2);
		const [a, b] = counter.statements as [{ sql: string; params: unknown[] }, { sql: string; params: unknown[] }];
		expect(a.sql).toBe(b.sql);
		expect(a.sql).not.toContain(String(user.id));
		expect(a.params).toContain(user.id);
	});
});

import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { users } from "../../../src/db/schema.ts";
import fixtureFile from "../../fixtures/werkzeug/fixtures.json";
import { db, userRow } from "../../helpers/d1.ts";
import { createUser, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson } from "../../helpers/http.ts";
import { uniqueIp } from "../../helpers/unique.ts";

/**
 * KC7 accounts brought over with their Werkzeug hashes (contract: Migrating KC7 accounts): they sign in on both
 * surfaces with their old password, and that first sign-in stores the current format in the session's write.
 */

interface Fixture {
	id: string;
	password: string;
	wrongPassword: string;
	hash: string;
	expect: string;
}
const fixtures = (fixtureFile as { fixtures: Fixture[] }).fixtures;
const fixture = (id: string) => fixtures.find((f) => f.id === id) as Fixture;

/** A verified account holding a legacy hash, as the importer leaves it. */
async function legacyAccount(hash: string) {
	const user = await createUser({ password: null });
	await db().update(users).set({ passwordHash: hash }).where(eq(users.id, user.id));
	return user;
}

const stats = async (token: string) =>
	(await (await send("/user/stats", { headers: bearer(token) })).json()) as {
		users: number;
		legacyPasswordHashes: number;
	};

let admin: string;
beforeAll(async () => {
	admin = (await userWithToken(["Admin"])).token;
});

describe("legacy (Werkzeug) accounts", () => {
	it.each([
		["pbkdf2-sha256-260000", "ild"],
		["scrypt-default", "kc7"],
		["sha256-legacy", "ild"],
		["pbkdf2-sha1", "kc7"],
	])("%s signs in on %s with its old password, and the stored hash becomes the current format", async (id, surface) => {
		const f = fixture(id);
		const user = await legacyAccount(f.hash);
		const before = await stats(admin);
		const signIn = (password: string) =>
			surface === "ild"
				? sendJson("/sign/login", { email: user.email, password })
				: sendJson("/api/auth", { username: user.username, password });
		await expectError(await signIn(f.wrongPassword), 401);
		expect((await userRow(user.id))?.passwordHash).toBe(f.hash); // a failure changes nothing
		expect((await signIn(f.password)).status).toBe(200);
		const stored = (await userRow(user.id))?.passwordHash as string;
		expect(stored.startsWith("pbkdf2-sha256$")).toBe(true);
		expect((await stats(admin)).legacyPasswordHashes).toBe(before.legacyPasswordHashes - 1);
		// The same password keeps working against the new hash.
		expect((await signIn(f.password)).status).toBe(200);
	});

	it("refuses a hash whose parameters are out of bounds as invalid credentials, and keeps it", async () => {
		for (const f of fixtures.filter((x) => x.expect === "refused").slice(0, 3)) {
			const user = await legacyAccount(f.hash);
			await expectError(await sendJson("/sign/login", { email: user.email, password: f.password }), 401);
			expect((await userRow(user.id))?.passwordHash).toBe(f.hash);
		}
	});

	it("20 parallel sign-ins of one legacy account: each succeeds or is limited, and one current-format hash remains", async () => {
		const f = fixture("pbkdf2-sha256-260000");
		const user = await legacyAccount(f.hash);
		const results = await Promise.all(
			Array.from({ length: 20 }, () =>
				sendJson(
					"/sign/login",
					{ email: user.email, password: f.password },
					{ headers: { "CF-Connecting-IP": uniqueIp() } },
				),
			),
		);
		for (const res of results) expect([200, 429]).toContain(res.status);
		expect(results.some((r) => r.status === 200)).toBe(true);
		const stored = (await userRow(user.id))?.passwordHash as string;
		expect(stored.startsWith("pbkdf2-sha256$")).toBe(true);
		expect((await sendJson("/sign/login", { email: user.email, password: f.password })).status).toBe(200);
	});

	it("GET /user/stats counts every account and the legacy hashes (Admin only)", async () => {
		const first = await stats(admin);
		await legacyAccount(fixture("scrypt-unicode").hash);
		await createUser();
		const second = await stats(admin);
		expect(second.users).toBe(first.users + 2);
		expect(second.legacyPasswordHashes).toBe(first.legacyPasswordHashes + 1);
		await expectError(await send("/user/stats"), 401);
		await expectError(await send("/user/stats", { headers: bearer((await userWithToken(["Manager"])).token) }), 403);
	});
});

import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { communityMemberships } from "../../src/db/schema.ts";
import { createCommunity } from "../../src/services/communities.ts";
import {
	bearer,
	countingD1,
	createUser,
	db,
	expectError,
	send,
	sendJson,
	sendWith,
	unique,
	userWithToken,
} from "../helpers.ts";

type User = { id: number; communities: number[]; categories: string[] };

const join = (token: string, id: number | string) =>
	send(`/user/community/join/${id}`, { method: "PATCH", headers: bearer(token) });
const community = (categories: string[]) => createCommunity(db(), { name: unique("Community "), categories });

describe("GET /communities", () => {
	it("lists communities with sorted categories, cacheable with an ETag", async () => {
		const created = await community(["security", "design", "design-ops"]);
		const res = await send("/communities");
		expect(res.status).toBe(200);
		const list = (await res.json()) as { id: number; name: string; categories: string[] }[];
		expect(list).toContainEqual({
			id: created.id,
			name: created.name,
			categories: ["design", "design-ops", "security"],
		});
		for (const item of list) expect(Object.keys(item).sort()).toEqual(["categories", "id", "name"]);
		expect(res.headers.get("Cache-Control")).toMatch(/public, max-age=\d+/);
		const etag = res.headers.get("ETag") as string;
		expect((await send("/communities", { headers: { "If-None-Match": etag } })).status).toBe(304);
		const { d1, counter } = countingD1(env.DB);
		await sendWith({ DB: d1 }, "/communities");
		expect(counter.count).toBe(1);
	});
});

describe("PATCH /user/community/join/:communityId", () => {
	it("joins idempotently and keeps categories the distinct union, in one D1 round trip", async () => {
		const a = await community(["ux", "research"]);
		const b = await community(["research", "writing"]);
		const { user, token } = await userWithToken();
		const first = (await (await join(token, a.id)).json()) as User;
		expect(first).toMatchObject({ id: user.id, communities: [a.id], categories: ["research", "ux"] });
		const { d1, counter } = countingD1(env.DB);
		const second = (await (
			await sendWith({ DB: d1 }, `/user/community/join/${b.id}`, { method: "PATCH", headers: bearer(token) })
		).json()) as User;
		expect(counter.count).toBe(1);
		expect(second.communities).toEqual([a.id, b.id].sort((x, y) => x - y));
		expect(second.categories).toEqual(["research", "ux", "writing"]);
		const again = (await (await join(token, b.id)).json()) as User;
		expect(again.communities).toEqual(second.communities);
		const rows = await db().select().from(communityMemberships).where(eq(communityMemberships.userId, user.id));
		expect(rows).toHaveLength(2);
	});

	it('404s "Community not found" for unknown and non-numeric ids; 401 without a token', async () => {
		const { token } = await userWithToken();
		for (const id of ["999999", "abc", "-1", "1.5"])
			await expectError(await join(token, id), 404, "Community not found");
		await expectError(await send("/user/community/join/1", { method: "PATCH" }), 401);
	});
});

describe("community management (Admin)", () => {
	it("creates and updates communities; members' categories follow an update", async () => {
		const admin = await userWithToken(["Admin"]);
		const created = await sendJson(
			"/communities",
			{ name: "Makers", description: "Builders", categories: ["hardware", "3d"] },
			{ headers: bearer(admin.token) },
		);
		expect(created.status).toBe(201);
		const made = (await created.json()) as { id: number };
		expect(made).toEqual({
			id: expect.any(Number),
			name: "Makers",
			description: "Builders",
			categories: ["3d", "hardware"],
		});

		const member = await userWithToken();
		await join(member.token, made.id);
		const updated = await sendJson(
			`/communities/${made.id}`,
			{ categories: ["electronics", "hardware"] },
			{ method: "PUT", headers: bearer(admin.token) },
		);
		expect(await updated.json()).toEqual({
			id: made.id,
			name: "Makers",
			description: "Builders",
			categories: ["electronics", "hardware"],
		});
		const profile = (await (await send("/user/profile", { headers: bearer(member.token) })).json()) as User;
		expect(profile.categories).toEqual(["electronics", "hardware"]);
		const renamed = await sendJson(
			`/communities/${made.id}`,
			{ name: "Makers Guild" },
			{ method: "PUT", headers: bearer(admin.token) },
		);
		expect(await renamed.json()).toMatchObject({ name: "Makers Guild", categories: ["electronics", "hardware"] });
	});

	it("validates, 404s unknown communities, and is Admin only", async () => {
		const admin = await userWithToken(["Admin"]);
		await expectError(
			await sendJson("/communities", { name: "X", categories: ["a", "a"] }, { headers: bearer(admin.token) }),
			400,
			/unique/,
		);
		await expectError(
			await sendJson("/communities", { categories: [] }, { headers: bearer(admin.token) }),
			400,
			"Name is required",
		);
		await expectError(
			await sendJson("/communities/999999", { categories: ["x"] }, { method: "PUT", headers: bearer(admin.token) }),
			404,
			"Community not found",
		);
		for (const roles of [[], ["Manager"], ["API"]] as const) {
			const { token } = await userWithToken([...roles]);
			await expectError(
				await sendJson("/communities", { name: "X" }, { headers: bearer(token) }),
				403,
				"Insufficient permissions",
			);
		}
		await expectError(await sendJson("/communities", { name: "X" }), 401);
	});
});

describe("PATCH /user/:userId/index (Admin)", () => {
	it("recomputes the stored categories as the distinct union of the user's communities", async () => {
		const admin = await userWithToken(["Admin"]);
		const a = await community(["alpha", "beta"]);
		const b = await community(["beta", "gamma"]);
		const user = await createUser();
		// Memberships written behind the API's back: only a reindex brings categories up to date.
		await db()
			.insert(communityMemberships)
			.values([
				{ userId: user.id, communityId: a.id, joinedAt: Date.now() },
				{ userId: user.id, communityId: b.id, joinedAt: Date.now() },
			]);
		const res = await send(`/user/${user.id}/index`, { method: "PATCH", headers: bearer(admin.token) });
		expect(await res.json()).toEqual({ id: user.id, categories: ["alpha", "beta", "gamma"] });
		const alone = await createUser();
		expect(
			await (await send(`/user/${alone.id}/index`, { method: "PATCH", headers: bearer(admin.token) })).json(),
		).toEqual({ id: alone.id, categories: [] });
		await expectError(
			await send("/user/999999999/index", { method: "PATCH", headers: bearer(admin.token) }),
			404,
			"User not found",
		);
	});
});

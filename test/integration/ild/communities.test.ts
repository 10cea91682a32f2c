import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countingD1 } from "../../helpers/d1.ts";
import { community, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson, sendWith } from "../../helpers/http.ts";
import { join } from "../../helpers/requests.ts";

type User = { id: number; communities: number[]; categories: string[] };

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

import { env } from "cloudflare:workers";
import { asc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { modules } from "../../../src/db/schema.ts";
import { countingD1, db } from "../../helpers/d1.ts";
import { createModule, createUser, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson, sendWith } from "../../helpers/http.ts";

const putScore = (token: string, userId: number, moduleId: number, body: unknown) =>
	sendJson(`/api/users/${userId}/modules/${moduleId}`, body, { method: "PUT", headers: bearer(token) });

let core: Awaited<ReturnType<typeof createModule>>;
let extra: Awaited<ReturnType<typeof createModule>>;
beforeAll(async () => {
	core = await createModule({ maxScore: 200, title: "Core module" });
	extra = await createModule({ maxScore: 50, isCore: false, title: "Elective module" });
});

async function coreModules() {
	return db().select().from(modules).where(eq(modules.isCore, true)).orderBy(asc(modules.sortOrder), asc(modules.id));
}

describe("GET /api/modules", () => {
	it("lists the core modules, cacheable with an ETag; If-None-Match gives 304", async () => {
		const res = await send("/api/modules");
		expect(res.status).toBe(200);
		const list = (await res.json()) as { id: number }[];
		const expected = await coreModules();
		expect(list).toEqual(
			expected.map((m) => ({
				id: m.id,
				title: m.title,
				clean_title: m.cleanTitle,
				description: m.description,
				est_time: m.estTime,
				difficulty: m.difficulty,
			})),
		);
		expect(list.some((m) => m.id === extra.id)).toBe(false);
		expect(res.headers.get("Cache-Control")).toMatch(/public, max-age=\d+/);
		const etag = res.headers.get("ETag") as string;
		expect(etag).toMatch(/^"[\w-]+"$/);
		const again = await send("/api/modules", { headers: { "If-None-Match": etag } });
		expect(again.status).toBe(304);
		expect(await again.text()).toBe("");
		expect(again.headers.get("ETag")).toBe(etag);
		expect((await send("/api/modules", { headers: { "If-None-Match": '"other"' } })).status).toBe(200);
	});

	it("costs one D1 query when not cached (CATALOG_CACHE_SECONDS=0)", async () => {
		const { d1, counter } = countingD1(env.DB);
		expect((await sendWith({ DB: d1 }, "/api/modules")).status).toBe(200);
		expect(counter.count).toBe(1);
	});

	it("is served from each isolate's memory while cached: 200 requests, one D1 query, the same body", async () => {
		const { d1, counter } = countingD1(env.DB);
		const cached = { DB: d1, CATALOG_CACHE_SECONDS: "60" };
		const first = await sendWith(cached, "/api/modules");
		const body = await first.text();
		for (let i = 0; i < 199; i++) {
			const res = await sendWith(cached, "/api/modules");
			expect(res.status).toBe(200);
			expect(await res.text()).toBe(body);
		}
		expect(counter.count).toBe(1);
		// A module added meanwhile shows once the cache time is over (here: on a binding whose cache is cold).
		await createModule({ title: "Added later" });
		const fresh = countingD1(env.DB);
		const later = await sendWith({ DB: fresh.d1, CATALOG_CACHE_SECONDS: "60" }, "/api/modules");
		expect(await later.text()).toContain("Added later");
	});

	it("refuses an invalid CATALOG_CACHE_SECONDS (fails closed: 500)", async () => {
		for (const bad of ["-1", "3601", "1.5", "ten"])
			expect((await sendWith({ CATALOG_CACHE_SECONDS: bad }, "/api/modules")).status, bad).toBe(500);
	});
});

describe("progress", () => {
	it("records a score (enrolling the user) and reads it back as a 0–1 fraction", async () => {
		const { token } = await userWithToken(["API"]);
		const learner = await createUser();
		const res = await putScore(token, learner.id, core.id, { score: 150 });
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({
			user_id: learner.id,
			module_id: core.id,
			score: 150,
			max_score: 200,
			progress: 0.75,
		});

		const one = await send(`/api/users/${learner.id}/modules/${core.id}`, { headers: bearer(token) });
		expect(await one.json()).toEqual({
			user_id: learner.id,
			module_id: core.id,
			score: 150,
			max_score: 200,
			progress: 0.75,
		});

		const all = (await (await send(`/api/users/${learner.id}/modules`, { headers: bearer(token) })).json()) as {
			module_id: number;
			progress: number;
			score: number;
		}[];
		expect(all.map((m) => m.module_id)).toEqual((await coreModules()).map((m) => m.id));
		expect(all.find((m) => m.module_id === core.id)).toEqual({
			module_id: core.id,
			module_name: "Core module",
			score: 150,
			max_score: 200,
			progress: 0.75,
		});
		for (const m of all.filter((m) => m.module_id !== core.id)) {
			expect(m.score).toBe(0);
			expect(m.progress).toBe(0);
		}
		// Updating replaces the score.
		expect(await (await putScore(token, learner.id, core.id, { score: 200 })).json()).toMatchObject({ progress: 1 });
	});

	it("validates 0 ≤ score ≤ max_score and its type", async () => {
		const { token } = await userWithToken(["Admin"]);
		const learner = await createUser();
		await expectError(
			await putScore(token, learner.id, core.id, { score: 201 }),
			400,
			"Score must be between 0 and 200",
		);
		await expectError(await putScore(token, learner.id, core.id, { score: -1 }), 400);
		await expectError(await putScore(token, learner.id, core.id, { score: 1.5 }), 400);
		await expectError(await putScore(token, learner.id, core.id, { score: "80" }), 400);
		await expectError(await putScore(token, learner.id, core.id, {}), 400, "Score is required");
		expect((await putScore(token, learner.id, core.id, { score: 0 })).status).toBe(200);
		expect((await putScore(token, learner.id, extra.id, { score: 50 })).status).toBe(200);
	});

	it('404s "User not found", "Module not found" and "User is not enrolled in this module"', async () => {
		const { token } = await userWithToken(["Admin"]);
		const learner = await createUser();
		await expectError(await send(`/api/users/999999999/modules`, { headers: bearer(token) }), 404, "User not found");
		await expectError(
			await send(`/api/users/999999999/modules/${core.id}`, { headers: bearer(token) }),
			404,
			"User not found",
		);
		await expectError(
			await send(`/api/users/${learner.id}/modules/999999`, { headers: bearer(token) }),
			404,
			"Module not found",
		);
		await expectError(
			await send(`/api/users/${learner.id}/modules/${core.id}`, { headers: bearer(token) }),
			404,
			"User is not enrolled in this module",
		);
		await expectError(await putScore(token, 999999999, core.id, { score: 1 }), 404, "User not found");
		await expectError(await putScore(token, learner.id, 999999, { score: 1 }), 404, "Module not found");
	});

	it("lets users read their own progress; another plain user gets 403 whether or not the target exists", async () => {
		const me = await userWithToken();
		const other = await createUser();
		expect((await send(`/api/users/${me.user.id}/modules`, { headers: bearer(me.token) })).status).toBe(200);
		await expectError(await send(`/api/users/${other.id}/modules`, { headers: bearer(me.token) }), 403);
		await expectError(await send(`/api/users/999999999/modules`, { headers: bearer(me.token) }), 403);
		await expectError(await send(`/api/users/${other.id}/modules/${core.id}`, { headers: bearer(me.token) }), 403);
		// A user cannot record their own score.
		await expectError(await putScore(me.token, me.user.id, core.id, { score: 10 }), 403);
	});

	it("only Admin and API record scores: Manager and plain users get 403, no token 401", async () => {
		const learner = await createUser();
		for (const [roles, status] of [
			[["Admin"], 200],
			[["API"], 200],
			[["Manager"], 403],
			[[], 403],
		] as const) {
			const { token } = await userWithToken([...roles]);
			expect((await putScore(token, learner.id, core.id, { score: 10 })).status).toBe(status);
		}
		await expectError(
			await sendJson(`/api/users/${learner.id}/modules/${core.id}`, { score: 1 }, { method: "PUT" }),
			401,
		);
	});

	it("rejects non-numeric ids with 400", async () => {
		const { token } = await userWithToken(["Admin"]);
		await expectError(
			await send("/api/users/abc/modules", { headers: bearer(token) }),
			400,
			"User id must be a positive integer",
		);
		await expectError(
			await send(`/api/users/1/modules/-1`, { headers: bearer(token) }),
			400,
			"Module id must be a positive integer",
		);
	});

	it("reads with one D1 round trip each", async () => {
		const { token } = await userWithToken(["Manager"]);
		const learner = await createUser();
		for (const path of [`/api/users/${learner.id}/modules`, `/api/users/${learner.id}/modules/${core.id}`]) {
			const { d1, counter } = countingD1(env.DB);
			const res = await sendWith({ DB: d1 }, path, { headers: bearer(token) });
			expect(res.status).toBeLessThan(500);
			expect(counter.count).toBe(1);
		}
	});
});

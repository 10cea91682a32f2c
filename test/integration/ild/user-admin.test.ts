import { beforeAll, describe, expect, it } from "vitest";
import { communityMemberships, subscriptionPeriods } from "../../../src/db/schema.ts";
import { recalculateSubscription } from "../../../src/services/subscriptions.ts";
import { db } from "../../helpers/d1.ts";
import { community, createUser, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson } from "../../helpers/http.ts";
import { unique } from "../../helpers/unique.ts";

/** The Admin routes under /user: GET /user, GET /user/{userId}, its subscription and category index. */

const DAY = 24 * 60 * 60 * 1000;
let admin: string;
beforeAll(async () => {
	admin = (await userWithToken(["Admin"])).token;
});

async function addPeriod(userId: number, plan: string, startsAt: number, endsAt: number) {
	await db()
		.insert(subscriptionPeriods)
		.values({ userId, plan, startsAt, endsAt, source: "test", createdAt: Date.now() });
}

describe("subscriptions", () => {
	it("computes status at the boundaries: half-open periods, future-only is none", async () => {
		const now = Date.UTC(2026, 5, 1);
		const cases: [
			string,
			[string, number, number][],
			{ status: string; plan: string | null; validUntil: number | null },
		][] = [
			["no periods", [], { status: "none", plan: null, validUntil: null }],
			["future only", [["pro", now + 1, now + DAY]], { status: "none", plan: null, validUntil: null }],
			["starting exactly now", [["pro", now, now + DAY]], { status: "active", plan: "pro", validUntil: now + DAY }],
			["ending exactly now", [["pro", now - DAY, now]], { status: "expired", plan: "pro", validUntil: now }],
			[
				"ended yesterday and future",
				[
					["old", now - 2 * DAY, now - DAY],
					["new", now + DAY, now + 2 * DAY],
				],
				{ status: "expired", plan: "old", validUntil: now - DAY },
			],
			[
				"latest ended wins",
				[
					["a", now - 9 * DAY, now - 5 * DAY],
					["b", now - 4 * DAY, now - 3 * DAY],
				],
				{ status: "expired", plan: "b", validUntil: now - 3 * DAY },
			],
			[
				"covering ending last wins",
				[
					["short", now - DAY, now + DAY],
					["long", now - DAY, now + 9 * DAY],
					["past", now - 9 * DAY, now - 8 * DAY],
				],
				{ status: "active", plan: "long", validUntil: now + 9 * DAY },
			],
		];
		for (const [name, periods, expected] of cases) {
			const user = await createUser();
			for (const [plan, start, end] of periods) await addPeriod(user.id, plan, start, end);
			expect(await recalculateSubscription({ db: db() }, user.id, now), name).toEqual(expected);
		}
	});

	it("is computed when read: a period that ends or begins after the last write reads right", async () => {
		const user = await createUser();
		const now = Date.now();
		const ending = now + 400;
		const starting = now + 400;
		await addPeriod(user.id, "ending", now - DAY, ending);
		const other = await createUser();
		await addPeriod(other.id, "starting", starting, now + DAY);
		// The stored columns say what they said at the last write (active / none) …
		await recalculateSubscription({ db: db() }, user.id, now);
		await recalculateSubscription({ db: db() }, other.id, now);
		const read = async (id: number) =>
			((await (await send(`/user/${id}`, { headers: bearer(admin) })).json()) as { subscription: { status: string } })
				.subscription.status;
		expect(await read(user.id)).toBe("active");
		expect(await read(other.id)).toBe("none");
		await new Promise((resolve) => setTimeout(resolve, Math.max(0, ending - Date.now()) + 50));
		// … and nothing was written since; every read still tells the truth as of now.
		expect(await read(user.id)).toBe("expired");
		expect(await read(other.id)).toBe("active");
		const list = await send(`/user?limit=200&q=${encodeURIComponent(user.email)}`, { headers: bearer(admin) });
		expect(((await list.json()) as { subscription: { status: string } }[])[0]?.subscription.status).toBe("expired");
		// The explicit refresh returns the same answer a read does.
		const recalculated = await send(`/user/${user.id}/recalculate-subscription`, {
			method: "PUT",
			headers: bearer(admin),
		});
		expect(((await recalculated.json()) as { subscription: { status: string } }).subscription.status).toBe("expired");
	});

	it("PUT /user/:userId/recalculate-subscription stores and returns the subscription", async () => {
		const user = await createUser();
		const now = Date.now();
		await addPeriod(user.id, "team", now - DAY, now + 30 * DAY);
		const res = await send(`/user/${user.id}/recalculate-subscription`, { method: "PUT", headers: bearer(admin) });
		expect(await res.json()).toEqual({
			id: user.id,
			subscription: { status: "active", plan: "team", validUntil: new Date(now + 30 * DAY).toISOString() },
		});
		const profile = await send(`/user/${user.id}`, { headers: bearer(admin) });
		expect(((await profile.json()) as { subscription: unknown }).subscription).toEqual({
			status: "active",
			plan: "team",
			validUntil: new Date(now + 30 * DAY).toISOString(),
		});
		await expectError(
			await send("/user/999999999/recalculate-subscription", { method: "PUT", headers: bearer(admin) }),
			404,
			"User not found",
		);
	});

	it("POST /user/:userId/subscription-periods grants a period and updates the subscription at once", async () => {
		const user = await createUser();
		const startsAt = new Date(Date.now() - DAY).toISOString();
		const endsAt = new Date(Date.now() + 7 * DAY).toISOString();
		const res = await sendJson(
			`/user/${user.id}/subscription-periods`,
			{ plan: "pro", startsAt, endsAt, source: "invoice-7" },
			{ headers: bearer(admin) },
		);
		expect(res.status).toBe(201);
		expect(await res.json()).toEqual({
			period: { id: expect.any(Number), plan: "pro", startsAt, endsAt, source: "invoice-7" },
			subscription: { status: "active", plan: "pro", validUntil: endsAt },
		});
		const periods = await send(`/user/${user.id}/subscription-periods`, { headers: bearer(admin) });
		expect(((await periods.json()) as unknown[]).length).toBe(1);
		await expectError(
			await sendJson(
				`/user/${user.id}/subscription-periods`,
				{ plan: "pro", startsAt: endsAt, endsAt: startsAt },
				{ headers: bearer(admin) },
			),
			400,
			/after/,
		);
		await expectError(
			await sendJson(
				`/user/${user.id}/subscription-periods`,
				{ plan: "pro", startsAt: "yesterday", endsAt },
				{ headers: bearer(admin) },
			),
			400,
		);
		await expectError(
			await sendJson(
				"/user/999999999/subscription-periods",
				{ plan: "pro", startsAt, endsAt },
				{ headers: bearer(admin) },
			),
			404,
		);
	});
});

describe("GET /user (Admin)", () => {
	it("pages with limit/offset, counts in X-Total-Count and filters with q", async () => {
		const tag = unique("pager");
		const made = [];
		for (let i = 0; i < 3; i++) made.push(await createUser({ email: `${tag}-${i}@example.com`, firstName: `Zed${i}` }));
		const page = await send(`/user?q=${tag}&limit=2`, { headers: bearer(admin) });
		expect(page.headers.get("X-Total-Count")).toBe("3");
		const first = (await page.json()) as { id: number; email: string }[];
		expect(first.map((u) => u.id)).toEqual([made[0]?.id, made[1]?.id]);
		const rest = (await (await send(`/user?q=${tag}&limit=2&offset=2`, { headers: bearer(admin) })).json()) as {
			id: number;
		}[];
		expect(rest.map((u) => u.id)).toEqual([made[2]?.id]);
		// A user object, like everywhere else.
		expect(Object.keys(first[0] as object).sort()).toEqual(
			[
				"banned",
				"banReason",
				"bannedUntil",
				"categories",
				"communities",
				"createdAt",
				"email",
				"emailVerified",
				"firstName",
				"id",
				"lastName",
				"profileImage",
				"roles",
				"subscription",
				"tutorialCompleted",
				"updatedAt",
				"username",
			].sort(),
		);
		// Name search, and LIKE wildcards in q are literal.
		const byName = (await (await send(`/user?q=${tag.toUpperCase()}`, { headers: bearer(admin) })).json()) as unknown[];
		expect(byName).toHaveLength(3);
		expect((await send("/user?q=%25%25%25", { headers: bearer(admin) })).headers.get("X-Total-Count")).toBe("0");
	});

	it("defaults limit to 50, clamps it to 200, and 400s non-numeric limit or offset", async () => {
		for (let i = 0; i < 5; i++) await createUser();
		for (const limit of ["500", "1000000000", "9".repeat(30)]) {
			const all = await send(`/user?limit=${limit}`, { headers: bearer(admin) });
			expect(all.status).toBe(200);
			expect(((await all.json()) as unknown[]).length).toBeLessThanOrEqual(200);
		}
		// An offset past the last user, however large, is an empty page that still counts the users.
		for (const offset of ["1000000000", "9".repeat(30)]) {
			const past = await send(`/user?offset=${offset}`, { headers: bearer(admin) });
			expect(past.status).toBe(200);
			expect(await past.json()).toEqual([]);
			expect(Number(past.headers.get("X-Total-Count"))).toBeGreaterThanOrEqual(5);
		}
		const byDefault = (await (await send("/user", { headers: bearer(admin) })).json()) as unknown[];
		expect(byDefault.length).toBeLessThanOrEqual(50);
		for (const query of ["limit=abc", "offset=-1", "limit=1.5", "offset=x", "limit=", "role=Admin", "search=x"]) {
			await expectError(await send(`/user?${query}`, { headers: bearer(admin) }), 400);
		}
	});

	it("GET /user/:userId returns the user object; unknown 404, non-numeric 404", async () => {
		const user = await createUser();
		expect(await (await send(`/user/${user.id}`, { headers: bearer(admin) })).json()).toMatchObject({
			id: user.id,
			email: user.email,
		});
		await expectError(await send("/user/999999999", { headers: bearer(admin) }), 404, "User not found");
		await expectError(await send("/user/abc", { headers: bearer(admin) }), 404);
	});

	it("is Admin only: 401 without a token, 403 with the contract's body for everyone else", async () => {
		const user = await createUser();
		const routes: [string, string][] = [
			["GET", "/user"],
			["GET", `/user/${user.id}`],
			["PATCH", `/user/${user.id}/index`],
			["PUT", `/user/${user.id}/recalculate-subscription`],
			["GET", `/user/${user.id}/subscription-periods`],
		];
		for (const [method, path] of routes) {
			expect(await (await send(path, { method })).json()).toEqual({
				error: "Unauthorized",
				message: "Authentication required",
			});
			for (const roles of [[], ["Manager"], ["API"]] as const) {
				const { token } = await userWithToken([...roles]);
				const res = await send(path, { method, headers: bearer(token) });
				expect(res.status, `${method} ${path} ${roles}`).toBe(403);
				expect(await res.json()).toEqual({ error: "Forbidden", message: "Insufficient permissions" });
			}
			expect((await send(path, { method, headers: bearer(admin) })).status).toBe(200);
		}
		// Authorization before existence.
		const { token } = await userWithToken();
		await expectError(await send("/user/999999999", { headers: bearer(token) }), 403);
	});

	it("leaves static /user/… paths to their own routes (405, not admin lookups)", async () => {
		const { token } = await userWithToken();
		for (const path of ["/user/tutorial", "/user/changepassword"]) {
			const res = await send(path, { headers: bearer(token) });
			expect(res.status).toBe(405);
			expect(res.headers.get("Allow")).toBe("PUT");
		}
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

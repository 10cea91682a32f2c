import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../src/db/schema.ts";
import {
	DEMO_COMMUNITIES,
	DEMO_INTEGRATION_KEY,
	DEMO_MODULES,
	DEMO_PASSWORD,
	DEMO_USERS,
	seedStatements,
} from "../../src/db/seed.ts";
import { parsePeppers } from "../../src/lib/password.ts";
import { db } from "../helpers/d1.ts";
import { bearer, send, sendJson } from "../helpers/http.ts";

describe("demo seed (npm run dev)", () => {
	it("is idempotent and yields the contract's demo accounts with their roles", async () => {
		const peppers = parsePeppers(env.PASSWORD_PEPPERS);
		for (let run = 0; run < 2; run++) {
			await env.DB.batch((await seedStatements(peppers)).map((s) => env.DB.prepare(s)));
		}
		const emails = DEMO_USERS.map((u) => u.email);
		const rows = await db().select().from(users).where(inArray(users.email, emails));
		expect(rows).toHaveLength(4);
		for (const demo of DEMO_USERS) {
			const res = await sendJson("/api/auth", { username: demo.username, password: DEMO_PASSWORD });
			expect(res.status).toBe(200);
			const { access_token } = (await res.json()) as { access_token: string };
			const check = (await (await send("/sign/check", { headers: bearer(access_token) })).json()) as {
				roles: string[];
			};
			expect(check.roles).toEqual(demo.roles);
			// Demo emails are verified, so ILD sign-in works too.
			expect((await sendJson("/sign/login", { email: demo.email, password: DEMO_PASSWORD })).status).toBe(200);
		}
	});

	it("seeds core modules, the plain user's progress and the dev integration key", async () => {
		await env.DB.batch((await seedStatements(parsePeppers(env.PASSWORD_PEPPERS))).map((s) => env.DB.prepare(s)));
		const catalog = (await (await send("/api/modules")).json()) as { id: number; title: string }[];
		for (const m of DEMO_MODULES) expect(catalog).toContainEqual(expect.objectContaining({ id: m.id, title: m.title }));

		const api = (await (await sendJson("/api/auth", { username: "api", password: DEMO_PASSWORD })).json()) as {
			access_token: string;
		};
		const plain = await db().select().from(users).where(eq(users.email, "user@example.com")).get();
		const progress = await send(`/api/users/${plain?.id}/modules/1`, { headers: bearer(api.access_token) });
		expect(await progress.json()).toMatchObject({ score: 80, max_score: 100, progress: 0.8 });

		const link = await send(`/api/users/${plain?.id}/magic-link`, {
			method: "POST",
			headers: { ...bearer(api.access_token), "X-Integration-Key": DEMO_INTEGRATION_KEY },
		});
		expect(link.status).toBe(200);
	});

	it("seeds communities with categories and the plain user's membership and subscription", async () => {
		await env.DB.batch((await seedStatements(parsePeppers(env.PASSWORD_PEPPERS))).map((s) => env.DB.prepare(s)));
		const communities = (await (await send("/communities")).json()) as { id: number; categories: string[] }[];
		for (const c of DEMO_COMMUNITIES) {
			expect(communities).toContainEqual({ id: c.id, name: c.name, categories: [...c.categories].sort() });
		}
		const login = (await (
			await sendJson("/sign/login", { email: "user@example.com", password: DEMO_PASSWORD })
		).json()) as {
			user: { communities: number[]; categories: string[]; subscription: { status: string; plan: string } };
		};
		expect(login.user.communities).toEqual([1]);
		expect(login.user.categories).toEqual(["design", "pedagogy"]);
		expect(login.user.subscription).toMatchObject({ status: "active", plan: "pro" });
		// What the seed stored is what the API's own rules compute.
		const admin = (await (await sendJson("/api/auth", { username: "admin", password: DEMO_PASSWORD })).json()) as {
			access_token: string;
		};
		const plain = await db().select().from(users).where(eq(users.email, "user@example.com")).get();
		const recalculated = await send(`/user/${plain?.id}/recalculate-subscription`, {
			method: "PUT",
			headers: bearer(admin.access_token),
		});
		expect(((await recalculated.json()) as { subscription: unknown }).subscription).toEqual(login.user.subscription);
	});
});

import { env } from "cloudflare:workers";
import { desc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../../src/db/client.ts";
import { type SecurityEventType, securityEvents, users } from "../../../src/db/schema.ts";
import { NO_REQUEST } from "../../../src/services/deps.ts";
import { listSecurityEvents, listUserSecurityEvents, recordEvent } from "../../../src/services/security-events.ts";
import { countingD1, db } from "../../helpers/d1.ts";
import { createUser, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send } from "../../helpers/http.ts";
import type { WireEvent } from "../../helpers/requests.ts";

/** The audit log's read routes: GET /user/security-events, GET /user/{userId}/security-events, GET /security-events. */

interface Page {
	events: WireEvent[];
	nextCursor: string | null;
}

const DAY = 24 * 60 * 60 * 1000;
type Row = typeof securityEvents.$inferInsert;

/** Rows straight into the table, a few per statement (D1 allows 100 bound parameters), returning their ids. */
async function seed(rows: Partial<Row>[]): Promise<number[]> {
	const ids: number[] = [];
	for (let i = 0; i < rows.length; i += 5) {
		const chunk = rows.slice(i, i + 5).map((row) => ({
			at: Date.now(),
			type: "profile.updated" as const,
			outcome: "success" as const,
			userId: null,
			actorType: "user" as const,
			...row,
		}));
		const inserted = await db().insert(securityEvents).values(chunk).returning({ id: securityEvents.id });
		ids.push(...inserted.map((r) => r.id));
	}
	return ids;
}

/** Every event id about a user, newest first, as the database holds them. */
async function idsOf(userId: number): Promise<number[]> {
	const rows = await db()
		.select({ id: securityEvents.id })
		.from(securityEvents)
		.where(eq(securityEvents.userId, userId))
		.orderBy(desc(securityEvents.id));
	return rows.map((r) => r.id);
}

async function page(path: string, token: string): Promise<Page> {
	const res = await send(path, { headers: bearer(token) });
	const text = await res.text();
	expect(res.status, text).toBe(200);
	expect(res.headers.get("Cache-Control")).toContain("no-store");
	return JSON.parse(text) as Page;
}

/** Follows nextCursor from `path` to the last page, returning every page. */
async function allPages(path: string, token: string): Promise<Page[]> {
	const pages: Page[] = [];
	let next: string | null = null;
	do {
		const separator = path.includes("?") ? "&" : "?";
		const current = await page(next === null ? path : `${path}${separator}cursor=${next}`, token);
		pages.push(current);
		next = current.nextCursor;
		expect(pages.length).toBeLessThan(100);
	} while (next !== null);
	return pages;
}

let admin: { id: number; token: string };
beforeAll(async () => {
	const { user, token } = await userWithToken(["Admin"]);
	admin = { id: user.id, token };
});

describe("GET /user/security-events", () => {
	it("returns the caller's own events, newest first, in the contract's shape", async () => {
		const { user, token } = await userWithToken();
		const other = await createUser();
		const at = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
		const facts = { ip: "203.0.113.9", country: "DE", city: "Berlin", userAgent: "TestAgent/1.0", requestId: "req-1" };
		await recordEvent(
			{ db: db(), request: facts },
			{
				type: "link.created",
				userId: user.id,
				actor: { type: "partner", id: admin.id },
				integrationKeyId: 7,
				sessionId: "session-1",
				detail: { reason: "test", n: 2, ok: true, none: null },
			},
			at,
		);
		await recordEvent(
			{ db: db(), request: NO_REQUEST },
			{ type: "login.failed", outcome: "failure", userId: user.id, actor: { type: "user", id: user.id } },
		);
		await recordEvent(
			{ db: db(), request: NO_REQUEST },
			{ type: "profile.updated", userId: other.id, actor: { type: "user", id: other.id } },
		);

		const body = await page("/user/security-events", token);
		expect(body.events.every((e) => e.userId === user.id)).toBe(true);
		expect(body.events.map((e) => e.id)).toEqual(await idsOf(user.id));
		const [newest, seeded] = body.events;
		expect(newest).toMatchObject({
			type: "login.failed",
			outcome: "failure",
			actor: { type: "user", id: user.id },
			ip: null,
			detail: {},
		});
		expect(seeded).toEqual({
			id: expect.any(Number),
			at: "2026-01-02T03:04:05.678Z",
			type: "link.created",
			outcome: "success",
			userId: user.id,
			actor: { type: "partner", id: admin.id },
			integrationKeyId: 7,
			sessionId: "session-1",
			// Someone else acted (a partner): their address, browser and request id are not shown to the user.
			ip: null,
			country: null,
			userAgent: null,
			requestId: null,
			detail: { reason: "test", n: 2, ok: true, none: null },
		});
		expect(body.nextCursor).toBeNull();
		// An Admin reading the same user's log sees them.
		const asAdmin = await page(`/user/${user.id}/security-events`, admin.token);
		expect(asAdmin.events.find((e) => e.type === "link.created")).toMatchObject({
			ip: "203.0.113.9",
			country: "DE",
			userAgent: "TestAgent/1.0",
			requestId: "req-1",
		});
	});

	it("pages with the cursor: every event exactly once, in order, across pages; the cursor is opaque", async () => {
		const { user, token } = await userWithToken();
		await seed(Array.from({ length: 11 }, () => ({ userId: user.id })));
		const expected = await idsOf(user.id);
		expect(expected.length).toBeGreaterThanOrEqual(11);

		const pages = await allPages("/user/security-events?limit=4", token);
		for (const p of pages.slice(0, -1)) expect(p.events).toHaveLength(4);
		expect(pages.flatMap((p) => p.events.map((e) => e.id))).toEqual(expected);
		const cursor = pages[0]?.nextCursor as string;
		expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
		expect(cursor).not.toBe(String(pages[0]?.events.at(-1)?.id));

		// Events written after the first page do not shift the pages that follow it.
		const newer = await seed([{ userId: user.id }]);
		const second = await page(`/user/security-events?limit=4&cursor=${cursor}`, token);
		expect(second.events.map((e) => e.id)).toEqual(pages[1]?.events.map((e) => e.id));
		expect(second.events.map((e) => e.id)).not.toContain(newer[0]);
	});

	it("defaults to 50 events and clamps a limit above 200 to 200", async () => {
		const { user, token } = await userWithToken();
		await seed(Array.from({ length: 205 }, () => ({ userId: user.id })));
		const byDefault = await page("/user/security-events", token);
		expect(byDefault.events).toHaveLength(50);
		expect(byDefault.nextCursor).not.toBeNull();
		expect((await page(`/user/security-events?limit=${"9".repeat(25)}`, token)).events).toHaveLength(200);
		const clamped = await page("/user/security-events?limit=100000", token);
		expect(clamped.events).toHaveLength(200);
		expect(clamped.nextCursor).not.toBeNull();
		const rest = await page(`/user/security-events?limit=200&cursor=${clamped.nextCursor}`, token);
		expect([...clamped.events, ...rest.events].map((e) => e.id)).toEqual(await idsOf(user.id));
		expect(rest.nextCursor).toBeNull();
	});

	it("refuses a non-numeric limit and a malformed cursor (400), and a missing or bad token (401)", async () => {
		const { token } = await userWithToken();
		for (const query of [
			"limit=abc",
			"limit=-1",
			"limit=1.5",
			"limit=1e3",
			"limit=0",
			"limit=",
			"limit=1&limit=2",
			"cursor=abc",
			"cursor=",
			"cursor=12",
			`cursor=${btoa("e0")}`,
			`cursor=${"A".repeat(100)}`,
			"cursor=ZTE%3D", // "e1" padded: not the form this API mints
		]) {
			await expectError(await send(`/user/security-events?${query}`, { headers: bearer(token) }), 400);
		}
		await expectError(await send("/user/security-events"), 401);
		await expectError(await send("/user/security-events", { headers: bearer("a.b.c") }), 401);
	});

	it("answers 401 to a valid token whose user is gone", async () => {
		const { user, token } = await userWithToken();
		await db().delete(users).where(eq(users.id, user.id));
		await expectError(await send("/user/security-events", { headers: bearer(token) }), 401);
	});

	it("reads the page and the user's existence in one D1 round trip", async () => {
		const user = await createUser();
		await seed([{ userId: user.id }, { userId: user.id }]);
		const { d1, counter } = countingD1(env.DB);
		const listed = await listUserSecurityEvents({ db: createDb(d1) }, user.id, { limit: 1 });
		expect(counter.count).toBe(1);
		expect(listed?.events).toHaveLength(1);
		expect(listed?.nextCursor).toBe(listed?.events[0]?.id);
		const all = countingD1(env.DB);
		await listSecurityEvents({ db: createDb(all.d1) }, { limit: 5, type: "profile.updated" });
		expect(all.counter.count).toBe(1);
	});
});

describe("GET /user/{userId}/security-events (Admin)", () => {
	it("lists any user's events, filtered by type, paged", async () => {
		const user = await createUser();
		const types: SecurityEventType[] = [
			"login.succeeded",
			"login.failed",
			"login.succeeded",
			"logout",
			"login.succeeded",
		];
		const ids = await seed(types.map((type) => ({ userId: user.id, type })));
		const body = await page(`/user/${user.id}/security-events`, admin.token);
		expect(body.events.map((e) => e.id)).toEqual(await idsOf(user.id));

		const pages = await allPages(`/user/${user.id}/security-events?type=login.succeeded&limit=2`, admin.token);
		const succeeded = ids.filter((_, i) => types[i] === "login.succeeded").reverse();
		expect(pages.flatMap((p) => p.events.map((e) => e.id))).toEqual(succeeded);
		expect(pages.map((p) => p.events.length)).toEqual([2, 1]);
	});

	it("is 404 for an unknown user, 403 for a caller who is not an Admin, 401 without a token", async () => {
		const user = await createUser();
		await expectError(
			await send("/user/999999999/security-events", { headers: bearer(admin.token) }),
			404,
			"User not found",
		);
		for (const roles of [[], ["Manager"], ["API"]] as const) {
			const { token } = await userWithToken([...roles]);
			await expectError(await send(`/user/${user.id}/security-events`, { headers: bearer(token) }), 403);
		}
		await expectError(await send(`/user/${user.id}/security-events`), 401);
	});

	it("refuses an unknown type, a non-numeric limit and a malformed cursor (400)", async () => {
		const user = await createUser();
		for (const query of ["type=login", "type=LOGIN.SUCCEEDED", "limit=ten", "cursor=%00"]) {
			await expectError(await send(`/user/${user.id}/security-events?${query}`, { headers: bearer(admin.token) }), 400);
		}
	});
});

describe("GET /security-events (Admin)", () => {
	// A window no other test writes into.
	const start = Date.UTC(2001, 0, 1);

	it("lists all events, including those about no account, filtered by type and time", async () => {
		const user = await createUser();
		const ids = await seed([
			{ at: start, type: "login.failed", outcome: "failure", userId: null, actorType: "user" },
			{ at: start + DAY, type: "login.succeeded", userId: user.id },
			{ at: start + 2 * DAY, type: "login.failed", outcome: "failure", userId: user.id },
			{ at: start + 3 * DAY, type: "user.banned", userId: user.id, actorType: "admin", actorId: admin.id },
			{ at: start + 4 * DAY, type: "login.failed", outcome: "failure", userId: null },
		]);
		const window = (since: number, until: number) =>
			`since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}`;
		const everything = await page(`/security-events?${window(start, start + 5 * DAY)}`, admin.token);
		expect(everything.events.map((e) => e.id)).toEqual([...ids].reverse());
		expect(everything.events[0]).toMatchObject({ userId: null, type: "login.failed", at: "2001-01-05T00:00:00.000Z" });

		// since is inclusive, until exclusive.
		const middle = await page(`/security-events?${window(start + DAY, start + 3 * DAY)}`, admin.token);
		expect(middle.events.map((e) => e.id)).toEqual([ids[2], ids[1]]);
		// With an offset, and combined with type, across pages.
		const failed = await allPages(
			`/security-events?type=login.failed&limit=1&since=2001-01-01T01:00:00%2B01:00&until=2001-01-10T00:00:00Z`,
			admin.token,
		);
		expect(failed.flatMap((p) => p.events.map((e) => e.id))).toEqual([ids[4], ids[2], ids[0]]);
		// ISO 8601 without a zone is UTC; a date alone is its UTC midnight (start is 2001-01-01T00:00Z).
		const dates = await page("/security-events?since=2001-01-02&until=2001-01-04T00:00", admin.token);
		expect(dates.events.map((e) => e.id)).toEqual([ids[2], ids[1]]);

		// Without filters: the newest events of all, the seeded ones among everything else.
		const all = await page("/security-events?limit=200", admin.token);
		expect(all.events.map((e) => e.id)).toEqual([...all.events.map((e) => e.id)].sort((a, b) => b - a));
	});

	it("pages every event exactly once", async () => {
		const from = Date.UTC(2002, 0, 1);
		const ids = await seed(Array.from({ length: 9 }, (_, i) => ({ at: from + i * 1000 })));
		const pages = await allPages(
			`/security-events?limit=2&since=${new Date(from).toISOString()}&until=${new Date(from + DAY).toISOString()}`,
			admin.token,
		);
		expect(pages.flatMap((p) => p.events.map((e) => e.id))).toEqual([...ids].reverse());
		expect(pages).toHaveLength(5);
	});

	it("refuses times that are not ISO 8601, and bad limits, cursors and types (400)", async () => {
		for (const query of [
			"since=yesterday",
			"since=2001-02-30",
			"since=2001-01-01T24:00:00Z",
			"since=2001-01-01Z",
			"until=2001-13-01T00:00:00Z",
			"until=1700000000000",
			"since=20010101",
			"limit=many",
			"cursor=%F0%9F%98%80",
			"type=login.%00",
		]) {
			await expectError(await send(`/security-events?${query}`, { headers: bearer(admin.token) }), 400);
		}
		// A filter this API does not have is refused, naming it: the client must not take all events for its filter.
		const unknown = await expectError(await send("/security-events?userId=1", { headers: bearer(admin.token) }), 400);
		expect(JSON.stringify(unknown)).toContain("userId");
		const own = await userWithToken();
		await expectError(await send("/user/security-events?type=login.failed", { headers: bearer(own.token) }), 400);
	});

	it("is for Admins only", async () => {
		for (const roles of [[], ["Manager"], ["API"]] as const) {
			const { token } = await userWithToken([...roles]);
			await expectError(await send("/security-events", { headers: bearer(token) }), 403);
		}
		await expectError(await send("/security-events"), 401);
	});
});

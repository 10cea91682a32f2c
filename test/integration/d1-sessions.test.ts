import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { openD1Session } from "../../src/db/d1-session.ts";
import { createIntegrationKey } from "../../src/services/integration-keys.ts";
import { issueOneTimeToken } from "../../src/services/one-time-tokens.ts";
import { countingD1, db, serviceDeps } from "../helpers/d1.ts";
import { community, createModule, createUser, ildLogin, PASSWORD } from "../helpers/factories.ts";
import { bearer, send, sendJson, sendWith } from "../helpers/http.ts";
import { loadOperations, type Operation, validRequest } from "../helpers/openapi-walk.ts";
import { deviceSession } from "../helpers/requests.ts";
import { uniqueIp } from "../helpers/unique.ts";

/**
 * Global reads (contract, "Global reads (v2)"): every request that decides something starts its D1 session at the
 * primary — generated over every operation of the document, each called validly with a bookmark in both the header
 * and the cookie — and only the anonymous public reads start at any replica or at the client's bookmark. Every
 * response of a request that ran a query carries the bookmark (header and cookie), errors included.
 */

/** The anonymous public reads: the only operations whose reads may come from a replica. */
const PUBLIC_READS = new Set(["kc7ListModules", "ildListCommunities", "ildGetPublicProfile"]);

const BOOKMARK = "00000000-00000001-00000000-00000000000000000000000000000000";
const withBookmark = (headers: Record<string, string> = {}) => ({
	...headers,
	"X-D1-Bookmark": BOOKMARK,
	Cookie: `d1_bookmark=${BOOKMARK}`,
});

const bookmarkCookie = (res: Response) => res.headers.getSetCookie().find((c) => c.startsWith("d1_bookmark="));

describe("where each request's D1 reads start", () => {
	let operations: Operation[];
	let values: Record<string, string>;
	let admin: { id: number; token: string };
	let key: string;

	beforeAll(async () => {
		operations = await loadOperations();
		const adminUser = await createUser({ roles: ["Admin", "Manager", "API"], password: null });
		admin = { id: adminUser.id, token: (await deviceSession(adminUser.id, ["Admin", "Manager", "API"])).token };
		key = (await createIntegrationKey(serviceDeps(), { name: "d1-sessions" }, adminUser.id)).key;
		const target = await createUser({ password: null });
		values = {
			user_id: String(target.id),
			userId: String(target.id),
			user: String(target.id),
			email: target.email,
			module_id: String((await createModule()).id),
			communityId: String((await community(["d1"])).id),
			id: "1",
			key: "A".repeat(43),
			sessionId: "not-a-session",
			token: "A".repeat(43),
		};
	});

	it("every operation but the anonymous public reads starts at the primary, bookmark or not", async () => {
		const failures: string[] = [];
		let checked = 0;
		for (const op of operations) {
			// A fresh session per call: some operations end the caller's sessions.
			const token = (await deviceSession(admin.id, ["Admin", "Manager", "API"])).token;
			const { path, init } = validRequest(
				op,
				values,
				withBookmark({ ...bearer(token), "CF-Connecting-IP": uniqueIp() }),
				key,
			);
			const { d1, counter } = countingD1(env.DB);
			const res = await sendWith({ DB: d1 }, path, init);
			if (res.status >= 500) failures.push(`${op.method} ${op.path} → ${res.status}`);
			if (counter.queries.length === 0) continue;
			checked++;
			const starts = [...new Set(counter.queries.map((q) => q.start))];
			const expected = PUBLIC_READS.has(op.operationId) ? [BOOKMARK] : ["first-primary"];
			if (JSON.stringify(starts) !== JSON.stringify(expected))
				failures.push(`${op.method} ${op.path}: reads started at ${starts.join(", ")}`);
		}
		expect(failures, failures.join("\n")).toEqual([]);
		expect(checked).toBeGreaterThan(40);
	}, 120_000);

	it("sign-in, refresh and one-time tokens (the security reads without a Bearer token) read the primary", async () => {
		const user = await createUser();
		const run = async (name: string, call: (d1: D1Database) => Promise<Response>) => {
			const { d1, counter } = countingD1(env.DB);
			const res = await call(d1);
			expect(res.status, name).toBeLessThan(500);
			expect(counter.queries.length, name).toBeGreaterThan(0);
			expect(new Set(counter.queries.map((q) => q.start)), name).toEqual(new Set(["first-primary"]));
			return res;
		};
		const login = await run("POST /sign/login", (d1) =>
			sendWith({ DB: d1 }, "/sign/login", {
				method: "POST",
				headers: withBookmark({ "Content-Type": "application/json", "CF-Connecting-IP": uniqueIp() }),
				body: JSON.stringify({ email: user.email, password: PASSWORD }),
			}),
		);
		const refresh =
			login.headers
				.getSetCookie()
				.find((c) => c.startsWith("refresh_token="))
				?.split(";")[0] ?? "";
		await run("GET /sign/refresh", (d1) =>
			sendWith({ DB: d1 }, "/sign/refresh", { headers: { Cookie: `${refresh}; d1_bookmark=${BOOKMARK}` } }),
		);
		const link = await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId: user.id });
		await run("GET /auth/token-login", (d1) =>
			sendWith({ DB: d1 }, `/auth/token-login?token=${link.token}`, { headers: withBookmark() }),
		);
		await run("POST /api/auth", (d1) =>
			sendWith({ DB: d1 }, "/api/auth", {
				method: "POST",
				headers: withBookmark({ "Content-Type": "application/json", "CF-Connecting-IP": uniqueIp() }),
				body: JSON.stringify({ username: user.username, password: PASSWORD }),
			}),
		);
	});

	it("public reads: any replica without a bookmark, the bookmark when sent, the primary for a malformed one", async () => {
		const startOf = async (headers: Record<string, string>) => {
			const { d1, counter } = countingD1(env.DB);
			expect((await sendWith({ DB: d1 }, "/communities", { headers })).status).toBe(200);
			return [...new Set(counter.queries.map((q) => q.start))];
		};
		expect(await startOf({})).toEqual(["first-unconstrained"]);
		expect(await startOf({ "X-D1-Bookmark": BOOKMARK })).toEqual([BOOKMARK]);
		expect(await startOf({ Cookie: `d1_bookmark=${BOOKMARK}` })).toEqual([BOOKMARK]);
		for (const bad of ["garbage", "' or 1=1 --", "0000-0000", `${BOOKMARK}0`])
			expect(await startOf({ "X-D1-Bookmark": bad, Cookie: `d1_bookmark=${bad}` }), bad).toEqual(["first-primary"]);
	});
});

describe("the bookmark goes back", () => {
	it("on every response of a request that ran a query, errors included, as header and cookie", async () => {
		const user = await createUser();
		const ok = await sendJson("/sign/login", { email: user.email, password: PASSWORD });
		const failed = await sendJson("/sign/login", { email: user.email, password: "wrong-password" });
		const missing = await send("/user/999999999/ban", {
			method: "DELETE",
			headers: bearer((await ildLogin((await createUser({ roles: ["Admin"] })).email)).token),
		});
		expect([ok.status, failed.status, missing.status]).toEqual([200, 401, 404]);
		for (const res of [ok, failed, missing]) {
			const bookmark = res.headers.get("X-D1-Bookmark");
			expect(bookmark).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
			const cookie = bookmarkCookie(res);
			expect(cookie).toContain(`d1_bookmark=${bookmark}`);
			expect(cookie).toMatch(/HttpOnly/);
			expect(cookie).toMatch(/Secure/);
			expect(cookie).toMatch(/SameSite=Lax/);
			expect(cookie).toMatch(/Path=\//);
		}
	});

	it("not on a response that ran no query; browsers may read it (CORS exposes it)", async () => {
		const res = await send("/api");
		expect(res.headers.get("X-D1-Bookmark")).toBeNull();
		expect(bookmarkCookie(res)).toBeUndefined();
		const cors = await send("/communities", { headers: { Origin: "http://localhost:5173" } });
		expect(cors.headers.get("Access-Control-Expose-Headers")).toMatch(/X-D1-Bookmark/i);
		const preflight = await send("/user/profile", {
			method: "OPTIONS",
			headers: {
				Origin: "http://localhost:5173",
				"Access-Control-Request-Method": "GET",
				"Access-Control-Request-Headers": "authorization, x-d1-bookmark",
			},
		});
		expect(preflight.headers.get("Access-Control-Allow-Headers")).toMatch(/X-D1-Bookmark/i);
	});

	it("read-your-writes: a public read with the bookmark of a write sees that write", async () => {
		const user = await createUser({ firstName: "Before" });
		const session = await deviceSession(user.id);
		const put = await send("/user/profile", {
			method: "PUT",
			headers: { ...bearer(session.token), "Content-Type": "application/json" },
			body: JSON.stringify({ firstName: "After" }),
		});
		expect(put.status).toBe(200);
		const bookmark = put.headers.get("X-D1-Bookmark") as string;
		const res = await send(`/user/profile/${user.id}`, { headers: { "X-D1-Bookmark": bookmark } });
		expect(((await res.json()) as { firstName: string }).firstName).toBe("After");
		expect(res.headers.get("X-D1-Bookmark")).toBeTruthy();
	});
});

describe("a bookmark D1 refuses", () => {
	it("starts the request over at the primary instead of failing", async () => {
		const starts: string[] = [];
		const binding = new Proxy(env.DB, {
			get(target, prop) {
				if (prop === "withSession")
					return (start: string) => {
						starts.push(start);
						const session = target.withSession(start);
						if (start === "first-primary") return session;
						// As production D1 answers a bookmark it does not know.
						const refuse = () => Promise.reject(new Error("D1_ERROR: invalid bookmark"));
						const statement: Record<string, unknown> = { all: refuse, raw: refuse, first: refuse, run: refuse };
						statement.bind = () => statement;
						return { prepare: () => statement, batch: refuse, getBookmark: () => start };
					};
				const value = Reflect.get(target, prop, target);
				return typeof value === "function" ? value.bind(target) : value;
			},
		});
		const session = openD1Session(binding, BOOKMARK);
		const result = await session.d1.prepare("select 1 as one").all<{ one: number }>();
		expect(result.results).toEqual([{ one: 1 }]);
		expect(starts).toEqual([BOOKMARK, "first-primary"]);
		expect(session.start).toBe("first-primary");
		expect(session.bookmark()).toMatch(/^[0-9a-f]{8}-/);
		const res = await sendWith({ DB: binding }, "/communities", { headers: { "X-D1-Bookmark": BOOKMARK } });
		expect(res.status).toBe(200);
	});
});

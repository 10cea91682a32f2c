import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { users } from "../../src/db/schema.ts";
import { db } from "../helpers/d1.ts";
import { createUser } from "../helpers/factories.ts";
import { expectError, PRODUCTION_VARS, send, sendJson, sendWith } from "../helpers/http.ts";
import { eventually, outbox } from "../helpers/mail.ts";

/**
 * Configuration fails closed: a malformed value makes the Worker refuse to serve (500 in the
 * envelope, one log line naming the variable), never run with a guessed or missing setting.
 */
describe("configuration is validated at startup", () => {
	afterEach(() => vi.restoreAllMocks());

	const INVALID: [string, Record<string, string>][] = [
		["RATE_LIMITS", { RATE_LIMITS: JSON.stringify({ loginAcount: { limit: 10, windowSeconds: 900 } }) }],
		["RATE_LIMITS", { RATE_LIMITS: JSON.stringify({ loginAccount: { limit: 10, window: 900 } }) }],
		["RATE_LIMITS", { RATE_LIMITS: JSON.stringify({ loginAccount: { limit: "10", windowSeconds: 900 } }) }],
		["RATE_LIMITS", { RATE_LIMITS: JSON.stringify({ loginAccount: { limit: 0, windowSeconds: 900 } }) }],
		["RATE_LIMITS", { RATE_LIMITS: "{not json" }],
		["ENVIRONMENT", { ENVIRONMENT: "dev" }],
		["PUBLIC_BASE_URL", { PUBLIC_BASE_URL: "localhost:8787" }],
		["DASHBOARD_URL", { DASHBOARD_URL: "javascript:alert(1)" }],
		["DASHBOARD_URL", { DASHBOARD_URL: "https://app.example.com//dashboard" }],
		["ALLOWED_ORIGINS", { ALLOWED_ORIGINS: "https://app.example.com, not a url" }],
		["REFRESH_COOKIE_SAMESITE", { REFRESH_COOKIE_SAMESITE: "Laxx" }],
		["REQUIRE_EMAIL_VERIFICATION", { REQUIRE_EMAIL_VERIFICATION: "yes" }],
		["MAIL_PROVIDER", { MAIL_PROVIDER: "smtp" }],
		["MAIL_PROVIDER", { ENVIRONMENT: "production", MAIL_PROVIDER: "outbox" }],
		["MAIL_API_URL", { MAIL_PROVIDER: "http", MAIL_API_URL: "" }],
		["PASSWORD_PEPPERS", { PASSWORD_PEPPERS: "no-colon" }],
		["JWT_ISSUER", { JWT_ISSUER: "" }],
	];

	for (const [variable, overrides] of INVALID) {
		it(`refuses to serve with an invalid ${variable} (${JSON.stringify(overrides)})`, async () => {
			const logged: string[] = [];
			vi.spyOn(console, "error").mockImplementation((...args) => logged.push(args.map(String).join(" ")));
			// A fresh env object: configuration is parsed once per env (isolate), so each case starts clean.
			const res = await sendWith({ ...overrides } as Partial<Env>, "/api");
			await expectError(res, 500, "An unexpected error occurred");
			expect(res.headers.get("X-Request-Id")).toBeTruthy();
			// Every other header an answer carries (CORS aside: it needs the configuration).
			expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
			expect(res.headers.get("Cache-Control")).toBe("no-store");
			expect(res.headers.get("Content-Security-Policy")).toBe("default-src 'none'; frame-ancestors 'none'");
			expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
			expect(res.headers.get("Vary")).toBe("Origin");
			expect(logged.join("\n")).toContain(`"variable":"${variable}"`);
		});
	}

	it("a typo in RATE_LIMITS never turns the limits off: sign-in is refused, not unlimited", async () => {
		vi.spyOn(console, "error").mockImplementation(() => {});
		const user = await createUser();
		const typo = { RATE_LIMITS: JSON.stringify({ loginAccount: { limt: 1000000, windowSeconds: 1 } }) };
		const res = await sendWith(typo, "/sign/login", {
			method: "POST",
			headers: { "Content-Type": "application/json", "CF-Connecting-IP": "192.0.2.9" },
			body: JSON.stringify({ email: user.email, password: "wrong" }),
		});
		await expectError(res, 500);
	});

	it("valid overrides are applied", async () => {
		const ok = { RATE_LIMITS: JSON.stringify({ registerIp: { limit: 7, windowSeconds: 60 } }) };
		expect((await sendWith(ok, "/api")).status).toBe(200);
	});
});

describe("a plain `wrangler deploy` publishes nothing of development", () => {
	const deployed = { ...(JSON.parse(env.TEST_DEPLOYED_VARS) as Record<string, string>), MAIL_API_KEY: "test" };

	it("serves, with no /dev/outbox and no loopback CORS or redirects", async () => {
		expect((await sendWith(deployed, "/api")).status).toBe(200);
		await expectError(await sendWith(deployed, "/dev/outbox?to=user@example.com"), 404);
		const cors = await sendWith(deployed, "/api", { headers: { Origin: "http://localhost:5173" } });
		expect(cors.headers.get("Access-Control-Allow-Origin")).toBeNull();
		const doc = (await (await sendWith(deployed, "/openapi.json")).json()) as { paths: Record<string, unknown> };
		expect(Object.keys(doc.paths)).not.toContain("/dev/outbox");
		// The development configuration the tests run with does have them.
		expect((await send("/dev/outbox?to=user@example.com")).status).toBe(200);
	});
});

describe("GET /dev/outbox", () => {
	it("lists mail newest first and exists only in development", async () => {
		const user = await createUser();
		await sendJson("/sign/reset", { email: user.email });
		await sendJson("/sign/reset", { email: user.email });
		const mails = await eventually(async () => {
			const list = await outbox(user.email);
			return list.length === 2 ? list : null;
		});
		expect(mails[0]).toEqual({
			to: user.email,
			subject: expect.any(String),
			text: expect.any(String),
			createdAt: expect.stringMatching(/Z$/),
		});
		expect(Date.parse(mails[0]?.createdAt as string)).toBeGreaterThanOrEqual(Date.parse(mails[1]?.createdAt as string));
		await expectError(await sendWith(PRODUCTION_VARS, `/dev/outbox?to=${user.email}`), 404);
	});

	it("refuses to fall back to the outbox outside development", async () => {
		const user = await createUser();
		const log = vi.spyOn(console, "error").mockImplementation(() => {});
		// Fails closed at startup: the Worker refuses to serve rather than swallow password resets.
		const prod = { ...PRODUCTION_VARS, MAIL_PROVIDER: "outbox" };
		const res = await sendWith(prod, "/sign/reset", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ email: user.email }),
		});
		await expectError(res, 500, "An unexpected error occurred");
		expect(log).toHaveBeenCalledWith(expect.stringContaining('"variable":"MAIL_PROVIDER"'));
		log.mockRestore();
		expect(await outbox(user.email)).toEqual([]);
		const row = await db().select().from(users).where(eq(users.id, user.id)).get();
		expect(row?.email).toBe(user.email);
	});
});

import { env } from "cloudflare:workers";
import { count } from "drizzle-orm";
import { createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it, vi } from "vitest";
import { users } from "../../src/db/schema.ts";
import { db, userRow } from "../helpers/d1.ts";
import { createUser, ildLogin, userWithToken } from "../helpers/factories.ts";
import { bearer, expectError, PRODUCTION_VARS, send, sendJson, sendWith } from "../helpers/http.ts";
import { uniqueEmail } from "../helpers/unique.ts";

const REGISTER = { password: "a-long-enough-password", firstName: "Ann", lastName: "Lee" };

/** A CORS preflight from `origin` (an allowed one is answered by Hono's CORS, any other by a bare 204). */
const preflightFrom = (origin: string): RequestInit => ({
	method: "OPTIONS",
	headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
});

/** Requests by name, answered in turn (a Response made inside the Worker has no url to tell them apart). */
async function answers(requests: Record<string, [path: string, init?: RequestInit]>): Promise<[string, Response][]> {
	const answered: [string, Response][] = [];
	for (const [label, [path, init]] of Object.entries(requests)) answered.push([label, await send(path, init)]);
	return answered;
}

const REFUSED_PREFLIGHT: [string, RequestInit] = ["/sign/login", preflightFrom("https://elsewhere.example")];
const ALLOWED_PREFLIGHT: [string, RequestInit] = ["/sign/login", preflightFrom("http://localhost:5173")];

describe("every response", () => {
	it("carries a request id: echoed when sane, generated otherwise", async () => {
		const echoed = await send("/api", { headers: { "X-Request-Id": "req-123.abc" } });
		expect(echoed.headers.get("X-Request-Id")).toBe("req-123.abc");
		const generated = await answers({
			"insane id": ["/api", { headers: { "X-Request-Id": "bad id <script>" } }],
			"id too long": ["/api", { headers: { "X-Request-Id": "x".repeat(129) } }],
			"404 without id": ["/nope"],
			"refused preflight": REFUSED_PREFLIGHT,
			"allowed preflight": ALLOWED_PREFLIGHT,
		});
		for (const [label, res] of generated) expect(res.headers.get("X-Request-Id"), label).toMatch(/^[0-9a-f-]{36}$/);
		const longest = "a.b:c=d-".repeat(16);
		expect((await send("/api", { headers: { "X-Request-Id": longest } })).headers.get("X-Request-Id")).toBe(longest);
	});

	it("carries security headers, errors and preflights included", async () => {
		const all = await answers({
			hello: ["/api"],
			"404": ["/nope"],
			"401": ["/api/users/me"],
			"refused preflight": REFUSED_PREFLIGHT,
			"allowed preflight": ALLOWED_PREFLIGHT,
			HEAD: ["/api", { method: "HEAD" }],
		});
		for (const [label, res] of all) {
			expect(res.headers.get("X-Content-Type-Options"), label).toBe("nosniff");
			expect(res.headers.get("X-Frame-Options"), label).toBe("DENY");
			expect(res.headers.get("Strict-Transport-Security"), label).toBe("max-age=63072000; includeSubDomains");
			expect(res.headers.get("Content-Security-Policy"), label).toBe("default-src 'none'; frame-ancestors 'none'");
			expect(res.headers.get("Vary"), label).toContain("Origin");
			expect(res.headers.get("Cache-Control"), label).toBe("no-store");
		}
	});

	it("what only a document obeys (no referrer, its own opener group) on every answer but JSON", async () => {
		const json = await answers({ hello: ["/api"], "404": ["/nope"], document: ["/openapi.json"] });
		for (const [label, res] of json) {
			expect(res.headers.get("Referrer-Policy"), label).toBeNull();
			expect(res.headers.get("Cross-Origin-Opener-Policy"), label).toBeNull();
		}
		for (const [label, res] of await answers({ docs: ["/api/docs"], "refused preflight": REFUSED_PREFLIGHT })) {
			expect(res.headers.get("Referrer-Policy"), label).toBe("no-referrer");
			expect(res.headers.get("Cross-Origin-Opener-Policy"), label).toBe("same-origin");
		}
	});

	it("JSON says it is UTF-8, errors included", async () => {
		for (const res of [
			await send("/api"),
			await send("/nope"),
			await send("/api/users/me"),
			await send("/openapi.json"),
		]) {
			expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
		}
	});

	it("every answer with a user object, a token or personal data is no-store; public catalogs stay cacheable", async () => {
		const user = await createUser({ roles: ["Admin"] });
		const { token, refresh } = await ildLogin(user.email);
		const auth = { headers: { Authorization: `Bearer ${token}` } };
		const personal = [
			await send("/user/profile", auth),
			await send(`/user/profile/${user.id}`),
			await send(`/user/${user.id}`, auth),
			await send("/user", auth),
			await send("/api/users/me", auth),
			await send(`/api/users/${user.id}`, auth),
			await send(`/api/users/email/${encodeURIComponent(user.email)}`, auth),
			await send(`/api/users/${user.id}/modules`, auth),
			await send("/sign/check", auth),
			await send("/sign/refresh", { headers: { Cookie: `refresh_token=${refresh}` } }),
			await send("/api/integration-keys", auth),
			await send("/user/profile"), // errors too
		];
		for (const res of personal) expect(res.headers.get("Cache-Control"), res.url).toBe("no-store");
		expect((await send("/api/modules")).headers.get("Cache-Control")).toMatch(/^public/);
		expect((await send("/communities")).headers.get("Cache-Control")).toMatch(/^public/);
	});
});

describe("errors", () => {
	it("unknown routes are 404 in the envelope", async () => {
		await expectError(await send("/no/such/route"), 404, "Resource not found");
	});

	it("a known path with the wrong method is 405 with Allow", async () => {
		const res = await send("/sign/login");
		expect(res.headers.get("Allow")).toBe("POST");
		await expectError(res, 405);
		const me = await send("/api/users/me", { method: "DELETE" });
		expect(me.headers.get("Allow")).toBe("GET, HEAD");
		await expectError(me, 405);
		await expectError(await send("/sign/reset/sometoken", { method: "GET" }), 405);
	});

	it("an unexpected failure is an opaque 500: no stack, no library text", async () => {
		const log = vi.spyOn(console, "error").mockImplementation(() => {});
		const res = await sendWith({ JWT_PRIVATE_KEYS: "not json" }, "/sign/check", {
			headers: { Authorization: "Bearer a.b.c" },
		});
		const body = await expectError(res, 500, "An unexpected error occurred");
		expect(body).toEqual({ error: "Internal Server Error", message: "An unexpected error occurred" });
		// The cause goes to the logs, tied to the request id the client saw.
		const requestId = res.headers.get("X-Request-Id") as string;
		expect(log).toHaveBeenCalledWith(expect.stringContaining(requestId));
		log.mockRestore();
	});
});

describe("JSON bodies", () => {
	it("malformed JSON is 400", async () => {
		await expectError(await sendJson("/sign/login", '{"email": "a@b.c",'), 400, "Request body is not valid JSON");
	});

	it("a wrong or missing content type is 415", async () => {
		const body = JSON.stringify({ email: "a@example.com", password: "whatever1" });
		await expectError(await sendJson("/sign/login", body, { headers: { "Content-Type": "text/plain" } }), 415);
		await expectError(await send("/sign/login", { method: "POST", body }), 415);
		await expectError(
			await sendJson("/sign/login", body, { headers: { "Content-Type": "application/x-www-form-urlencoded" } }),
			415,
		);
	});

	it("accepts application/json with a charset", async () => {
		const res = await sendJson(
			"/sign/login",
			{ email: uniqueEmail(), password: "whatever1" },
			{ headers: { "Content-Type": "application/json; charset=utf-8" } },
		);
		await expectError(res, 401);
	});

	it("an oversized body is 413 before parsing, by Content-Length or while streaming", async () => {
		const big = JSON.stringify({ email: "a@example.com", password: "x".repeat(20_000) });
		await expectError(await sendJson("/sign/login", big), 413);
		const stream = new ReadableStream({
			start(controller) {
				for (let i = 0; i < 40; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1000)));
				controller.close();
			},
		});
		const res = await send("/sign/login", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: stream,
			// @ts-expect-error workerd needs duplex for streaming request bodies
			duplex: "half",
		});
		await expectError(res, 413);
	});

	it("unknown and mass-assigned fields are 400 naming them, and nothing is written", async () => {
		const before = await db().select({ n: count() }).from(users).get();
		const email = uniqueEmail();
		const res = await sendJson("/sign/register", { email, ...REGISTER, role: "Admin", id: 1 });
		const body = await expectError(res, 400);
		expect(body.issues?.map((i) => i.path).sort()).toEqual(["id", "role"]);
		expect(body.message).toMatch(/Unknown field/);
		const after = await db().select({ n: count() }).from(users).get();
		expect(after?.n).toBe(before?.n);
	});

	it("duplicate keys and prototype keys are 400", async () => {
		await expectError(
			await sendJson("/sign/login", '{"email":"a@example.com","email":"b@example.com","password":"x"}'),
			400,
			/more than once/,
		);
		await expectError(
			await sendJson("/sign/login", '{"__proto__":{"admin":true},"email":"a@example.com","password":"x"}'),
			400,
			/not allowed/,
		);
		await expectError(
			await sendJson("/sign/login", '{"email":"a@example.com","password":"x","constructor":{}}'),
			400,
			/not allowed/,
		);
	});

	it("non-object JSON and bytes that are not UTF-8 are 400", async () => {
		await expectError(await sendJson("/sign/login", "[]"), 400, "Request body must be a JSON object");
		await expectError(await sendJson("/sign/login", "null"), 400, "Request body must be a JSON object");
		await expectError(
			await send("/sign/login", {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
			}),
			400,
			"Request body is not valid UTF-8",
		);
	});

	it("missing and mistyped fields are 400 with one issue each", async () => {
		const missing = await expectError(await sendJson("/sign/login", {}), 400, "Email is required");
		expect(missing.issues).toEqual([
			{ path: "email", message: "Email is required" },
			{ path: "password", message: "Password is required" },
		]);
		const typed = await expectError(await sendJson("/sign/login", { email: 5, password: ["x"] }), 400);
		expect(typed.issues?.map((i) => i.path)).toEqual(["email", "password"]);
		await expectError(await sendJson("/sign/login", { email: `${"a".repeat(300)}@example.com`, password: "x" }), 400);
		await expectError(await sendJson("/sign/login", { email: "not-an-email", password: "x" }), 400, /valid email/);
	});
});

describe("conditional requests (contract: a failed If-Match is 412, a malformed one is ignored)", () => {
	it.each(["/api/modules", "/communities"])(
		"GET %s: an If-Match without the current ETag is 412, not cached",
		async (path) => {
			const etag = (await send(path)).headers.get("ETag") as string;
			expect(etag).toMatch(/^"[\w-]+"$/);
			const failed = await send(path, { headers: { "If-Match": '"not-the-current-etag"' } });
			await expectError(failed, 412);
			expect(failed.headers.get("Cache-Control")).toBe("no-store");
			for (const ifMatch of [etag, `"other", ${etag}`, "*", "not-a-tag"])
				expect((await send(path, { headers: { "If-Match": ifMatch } })).status, ifMatch).toBe(200);
			expect((await send(path, { headers: { "If-Match": etag, "If-None-Match": etag } })).status).toBe(304);
		},
	);

	it("a write's If-Match that lists tags is 412 and nothing lands: no resource written here has an ETag", async () => {
		const { user, token } = await userWithToken();
		const put = (ifMatch: string) =>
			send("/user/profile", {
				method: "PUT",
				headers: { ...bearer(token), "Content-Type": "application/json", "If-Match": ifMatch },
				body: JSON.stringify({ firstName: `Set ${ifMatch.length}` }),
			});
		await expectError(await put('"some-stale-etag"'), 412);
		expect((await userRow(user.id))?.firstName).not.toBe("Set 17");
		// `*` (the resource exists) and a malformed header (ignored) let the write through.
		expect((await put("*")).status).toBe(200);
		expect((await put("stale")).status).toBe(200);
		// Authentication is decided first: no token is 401 whatever the precondition.
		await expectError(
			await send("/user/profile", {
				method: "PUT",
				headers: { "If-Match": '"x"', "Content-Type": "application/json" },
				body: "{}",
			}),
			401,
		);
	});
});

describe("CORS", () => {
	it("echoes an allowed origin with credentials (any localhost port in development), errors included", async () => {
		for (const origin of ["http://localhost:5173", "http://127.0.0.1:3000"]) {
			const res = await send("/api/users/me", { headers: { Origin: origin } });
			expect(res.status).toBe(401);
			expect(res.headers.get("Access-Control-Allow-Origin")).toBe(origin);
			expect(res.headers.get("Access-Control-Allow-Credentials")).toBe("true");
			expect(res.headers.get("Vary")).toMatch(/Origin/);
		}
	});

	it("gives other origins no CORS headers", async () => {
		for (const origin of ["https://evil.example", "http://localhost.evil.example", "null"]) {
			const res = await send("/api", { headers: { Origin: origin } });
			expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
			expect(res.headers.get("Access-Control-Allow-Credentials")).toBeNull();
			expect(res.headers.get("Vary")).toMatch(/Origin/);
		}
	});

	it("answers preflights for allowed origins only", async () => {
		const preflight = (origin: string) =>
			send("/sign/login", {
				method: "OPTIONS",
				headers: {
					Origin: origin,
					"Access-Control-Request-Method": "POST",
					"Access-Control-Request-Headers": "content-type",
				},
			});
		const ok = await preflight("http://localhost:5173");
		expect(ok.status).toBe(204);
		expect(ok.headers.get("Access-Control-Allow-Methods")).toMatch(/POST/);
		expect(ok.headers.get("Access-Control-Allow-Headers")).toMatch(/Content-Type/);
		const denied = await preflight("https://evil.example");
		expect(denied.headers.get("Access-Control-Allow-Origin")).toBeNull();
		expect(denied.headers.get("Access-Control-Allow-Methods")).toBeNull();
	});

	it("in production allows only the configured origins", async () => {
		const prod = { ...PRODUCTION_VARS, ALLOWED_ORIGINS: "https://app.example.com" };
		const configured = await sendWith(prod, "/api", { headers: { Origin: "https://app.example.com" } });
		expect(configured.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
		const local = await sendWith(prod, "/api", { headers: { Origin: "http://localhost:5173" } });
		expect(local.headers.get("Access-Control-Allow-Origin")).toBeNull();
	});
});

describe("meta endpoints", () => {
	it("GET /api says hello", async () => {
		const res = await send("/api");
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ message: "Hello, World!" });
	});

	it("GET /api/docs is an HTML page rendering /openapi.json", async () => {
		const res = await send("/api/docs");
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
		const html = await res.text();
		expect(html).toContain('fetch("/openapi.json")');
		expect(res.headers.get("Content-Security-Policy")).toMatch(/connect-src 'self'/);
	});

	it("GET /api/docs loads nothing from elsewhere: the CSP allows only its inline script and style, and /openapi.json", async () => {
		const res = await send("/api/docs");
		const csp = res.headers.get("Content-Security-Policy") ?? "";
		expect(csp.split(/;\s*/)).toEqual([
			"default-src 'none'",
			"script-src 'unsafe-inline'",
			"style-src 'unsafe-inline'",
			"connect-src 'self'",
			"frame-ancestors 'none'",
		]);
		const html = await res.text();
		// No external script, stylesheet, font or image: the page works offline.
		expect(html).not.toMatch(/<(script|link|img|iframe)[^>]*\s(src|href)=/i);
		expect(html).not.toMatch(/url\(|@import|https?:\/\//i);
		// What the page renders for each operation (test/node/docs-page.test.ts runs the script itself).
		for (const part of [
			"function parametersBlock",
			"function requestBlock",
			"function responsesBlock",
			'<h2 id="schemas">',
		])
			expect(html).toContain(part);
	});

	it("publishes the JWKS that verifies issued tokens, as a partner backend would", async () => {
		const res = await send("/.well-known/jwks.json");
		expect(res.status).toBe(200);
		const jwks = (await res.json()) as { keys: Record<string, string>[] };
		expect(jwks.keys.length).toBe(2);
		for (const key of jwks.keys) expect(key).not.toHaveProperty("d");
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), {
			issuer: env.JWT_ISSUER,
			audience: env.JWT_AUDIENCE,
			typ: "at+jwt",
		});
		expect(protectedHeader.kid).toBe("test-signing");
		expect(payload.sub).toBe(String(user.id));
	});
});

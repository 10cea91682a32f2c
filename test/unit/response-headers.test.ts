import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { requestContext } from "../../src/middleware/request-context.ts";
import { responseHeaders } from "../../src/middleware/response-headers.ts";
import type { AppEnv } from "../../src/types.ts";

// The app's two global middlewares around routes that answer the ways no route of the app does today (a raw
// Response, a route's own policy): what the contract promises every answer must still hold.
const app = new Hono<AppEnv>();
app.use("*", requestContext, responseHeaders);
app.get("/raw", () => new Response("raw text"));
app.get("/raw-json", () => Response.json({ ok: true }));
app.get("/own", (c) => {
	c.header("Content-Security-Policy", "default-src 'self'");
	c.header("Cache-Control", "public, max-age=60");
	c.header("Referrer-Policy", "same-origin");
	return c.text("own");
});

const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
const get = (path: string) => app.fetch(new Request(`http://localhost${path}`), env, ctx);

describe("response headers", () => {
	it("a raw Response still gets the request id and every header an answer carries", async () => {
		for (const path of ["/raw", "/raw-json"]) {
			const res = await get(path);
			expect(res.headers.get("X-Request-Id"), path).toMatch(/^[0-9a-f-]{36}$/);
			expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
			expect(res.headers.get("Cache-Control"), path).toBe("no-store");
			expect(res.headers.get("Vary"), path).toBe("Origin");
		}
		expect((await get("/raw-json")).headers.get("Content-Type")).toBe("application/json; charset=utf-8");
		expect((await get("/raw")).headers.get("Referrer-Policy")).toBe("no-referrer");
	});

	it("a route's own policy is kept, never overwritten", async () => {
		const res = await get("/own");
		expect(res.headers.get("Content-Security-Policy")).toBe("default-src 'self'");
		expect(res.headers.get("Cache-Control")).toBe("public, max-age=60");
		expect(res.headers.get("Referrer-Policy")).toBe("same-origin");
		expect(res.headers.get("X-Frame-Options")).toBe("DENY");
	});
});

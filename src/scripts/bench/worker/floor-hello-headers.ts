/**
 * Information floor (no target): the bare Hono hello, answering with the headers every answer of this API carries by
 * contract or policy — a request id, the security headers, `Cache-Control: no-store`, `Vary: Origin`, JSON with its
 * charset — set in one go, as constants. What separates it from the bare hello is the cost of sending those headers,
 * which no implementation of the contract avoids; the bench checks its header names against the app's `GET /api`.
 */
import { Hono } from "hono";
import { instrument } from "./instrument.ts";

const HEADERS = {
	"Content-Type": "application/json; charset=utf-8",
	"Cache-Control": "no-store",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
	Vary: "Origin",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options": "DENY",
};

const app = new Hono();
app.get("/", (c) => c.json({ message: "Hello, World!" }, 200, { ...HEADERS, "X-Request-Id": crypto.randomUUID() }));

export default { fetch: instrument((request, env: object, ctx) => app.fetch(request, env, ctx)) };

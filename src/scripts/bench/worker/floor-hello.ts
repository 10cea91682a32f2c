/** Floor Worker: a bare Hono app answering the hello JSON, the least any route of the app can cost. */
import { Hono } from "hono";
import { instrument } from "./instrument.ts";

const app = new Hono();
app.get("/", (c) => c.json({ message: "Hello, World!" }));

// Counted like the app (instrument.ts), so requests per CPU second are compared on equal terms.
export default { fetch: instrument((request, env: object, ctx) => app.fetch(request, env, ctx)) };

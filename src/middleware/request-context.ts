import { createMiddleware } from "hono/factory";
import { getConfig } from "../config.ts";
import { createDb } from "../db/client.ts";
import type { AppEnv } from "../types.ts";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Request id, parsed configuration and the database handle for every request. */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
	const incoming = c.req.header("X-Request-Id");
	c.set("requestId", incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID());
	c.set("config", getConfig(c.env));
	c.set("db", createDb(c.env.DB));
	await next();
});

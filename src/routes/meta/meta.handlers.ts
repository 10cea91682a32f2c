import type { RouteHandler } from "@hono/zod-openapi";
import { publicSigningKeys } from "../../services/auth.ts";
import type { AppEnv } from "../../types.ts";
import { DOCS_CSP, DOCS_HTML } from "./docs-page.ts";
import type * as routes from "./meta.routes.ts";

export const hello: RouteHandler<typeof routes.hello, AppEnv> = (c) => c.json({ message: "Hello, World!" }, 200);

export const docs: RouteHandler<typeof routes.docs, AppEnv> = (c) => {
	c.header("Content-Security-Policy", DOCS_CSP);
	return c.html(DOCS_HTML, 200);
};

export const jwks: RouteHandler<typeof routes.jwks, AppEnv> = async (c) => {
	c.header("Cache-Control", "public, max-age=300");
	return c.json(await publicSigningKeys(c.get("deps")), 200);
};

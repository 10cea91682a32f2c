import type { RouteHandler } from "@hono/zod-openapi";
import { staticAsset } from "../../lib/static-assets.ts";
import { publicSigningKeys } from "../../services/auth.ts";
import type { AppEnv } from "../../types.ts";
import { DOCS_CSP, DOCS_FILE } from "./docs-page.ts";
import type * as routes from "./meta.routes.ts";

export const hello: RouteHandler<typeof routes.hello, AppEnv> = (c) => c.json({ message: "Hello, World!" }, 200);

export const docs: RouteHandler<typeof routes.docs, AppEnv> = async (c) => {
	c.header("Content-Security-Policy", DOCS_CSP);
	return c.html(await staticAsset(c.env.ASSETS, DOCS_FILE), 200);
};

export const jwks: RouteHandler<typeof routes.jwks, AppEnv> = async (c) => {
	c.header("Cache-Control", "public, max-age=300");
	return c.json(await publicSigningKeys(c.get("deps")), 200);
};

import { requestId } from "hono/request-id";
import type { Config } from "./config.ts";
import { notFoundHandler, onError } from "./middleware/error-handler.ts";
import { requestContext } from "./middleware/request-context.ts";
import { contentHeaders, corsHeaders, securityHeaders } from "./middleware/response-headers.ts";
import { devRouter } from "./routes/dev/index.ts";
import { accountRouter } from "./routes/ild/account/index.ts";
import { communitiesRouter } from "./routes/ild/communities/index.ts";
import { securityEventsRouter } from "./routes/ild/security-events/index.ts";
import { sessionsRouter } from "./routes/ild/sessions/index.ts";
import { signRouter } from "./routes/ild/sign/index.ts";
import { userRouter } from "./routes/ild/user/index.ts";
import { userAdminRouter } from "./routes/ild/user-admin/index.ts";
import { kc7AuthRouter } from "./routes/kc7/auth/index.ts";
import { integrationKeysRouter } from "./routes/kc7/integration-keys/index.ts";
import { loginLinksRouter } from "./routes/kc7/login-links/index.ts";
import { kc7ModulesRouter } from "./routes/kc7/modules/index.ts";
import { kc7UsersRouter } from "./routes/kc7/users/index.ts";
import { metaRouter } from "./routes/meta/index.ts";
import { createRouter } from "./routes/shared/openapi.ts";

/**
 * Hono's request id: an incoming `X-Request-Id` is echoed when it is a sane token (Hono's own rule, plus
 * the dots and colons of common trace ids), else a UUID is generated.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:=-]{1,128}$/;
const requestIds = requestId({
	limitLength: 128,
	generator: (c) => {
		const incoming = c.req.header("X-Request-Id");
		return incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
	},
});

const DESCRIPTION =
	"One identity core under two API surfaces: the KC7 API (snake_case, /api and /auth) and the ILD Auth API " +
	"(camelCase, /sign and /user). Errors are always `{error, message}` (plus `issues` on validation errors). " +
	"Access tokens are ES256 JWTs (15 minutes) verifiable with /.well-known/jwks.json; refresh tokens travel in the " +
	"HttpOnly `refresh_token` cookie and rotate on every use.";

export function createApp() {
	const app = createRouter();
	// Outermost first: every response (errors, 404s and 405s included) passes back through all of them.
	app.use("*", requestIds, requestContext, corsHeaders, securityHeaders, contentHeaders);

	app.route("/", metaRouter);
	app.route("/", signRouter);
	app.route("/", userRouter);
	app.route("/", sessionsRouter);
	app.route("/", securityEventsRouter);
	app.route("/", accountRouter);
	app.route("/", userAdminRouter);
	app.route("/", communitiesRouter);
	app.route("/", kc7AuthRouter);
	app.route("/", kc7UsersRouter);
	app.route("/", kc7ModulesRouter);
	app.route("/", loginLinksRouter);
	app.route("/", integrationKeysRouter);
	app.route("/", devRouter);

	app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
		description: "Access token from a sign-in, a refresh or a login link",
	});
	app.openAPIRegistry.registerComponent("securitySchemes", "integrationKey", {
		type: "apiKey",
		in: "header",
		name: "X-Integration-Key",
		description: "A partner's integration key (KC7 login links)",
	});
	app.openAPIRegistry.registerComponent("securitySchemes", "refreshCookie", {
		type: "apiKey",
		in: "cookie",
		name: "refresh_token",
	});

	app.get("/openapi.json", (c) => c.json(openApiDocument(app, c.var.config)));

	app.notFound(notFoundHandler(() => app.routes));
	app.onError(onError);
	return app;
}

export type App = ReturnType<typeof createApp>;

/** `/user/{userId{[0-9]+}}` → `/user/{userId}` */
const normalizePath = (path: string) => path.replace(/\{(\w+)\{[^/]*?\}\}/g, "{$1}");

export function openApiDocument(app: App, config: Pick<Config, "publicBaseUrl" | "isDevelopment">) {
	const document = app.getOpenAPI31Document({
		openapi: "3.1.0",
		info: { title: "Edge Identity API (KC7 + ILD Auth)", version: "1.0.0", description: DESCRIPTION },
		servers: [{ url: config.publicBaseUrl }],
	});
	// The development outbox only exists (and is only documented) in development.
	if (!config.isDevelopment) delete document.paths?.["/dev/outbox"];
	// Router-level constraints (`{userId{[0-9]+}}`) are Hono syntax; OpenAPI names the parameter alone.
	document.paths = Object.fromEntries(
		Object.entries(document.paths ?? {}).map(([path, item]) => [normalizePath(path), item]),
	);
	return document;
}

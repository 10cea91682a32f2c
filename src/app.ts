import type { Config } from "./config.ts";
import { notFoundHandler, onError } from "./middleware/error-handler.ts";
import { requestContext } from "./middleware/request-context.ts";
import { responseHeaders } from "./middleware/response-headers.ts";
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
import { HOSTED_PATHS, hostedPages } from "./routes/pages/index.ts";
import { createRouter } from "./routes/shared/openapi.ts";

const DESCRIPTION =
	"One identity core under two API surfaces: the KC7 API (snake_case, /api and /auth) and the ILD Auth API " +
	"(camelCase, /sign and /user). Errors are always `{error, message}` (plus `issues` on validation errors). " +
	"Access tokens are ES256 JWTs (15 minutes) verifiable with /.well-known/jwks.json; refresh tokens travel in the " +
	"HttpOnly `refresh_token` cookie and rotate on every use.";

export function createApp() {
	const app = createRouter();
	// Outermost first: every response (errors, 404s and 405s included) passes back through all of them.
	app.use("*", requestContext, responseHeaders);
	// The pages for mailed links (HOSTED_PAGES): a middleware on their paths, not routes, since they are no API operations.
	for (const path of HOSTED_PATHS) app.use(path, hostedPages);

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

	app.get("/openapi.json", (c) => c.json(openApiDocument(app, c.get("config"))));

	app.notFound(notFoundHandler(() => app.routes));
	app.onError(onError);
	return app;
}

export type App = ReturnType<typeof createApp>;

/** `/user/{userId{[0-9]+}}` → `/user/{userId}` */
const normalizePath = (path: string) => path.replace(/\{(\w+)\{[^/]*?\}\}/g, "{$1}");

// OpenAPI 3.1's SPDX `identifier`, which the library's 3.0-shaped typings lack (hence a constant, not a literal).
const LICENSE = { name: "Proprietary", identifier: "LicenseRef-Proprietary" };

/** The operations' tags, in the order the documentation page lists them. */
const TAGS = [
	{ name: "Meta", description: "The greeting, this documentation and the public keys that verify access tokens." },
	{
		name: "ILD: sign",
		description: "ILD Auth sign-in flows: login, registration, refresh, logout, verification, reset.",
	},
	{ name: "ILD: user", description: "The signed-in user's own profile, image, password, tutorial and communities." },
	{ name: "ILD: sessions", description: "Device sessions: list them, revoke one, the others or all." },
	{ name: "ILD: security events", description: "The audit log of security-relevant changes, newest first." },
	{ name: "ILD: account lifecycle", description: "Email change, data export and account deletion." },
	{ name: "ILD: admin", description: "Admin-only user management: users, subscriptions, bans, sessions, deletion." },
	{ name: "ILD: communities", description: "Communities and their categories." },
	{ name: "KC7: auth", description: "KC7 sign-in and refresh-token rotation." },
	{ name: "KC7: users", description: "KC7 user lookup and provisioning (snake_case)." },
	{ name: "KC7: modules", description: "The core training modules and each user's progress and scores." },
	{ name: "KC7: login links", description: "One-time login links minted by partner backends, and their redemption." },
	{ name: "KC7: integration keys", description: "Partners' integration keys (Admin): create, list, revoke." },
	{ name: "Development", description: "Development only (`ENVIRONMENT=development`): the mail outbox." },
];

/** Drops the component schemas nothing refers to any more (once a path is removed), until none is left. */
function pruneUnusedSchemas(document: ReturnType<App["getOpenAPI31Document"]>) {
	const schemas = document.components?.schemas ?? {};
	for (;;) {
		const text = JSON.stringify(document);
		const unused = Object.keys(schemas).filter((name) => !text.includes(`"#/components/schemas/${name}"`));
		if (unused.length === 0) return;
		for (const name of unused) delete schemas[name];
	}
}

export function openApiDocument(app: App, config: Pick<Config, "publicBaseUrl" | "isDevelopment">) {
	const document = app.getOpenAPI31Document({
		openapi: "3.1.0",
		info: {
			title: "Edge Identity API (KC7 + ILD Auth)",
			version: "1.0.0",
			description: DESCRIPTION,
			contact: { name: "Edge Identity API maintainers" },
			license: LICENSE,
		},
		servers: [{ url: config.publicBaseUrl, description: "This deployment (PUBLIC_BASE_URL)" }],
		tags: TAGS,
	});
	// The development outbox only exists (and is only documented) in development, and its schema with it.
	if (!config.isDevelopment) {
		delete document.paths?.["/dev/outbox"];
		document.tags = document.tags?.filter((tag) => tag.name !== "Development");
		pruneUnusedSchemas(document);
	}
	// Router-level constraints (`{userId{[0-9]+}}`) are Hono syntax; OpenAPI names the parameter alone.
	document.paths = Object.fromEntries(
		Object.entries(document.paths ?? {}).map(([path, item]) => [normalizePath(path), item]),
	);
	return document;
}

import { type Pepper, parsePeppers } from "./lib/password.ts";

/** Limits of the contract; each may be overridden by the RATE_LIMITS var (JSON). */
export const DEFAULT_RATE_LIMITS = {
	loginAccount: { limit: 10, windowSeconds: 15 * 60 },
	loginIp: { limit: 300, windowSeconds: 15 * 60 },
	mailAddress: { limit: 3, windowSeconds: 60 * 60 },
	registerIp: { limit: 60, windowSeconds: 60 * 60 },
	provisionCaller: { limit: 5, windowSeconds: 60 },
	resetIp: { limit: 30, windowSeconds: 60 * 60 },
	uploadUser: { limit: 30, windowSeconds: 60 * 60 },
} as const;
export type RateLimitName = keyof typeof DEFAULT_RATE_LIMITS;
export interface RateLimitRule {
	limit: number;
	windowSeconds: number;
}

export interface Config {
	environment: string;
	isDevelopment: boolean;
	issuer: string;
	audience: string;
	publicBaseUrl: string;
	dashboardUrl: string;
	allowedOrigins: Set<string>;
	allowedRedirectOrigins: Set<string>;
	cookieSameSite: "Strict" | "Lax" | "None";
	requireEmailVerification: boolean;
	peppers: Pepper[];
	rateLimits: Record<RateLimitName, RateLimitRule>;
	mail: { provider: "outbox" | "http"; from: string; apiUrl: string; apiKey: string | undefined };
}

const list = (raw: string | undefined) =>
	(raw ?? "")
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean);

function origins(raw: string | undefined): Set<string> {
	return new Set(list(raw).map((o) => new URL(o).origin));
}

function rateLimits(raw: string | undefined): Record<RateLimitName, RateLimitRule> {
	const limits: Record<RateLimitName, RateLimitRule> = { ...DEFAULT_RATE_LIMITS };
	if (!raw?.trim()) return limits;
	const overrides = JSON.parse(raw) as Partial<Record<RateLimitName, RateLimitRule>>;
	for (const name of Object.keys(limits) as RateLimitName[]) {
		const rule = overrides[name];
		if (rule) limits[name] = { limit: Number(rule.limit), windowSeconds: Number(rule.windowSeconds) };
	}
	return limits;
}

function sameSite(raw: string | undefined): Config["cookieSameSite"] {
	const value = (raw ?? "Lax").trim().toLowerCase();
	if (value === "strict") return "Strict";
	if (value === "none") return "None";
	return "Lax";
}

// Parsed once per isolate and env object: env is stable for an isolate's lifetime.
const cache = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
	const cached = cache.get(env);
	if (cached) return cached;
	const environment = env.ENVIRONMENT || "production";
	const config: Config = {
		environment,
		isDevelopment: environment === "development",
		issuer: env.JWT_ISSUER,
		audience: env.JWT_AUDIENCE,
		publicBaseUrl: env.PUBLIC_BASE_URL.replace(/\/+$/, ""),
		dashboardUrl: env.DASHBOARD_URL,
		allowedOrigins: origins(env.ALLOWED_ORIGINS),
		allowedRedirectOrigins: origins(env.ALLOWED_REDIRECT_ORIGINS),
		cookieSameSite: sameSite(env.REFRESH_COOKIE_SAMESITE),
		requireEmailVerification: env.REQUIRE_EMAIL_VERIFICATION !== "false",
		peppers: parsePeppers(env.PASSWORD_PEPPERS),
		rateLimits: rateLimits(env.RATE_LIMITS),
		mail: {
			provider: env.MAIL_PROVIDER === "http" ? "http" : "outbox",
			from: env.MAIL_FROM,
			apiUrl: env.MAIL_API_URL,
			apiKey: env.MAIL_API_KEY,
		},
	};
	cache.set(env, config);
	return config;
}

const LOOPBACK_ORIGIN = /^http:\/\/(localhost|127\.0\.0\.1)(:\d{1,5})?$/;

/** CORS: exact configured origins, plus any loopback origin in development. */
export function isAllowedOrigin(config: Config, origin: string): boolean {
	return config.allowedOrigins.has(origin) || (config.isDevelopment && LOOPBACK_ORIGIN.test(origin));
}

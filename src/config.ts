import { z } from "zod";
import { isLoopbackOrigin } from "./lib/origins.ts";
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
interface RateLimitRule {
	limit: number;
	windowSeconds: number;
}

export interface Config {
	environment: "development" | "production";
	isDevelopment: boolean;
	issuer: string;
	audience: string;
	publicBaseUrl: string;
	dashboardUrl: string;
	/** The Worker serves its own pages for the links it mails (/verify-email, /sign-in, …): HOSTED_PAGES. */
	hostedPages: boolean;
	allowedOrigins: Set<string>;
	allowedRedirectOrigins: Set<string>;
	cookieSameSite: "Strict" | "Lax" | "None";
	requireEmailVerification: boolean;
	peppers: Pepper[];
	rateLimits: Record<RateLimitName, RateLimitRule>;
	mail: { provider: "outbox" | "http"; from: string; apiUrl: string; apiKey: string | undefined };
	/** Days security events stay in D1 before the daily cron archives them to R2 and deletes them. */
	auditRetentionDays: number;
	/** How long each isolate serves the module catalog from memory (0: read D1 every time): CATALOG_CACHE_SECONDS. */
	catalogCacheSeconds: number;
}

/**
 * A configuration value that cannot be used. The Worker refuses to serve (500) rather than run with
 * a guess: a typo in RATE_LIMITS must not silently turn every limit off.
 */
export class ConfigError extends Error {
	constructor(
		readonly variable: string,
		problem: string,
	) {
		super(`${variable}: ${problem}`);
		this.name = "ConfigError";
	}
}

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const originList = z
	.string()
	.default("")
	.transform((raw, ctx) => {
		const out = new Set<string>();
		for (const entry of raw.split(",").map((s) => s.trim())) {
			if (!entry) continue;
			const parsed = httpUrl.safeParse(entry);
			if (!parsed.success) {
				ctx.addIssue({ code: "custom", message: `"${entry}" is not an http(s) origin` });
				return z.NEVER;
			}
			out.add(new URL(entry).origin);
		}
		return out;
	});
const flag = z
	.enum(["true", "false", ""], { error: 'must be "true" or "false"' })
	.default("")
	.transform((v) => v !== "false");

/** A var holding a whole number from `min` to `max` (at most 4 digits), `fallback` when empty; `rule` names the unit. */
function wholeNumber(fallback: number, min: number, max: number, rule: string) {
	return z
		.string()
		.default("")
		.refine((raw) => raw === "" || /^[0-9]{1,4}$/.test(raw), rule)
		.transform((raw) => (raw === "" ? fallback : Number(raw)))
		.pipe(z.number().int().min(min, rule).max(max, rule));
}

const retentionDays = wholeNumber(90, 1, 3650, "must be a whole number of days from 1 to 3650");
const catalogCacheSeconds = wholeNumber(60, 0, 3600, "must be a whole number of seconds from 0 to 3600");

const RateLimitRuleSchema = z.strictObject({
	limit: z.number().int().positive().max(1_000_000),
	windowSeconds: z
		.number()
		.int()
		.positive()
		.max(30 * 24 * 60 * 60),
});
const rateLimitOverrides = z
	.string()
	.default("")
	.transform((raw, ctx) => {
		if (!raw.trim()) return {};
		try {
			return JSON.parse(raw) as unknown;
		} catch {
			ctx.addIssue({ code: "custom", message: "is not valid JSON" });
			return z.NEVER;
		}
	})
	.pipe(
		z.strictObject(
			Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((name) => [name, RateLimitRuleSchema.optional()])) as {
				[K in RateLimitName]: z.ZodOptional<typeof RateLimitRuleSchema>;
			},
		),
	);

/** Each var with its rule; the key is the variable's name, so a failure names it. */
const EnvSchema = z.object({
	ENVIRONMENT: z.enum(["development", "production"], { error: 'must be "development" or "production"' }),
	JWT_ISSUER: z.string().min(1, "must not be empty"),
	JWT_AUDIENCE: z.string().min(1, "must not be empty"),
	PUBLIC_BASE_URL: httpUrl,
	DASHBOARD_URL: httpUrl,
	// Empty means the environment's default: on in development, off in production.
	HOSTED_PAGES: z.enum(["true", "false", ""], { error: 'must be "true" or "false"' }).default(""),
	ALLOWED_ORIGINS: originList,
	ALLOWED_REDIRECT_ORIGINS: originList,
	REFRESH_COOKIE_SAMESITE: z
		.enum(["Strict", "Lax", "None", "strict", "lax", "none", ""], { error: "must be Strict, Lax or None" })
		.default("Lax")
		.transform((v) => (v ? ((v[0]?.toUpperCase() + v.slice(1).toLowerCase()) as Config["cookieSameSite"]) : "Lax")),
	REQUIRE_EMAIL_VERIFICATION: flag,
	MAIL_PROVIDER: z.enum(["outbox", "http"], { error: 'must be "outbox" or "http"' }),
	MAIL_FROM: z.string().min(1, "must not be empty"),
	MAIL_API_URL: z.union([z.literal(""), httpUrl]).default(""),
	MAIL_API_KEY: z.string().optional(),
	RATE_LIMITS: rateLimitOverrides,
	AUDIT_RETENTION_DAYS: retentionDays,
	CATALOG_CACHE_SECONDS: catalogCacheSeconds,
	PASSWORD_PEPPERS: z.string({ error: "is not configured" }).transform((raw, ctx) => {
		try {
			return parsePeppers(raw);
		} catch (error) {
			ctx.addIssue({ code: "custom", message: (error as Error).message.replace(/^PASSWORD_PEPPERS /, "") });
			return z.NEVER;
		}
	}),
	JWT_PRIVATE_KEYS: z.string({ error: "is not configured" }).min(1, "is not configured"),
});

function parseConfig(env: Env): Config {
	const parsed = EnvSchema.safeParse(env);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new ConfigError(String(issue?.path[0] ?? "configuration"), issue?.message ?? "is invalid");
	}
	const v = parsed.data;
	const isDevelopment = v.ENVIRONMENT === "development";
	if (!isDevelopment && v.MAIL_PROVIDER === "outbox") {
		throw new ConfigError("MAIL_PROVIDER", '"outbox" is for development only; use "http" in production');
	}
	if (new URL(v.DASHBOARD_URL).pathname.startsWith("//")) {
		throw new ConfigError("DASHBOARD_URL", "must not have a path starting with //");
	}
	if (v.MAIL_PROVIDER === "http" && !v.MAIL_API_URL) {
		throw new ConfigError("MAIL_API_URL", 'must be set when MAIL_PROVIDER is "http"');
	}
	return {
		environment: v.ENVIRONMENT,
		isDevelopment,
		issuer: v.JWT_ISSUER,
		audience: v.JWT_AUDIENCE,
		publicBaseUrl: v.PUBLIC_BASE_URL.replace(/\/+$/, ""),
		dashboardUrl: v.DASHBOARD_URL,
		hostedPages: v.HOSTED_PAGES === "" ? isDevelopment : v.HOSTED_PAGES === "true",
		allowedOrigins: v.ALLOWED_ORIGINS,
		allowedRedirectOrigins: v.ALLOWED_REDIRECT_ORIGINS,
		cookieSameSite: v.REFRESH_COOKIE_SAMESITE,
		requireEmailVerification: v.REQUIRE_EMAIL_VERIFICATION,
		peppers: v.PASSWORD_PEPPERS,
		rateLimits: { ...DEFAULT_RATE_LIMITS, ...v.RATE_LIMITS } as Record<RateLimitName, RateLimitRule>,
		mail: { provider: v.MAIL_PROVIDER, from: v.MAIL_FROM, apiUrl: v.MAIL_API_URL, apiKey: v.MAIL_API_KEY },
		auditRetentionDays: v.AUDIT_RETENTION_DAYS,
		catalogCacheSeconds: v.CATALOG_CACHE_SECONDS,
	};
}

// Parsed once per isolate and env object: env is stable for an isolate's lifetime. A failure is
// remembered too, so a broken deploy logs once per isolate and answers 500 at no cost.
const cache = new WeakMap<object, Config | ConfigError>();

/** The validated configuration; throws ConfigError naming the first invalid variable. */
export function getConfig(env: Env): Config {
	let entry = cache.get(env);
	if (!entry) {
		try {
			entry = parseConfig(env);
		} catch (error) {
			if (!(error instanceof ConfigError)) throw error;
			entry = error;
			console.error(JSON.stringify({ level: "error", config: { variable: error.variable, problem: error.message } }));
		}
		cache.set(env, entry);
	}
	if (entry instanceof ConfigError) throw entry;
	return entry;
}

/** CORS: exact configured origins, plus any loopback origin in development. */
export function isAllowedOrigin(config: Config, origin: string): boolean {
	return config.allowedOrigins.has(origin) || (config.isDevelopment && isLoopbackOrigin(origin));
}

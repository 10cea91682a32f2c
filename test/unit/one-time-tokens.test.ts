import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { oneTimeTokens, users } from "../../src/db/schema.ts";
import { sha256 } from "../../src/lib/encoding.ts";
import {
	closeOpenTokensStatement,
	consumeOneTimeToken,
	issueOneTimeToken,
	liveTokenSubject,
	TOKEN_PURPOSES,
} from "../../src/services/one-time-tokens.ts";
import { db } from "../helpers/d1.ts";
import { createUser } from "../helpers/factories.ts";

const stores = () => ({ db: db(), env });

/** A KV namespace that has not (yet) seen anything: every read misses. */
function missingKv(): KVNamespace {
	return new Proxy(env.TOKENS, {
		get(target, prop) {
			if (prop === "get") return async () => null;
			if (prop === "getWithMetadata") return async () => ({ value: null, metadata: null });
			const value = Reflect.get(target, prop, target);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}

describe("one-time tokens", () => {
	it("issues 256-bit tokens stored in KV under their hash, with the purpose's TTL", async () => {
		const user = await createUser();
		const { token, expiresAt } = await issueOneTimeToken(stores(), { purpose: "login", userId: user.id });
		expect(token).toMatch(/^[\w-]{43}$/);
		const hash = await sha256(token);
		expect(await env.TOKENS.get(`ott:${token}`)).toBeNull(); // never the raw token
		const stored = await env.TOKENS.getWithMetadata(`ott:${hash}`);
		expect(JSON.parse(stored.value as string)).toMatchObject({ purpose: "login", userId: user.id });
		expect(expiresAt - Date.now()).toBeGreaterThan(TOKEN_PURPOSES.login.ttlSeconds * 1000 - 5000);
		const row = await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.tokenHash, hash)).get();
		expect(row).toMatchObject({ purpose: "login", userId: user.id, closedAt: null });
	});

	const subjectOf = async (token: string, purpose: keyof typeof TOKEN_PURPOSES, now = Date.now()) =>
		(await db().get<{ id: number | null }>(sql`select ${liveTokenSubject(await sha256(token), purpose, now)} as id`))
			?.id ?? null;

	it("consumes once, only for its own purpose, and reading the subject consumes nothing", async () => {
		const user = await createUser();
		const { token } = await issueOneTimeToken(stores(), { purpose: "verify-email", userId: user.id }, Date.now(), []);
		expect(await consumeOneTimeToken(stores(), "password-reset", token)).toBeNull();
		expect(await subjectOf(token, "verify-email")).toBe(user.id);
		expect(await subjectOf(token, "password-reset")).toBeNull();
		expect(await consumeOneTimeToken(stores(), "verify-email", token)).toEqual({
			userId: user.id,
			meta: {},
			effectResults: [],
		});
		expect(await consumeOneTimeToken(stores(), "verify-email", token)).toBeNull();
		expect(await subjectOf(token, "verify-email")).toBeNull();
	});

	it("hands back the meta it was issued with", async () => {
		const user = await createUser();
		const { token } = await issueOneTimeToken(stores(), { purpose: "login", userId: user.id, meta: { next: "/x" } });
		expect(await consumeOneTimeToken(stores(), "login", token)).toEqual({
			userId: user.id,
			meta: { next: "/x" },
			effectResults: [],
		});
	});

	// Production KV is eventually consistent: a token minted in one location may not be visible in another
	// for 60 s or more. D1 decides, so a KV that has not seen the token changes nothing.
	it("accepts a live token that KV has not seen (another location), and decides single use in D1", async () => {
		const user = await createUser();
		const { token } = await issueOneTimeToken(stores(), { purpose: "login", userId: user.id });
		const blindKv = { db: db(), env: { ...env, TOKENS: missingKv() } };
		expect(await consumeOneTimeToken(blindKv, "login", token)).toMatchObject({ userId: user.id });
		expect(await consumeOneTimeToken(blindKv, "login", token)).toBeNull();
	});

	it("leaves the newest token usable when the KV write fails after D1 superseded the older one", async () => {
		const user = await createUser();
		const first = await issueOneTimeToken(stores(), { purpose: "password-reset", userId: user.id });
		const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
		const failingKv = {
			db: db(),
			env: { ...env, TOKENS: { put: () => Promise.reject(new Error("KV write failed")) } as unknown as KVNamespace },
		};
		const second = await issueOneTimeToken(failingKv, {
			purpose: "password-reset",
			userId: user.id,
		});
		expect(warn).toHaveBeenCalledWith(expect.stringContaining('"kvWrite":"Error"'));
		expect(JSON.stringify(warn.mock.calls)).not.toContain(second.token);
		warn.mockRestore();
		expect(await consumeOneTimeToken(stores(), "password-reset", first.token)).toBeNull();
		expect(await consumeOneTimeToken(stores(), "password-reset", second.token)).toMatchObject({ userId: user.id });
	});

	it("closes a user's open tokens by purpose, leaving other purposes and other users alone", async () => {
		const [user, other] = [await createUser(), await createUser()];
		const login = await issueOneTimeToken(stores(), { purpose: "login", userId: user.id });
		const verify = await issueOneTimeToken(stores(), { purpose: "verify-email", userId: user.id });
		const othersLogin = await issueOneTimeToken(stores(), { purpose: "login", userId: other.id });
		await closeOpenTokensStatement(db(), user.id, ["login"], Date.now());
		expect(await consumeOneTimeToken(stores(), "login", login.token)).toBeNull();
		expect(await consumeOneTimeToken(stores(), "verify-email", verify.token)).not.toBeNull();
		expect(await consumeOneTimeToken(stores(), "login", othersLogin.token)).not.toBeNull();
	});

	it("supersedes older tokens for purposes that say so, not for login links", async () => {
		const user = await createUser();
		const first = await issueOneTimeToken(stores(), { purpose: "verify-email", userId: user.id });
		const second = await issueOneTimeToken(stores(), { purpose: "verify-email", userId: user.id });
		expect(await consumeOneTimeToken(stores(), "verify-email", first.token)).toBeNull();
		expect(await consumeOneTimeToken(stores(), "verify-email", second.token)).not.toBeNull();

		const a = await issueOneTimeToken(stores(), { purpose: "login", userId: user.id });
		const b = await issueOneTimeToken(stores(), { purpose: "login", userId: user.id });
		expect(await consumeOneTimeToken(stores(), "login", a.token)).not.toBeNull();
		expect(await consumeOneTimeToken(stores(), "login", b.token)).not.toBeNull();
	});

	it("under 20 concurrent consumptions, one wins and only the winner's effects apply", async () => {
		const user = await createUser({ firstName: "T" });
		const { token } = await issueOneTimeToken(stores(), { purpose: "login", userId: user.id });
		const results = await Promise.all(
			Array.from({ length: 20 }, () =>
				consumeOneTimeToken(stores(), "login", token, ({ subject }) => [
					db()
						.update(users)
						.set({ firstName: sql`${users.firstName} || 'x'` })
						.where(eq(users.id, subject)),
				]),
			),
		);
		expect(results.filter(Boolean)).toHaveLength(1);
		const row = await db().select().from(users).where(eq(users.id, user.id)).get();
		expect(row?.firstName).toBe("Tx");
	});

	it("refuses expired tokens even while KV still holds them", async () => {
		const user = await createUser();
		const now = Date.now();
		const { token } = await issueOneTimeToken(stores(), { purpose: "login", userId: user.id }, now);
		const later = now + TOKEN_PURPOSES.login.ttlSeconds * 1000 + 1;
		expect(await subjectOf(token, "login", later)).toBeNull();
		expect(await consumeOneTimeToken(stores(), "login", token, undefined, later)).toBeNull();
		expect(await consumeOneTimeToken(stores(), "login", token, undefined, now + 1000)).not.toBeNull();
	});
});

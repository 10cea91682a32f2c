import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { oneTimeTokens, users } from "../../src/db/schema.ts";
import { sha256 } from "../../src/lib/encoding.ts";
import {
	consumeOneTimeToken,
	issueOneTimeToken,
	peekOneTimeToken,
	TOKEN_PURPOSES,
} from "../../src/services/one-time-tokens.ts";
import { createUser, db } from "../helpers.ts";

const stores = () => ({ db: db(), kv: env.TOKENS });

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

	it("consumes once, only for its own purpose, and peeking consumes nothing", async () => {
		const user = await createUser();
		const { token } = await issueOneTimeToken(stores(), { purpose: "verify-email", userId: user.id });
		expect(await consumeOneTimeToken(stores(), "password-reset", token)).toBeNull();
		expect(await peekOneTimeToken(env.TOKENS, "verify-email", token)).toMatchObject({ userId: user.id });
		expect(await consumeOneTimeToken(stores(), "verify-email", token)).toEqual({ userId: user.id });
		expect(await consumeOneTimeToken(stores(), "verify-email", token)).toBeNull();
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
				consumeOneTimeToken(stores(), "login", token, ({ userId, won }) => [
					db()
						.update(users)
						.set({ firstName: sql`${users.firstName} || 'x'` })
						.where(sql`${users.id} = ${userId} and ${won}`),
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
		expect(await peekOneTimeToken(env.TOKENS, "login", token, later)).toBeNull();
		expect(await consumeOneTimeToken(stores(), "login", token, undefined, later)).toBeNull();
		expect(await consumeOneTimeToken(stores(), "login", token, undefined, now + 1000)).not.toBeNull();
	});
});

import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { oneTimeTokens, securityEvents, sessions } from "../../src/db/schema.ts";
import { issueOneTimeToken, type TokenPurpose } from "../../src/services/one-time-tokens.ts";
import { REFRESH_GRACE_MS } from "../../src/services/sessions.ts";
import { db, userRow } from "../helpers/d1.ts";
import { createUser, ildLogin } from "../helpers/factories.ts";
import { bearer, refreshCookieOf, send, sendJson, sendWith, withCookie } from "../helpers/http.ts";
import { deviceSession, rotate } from "../helpers/requests.ts";
import { uniqueEmail } from "../helpers/unique.ts";

/** Races that must be decided by the strongly consistent stores, repeated so a lucky interleaving cannot pass. */

const ROUNDS = 20;
const RACERS = 20;

async function tokenFor(purpose: TokenPurpose, userId: number) {
	return (await issueOneTimeToken({ db: db(), env }, { purpose, userId })).token;
}

const winners = (responses: Response[], ok: number[]) => responses.filter((r) => ok.includes(r.status)).length;

describe("one-time tokens under 20 concurrent consumptions, 20 times over", () => {
	it("email verification: exactly one success per token", async () => {
		for (let round = 0; round < ROUNDS; round++) {
			const user = await createUser({ verified: false });
			const token = await tokenFor("verify-email", user.id);
			const results = await Promise.all(Array.from({ length: RACERS }, () => sendJson("/sign/verify", { token })));
			expect(winners(results, [200]), `round ${round}`).toBe(1);
			expect(results.filter((r) => r.status === 400)).toHaveLength(RACERS - 1);
			expect((await userRow(user.id))?.emailVerifiedAt).not.toBeNull();
		}
	}, 120_000);

	it("password reset: exactly one success per token, and its password is the one that holds", async () => {
		for (let round = 0; round < ROUNDS; round++) {
			const user = await createUser();
			const token = await tokenFor("password-reset", user.id);
			const results = await Promise.all(
				Array.from({ length: RACERS }, (_, i) =>
					sendJson(`/sign/reset/${token}`, { password: `racing-password-${round}-${i}` }),
				),
			);
			const ok = results.map((r, i) => [r.status, i] as const).filter(([s]) => s === 200);
			expect(ok, `round ${round}`).toHaveLength(1);
			expect(results.filter((r) => r.status === 400)).toHaveLength(RACERS - 1);
			if (round % 5 === 0) await ildLogin(user.email, `racing-password-${round}-${ok[0]?.[1]}`);
		}
	}, 180_000);

	it("login links: exactly one success per token across /auth/magic-link and /auth/token-login", async () => {
		for (let round = 0; round < ROUNDS; round++) {
			const user = await createUser();
			const token = await tokenFor("login", user.id);
			const results = await Promise.all(
				Array.from({ length: RACERS }, (_, i) =>
					i % 2
						? send(`/auth/token-login?token=${token}`)
						: send(`/auth/magic-link?token=${token}`, { redirect: "manual" }),
				),
			);
			expect(winners(results, [200, 302]), `round ${round}`).toBe(1);
			expect(results.filter((r) => r.status === 401)).toHaveLength(RACERS - 1);
			const opened = await db().select().from(sessions).where(eq(sessions.userId, user.id));
			expect(opened).toHaveLength(1);
		}
	}, 120_000);
});

describe("email changes under concurrency, 20 times over", () => {
	const changeToken = (userId: number, fromEmail: string, newEmail: string) =>
		issueOneTimeToken({ db: db(), env }, { purpose: "email-change", userId, meta: { newEmail, fromEmail } });

	it("two accounts confirming the same new address: exactly one owner, 409 for the other", async () => {
		for (let round = 0; round < ROUNDS; round++) {
			const newEmail = uniqueEmail();
			const [a, b] = [await createUser(), await createUser()];
			const tokens = [await changeToken(a.id, a.email, newEmail), await changeToken(b.id, b.email, newEmail)];
			const results = await Promise.all(tokens.map(({ token }) => sendJson("/sign/email/confirm", { token })));
			expect(results.map((r) => r.status).sort(), `round ${round}`).toEqual([200, 409]);
			const owners = [await userRow(a.id), await userRow(b.id)].filter((u) => u?.email === newEmail);
			expect(owners).toHaveLength(1);
			// The loser keeps its own address; only the winner holds an undo link.
			const loser = results[0]?.status === 409 ? a : b;
			expect((await userRow(loser.id))?.email).toBe(loser.email);
		}
	}, 120_000);

	it("one confirmation link used 20 times at once: one success, one undo link, one event", async () => {
		for (let round = 0; round < ROUNDS / 4; round++) {
			const user = await createUser();
			const newEmail = uniqueEmail();
			const { token } = await changeToken(user.id, user.email, newEmail);
			const results = await Promise.all(
				Array.from({ length: RACERS }, () => sendJson("/sign/email/confirm", { token })),
			);
			expect(winners(results, [200]), `round ${round}`).toBe(1);
			expect(results.filter((r) => r.status === 400)).toHaveLength(RACERS - 1);
			const undo = await db()
				.select()
				.from(oneTimeTokens)
				.where(and(eq(oneTimeTokens.userId, user.id), eq(oneTimeTokens.purpose, "email-undo")));
			expect(undo).toHaveLength(1);
			const events = await db()
				.select()
				.from(securityEvents)
				.where(and(eq(securityEvents.userId, user.id), eq(securityEvents.type, "email.change_confirmed")));
			expect(events).toHaveLength(1);
		}
	}, 120_000);
});

describe("refresh under 20 concurrent uses of one token", () => {
	it("rotates exactly once, answers every racer, revokes nothing; the new token rotates in turn; a replay after the grace revokes", async () => {
		// Ten races; after each, one of two follow-ups (both would not fit one round: rotating the new token makes the
		// raced one older than the previous, which is refused with or without the grace): odd rounds rotate the
		// winner's token, even rounds replay the raced token after the grace.
		for (let round = 0; round < 10; round++) {
			const user = await createUser();
			const { refresh } = await ildLogin(user.email);
			const results = await Promise.all(
				Array.from({ length: RACERS }, () => send("/sign/refresh", { headers: withCookie(refresh) })),
			);
			expect(results.map((r) => r.status)).toEqual(Array(RACERS).fill(200));
			const rotated = results.map(refreshCookieOf).filter(Boolean) as string[];
			expect(rotated, `round ${round}`).toHaveLength(1);
			const family = refresh.split(".")[0] as string;
			const row = await db().select().from(sessions).where(eq(sessions.family, family)).get();
			expect(row?.revokedAt).toBeNull();
			if (round % 2 === 1) {
				await rotate(rotated[0] as string);
				continue;
			}

			await db()
				.update(sessions)
				.set({ rotatedAt: Date.now() - REFRESH_GRACE_MS - 1 })
				.where(eq(sessions.family, family));
			expect((await send("/sign/refresh", { headers: withCookie(refresh) })).status).toBe(401);
			expect((await db().select().from(sessions).where(eq(sessions.family, family)).get())?.revokedAt).not.toBeNull();
			expect((await send("/sign/refresh", { headers: withCookie(rotated[0] as string) })).status).toBe(401);
		}
	}, 120_000);
});

describe("rate limits under concurrency", () => {
	it("a revoked session's token does not spend its account's provisioning budget (401 gives the hit back)", async () => {
		const caller = await createUser({ roles: ["API"] });
		const revoked = await deviceSession(caller.id, ["API"]);
		expect((await send("/sign/logout", { headers: bearer(revoked.token) })).status).toBe(200);
		const provision = (token: string, i: number) =>
			sendWith({}, "/api/users", {
				method: "POST",
				headers: { ...bearer(token), "Content-Type": "application/json" },
				body: JSON.stringify({
					username: `rv_${i}_${Date.now().toString(36)}`,
					email: `rv${i}-${Date.now()}@example.com`,
				}),
			});
		// sendWith waits for the deferred work: each refund has landed before the next request.
		for (let i = 0; i < 8; i++) expect((await provision(revoked.token, i)).status).toBe(401);
		const live = await deviceSession(caller.id, ["API"]);
		const answers = [];
		for (let i = 0; i < 6; i++) answers.push((await provision(live.token, 10 + i)).status);
		expect(answers).toEqual([201, 201, 201, 201, 201, 429]);
	});

	it("20 concurrent provisioning calls by one caller: exactly 5 accepted, three callers in a row", async () => {
		for (let round = 0; round < 3; round++) {
			const caller = await createUser({ roles: ["API"] });
			const login = await sendJson("/api/auth", {
				username: caller.username,
				password: "correct-horse-battery-staple",
			});
			const { access_token } = (await login.json()) as { access_token: string };
			const results = await Promise.all(
				Array.from({ length: RACERS }, (_, i) =>
					sendJson(
						"/api/users",
						{
							username: `race_${round}_${i}_${Date.now().toString(36)}`,
							email: `race${round}-${i}-${Date.now()}@example.com`,
						},
						{ headers: { Authorization: `Bearer ${access_token}` } },
					),
				),
			);
			const created = results.filter((r) => r.status === 201);
			const limited = results.filter((r) => r.status === 429);
			expect(created, `round ${round}`).toHaveLength(5);
			expect(limited).toHaveLength(15);
			for (const res of limited) {
				expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
				expect(Number(res.headers.get("Retry-After"))).toBeLessThanOrEqual(60);
				expect(res.headers.get("RateLimit-Limit")).toBe("5");
				expect(res.headers.get("RateLimit-Remaining")).toBe("0");
			}
			expect(created[0]?.headers.get("RateLimit-Limit")).toBe("5");
			// The next round's caller, a fresh one, gets its own 5: another caller is unaffected.
		}
	});
});

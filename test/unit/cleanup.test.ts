import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { devOutbox, oneTimeTokens, sessions, users } from "../../src/db/schema.ts";
import worker from "../../src/index.ts";
import { randomToken } from "../../src/lib/encoding.ts";
import { purgeExpiredRows, purgeOrphanImages } from "../../src/services/cleanup.ts";
import { storeImage } from "../../src/services/profile-images.ts";
import { IMAGES } from "../fixtures/images.ts";
import { createUser, db } from "../helpers.ts";

const DAY = 24 * 60 * 60 * 1000;

async function session(userId: number, fields: Partial<typeof sessions.$inferInsert>) {
	const id = randomToken(16);
	const now = Date.now();
	await db()
		.insert(sessions)
		.values({
			id,
			userId,
			family: randomToken(16),
			tokenHash: "h",
			createdAt: now,
			lastUsedAt: now,
			expiresAt: now + 30 * DAY,
			...fields,
		});
	return id;
}

describe("daily cleanup", () => {
	it("removes expired, idle and long-revoked sessions, dead tokens and old dev mail; keeps live ones", async () => {
		const user = await createUser();
		const now = Date.now();
		const dead = [
			await session(user.id, { expiresAt: now - 2 * DAY }),
			await session(user.id, { lastUsedAt: now - 16 * DAY }),
			await session(user.id, { revokedAt: now - 2 * DAY }),
		];
		const live = [await session(user.id, {}), await session(user.id, { revokedAt: now - 1000 })];
		await db()
			.insert(oneTimeTokens)
			.values([
				{
					tokenHash: randomToken(),
					purpose: "login",
					userId: user.id,
					createdAt: now - 3 * DAY,
					expiresAt: now - 2 * DAY,
				},
				{ tokenHash: randomToken(), purpose: "login", userId: user.id, createdAt: now, expiresAt: now + DAY },
			]);
		await db()
			.insert(devOutbox)
			.values([
				{ to: user.email, subject: "old", text: "x", createdAt: now - 8 * DAY },
				{ to: user.email, subject: "new", text: "x", createdAt: now },
			]);

		const removed = await purgeExpiredRows(db(), now);
		expect(removed.sessions).toBeGreaterThanOrEqual(3);
		const left = await db()
			.select({ id: sessions.id })
			.from(sessions)
			.where(inArray(sessions.id, [...dead, ...live]));
		expect(left.map((s) => s.id).sort()).toEqual([...live].sort());
		const tokens = await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.userId, user.id));
		expect(tokens.map((t) => t.expiresAt > now)).toEqual([true]);
		const mail = await db().select().from(devOutbox).where(eq(devOutbox.to, user.email));
		expect(mail.map((m) => m.subject)).toEqual(["new"]);
	});

	it("deletes only images no user points at, and only once they are old", async () => {
		const user = await createUser();
		const used = await storeImage(env.PROFILE_IMAGES, IMAGES["image/png"], "image/png", user.id);
		const orphan = await storeImage(env.PROFILE_IMAGES, IMAGES["image/gif"], "image/gif", user.id);
		await db().update(users).set({ profileImageKey: used }).where(eq(users.id, user.id));
		expect(await purgeOrphanImages(db(), env.PROFILE_IMAGES)).toBe(0); // fresh uploads are never touched
		expect(await purgeOrphanImages(db(), env.PROFILE_IMAGES, Date.now() + 2 * DAY)).toBeGreaterThanOrEqual(1);
		expect(await env.PROFILE_IMAGES.head(orphan)).toBeNull();
		expect(await env.PROFILE_IMAGES.head(used)).not.toBeNull();
	});

	it("runs from the Worker's scheduled handler", async () => {
		const user = await createUser();
		const dead = await session(user.id, { expiresAt: Date.now() - 2 * DAY });
		const log = vi.spyOn(console, "log").mockImplementation(() => {});
		const ctx = createExecutionContext();
		await worker.scheduled(createScheduledController({ cron: "17 3 * * *" }), env, ctx);
		await waitOnExecutionContext(ctx);
		expect(log).toHaveBeenCalledWith(expect.stringContaining('"cleanup"'));
		log.mockRestore();
		expect(await db().select().from(sessions).where(eq(sessions.id, dead))).toEqual([]);
	});
});

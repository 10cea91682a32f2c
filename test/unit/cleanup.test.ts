import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { devOutbox, imageDeletions, oneTimeTokens, sessions } from "../../src/db/schema.ts";
import worker from "../../src/index.ts";
import { randomToken } from "../../src/lib/encoding.ts";
import { purgeDueImages, purgeExpiredRows } from "../../src/services/cleanup.ts";
import { objectKeyOf, storeImage } from "../../src/services/profile-images.ts";
import { IMAGES } from "../fixtures/images.ts";
import { db } from "../helpers/d1.ts";
import { createUser } from "../helpers/factories.ts";

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

		const removed = await purgeExpiredRows({ db: db() }, now);
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

	it("deletes exactly the queued images that are due, never listing the bucket or leaving the image prefix", async () => {
		const user = await createUser();
		const due = await storeImage(env.PROFILE_IMAGES, IMAGES["image/png"], "image/png", user.id);
		const later = await storeImage(env.PROFILE_IMAGES, IMAGES["image/gif"], "image/gif", user.id);
		const unqueued = await storeImage(env.PROFILE_IMAGES, IMAGES["image/gif"], "image/gif", user.id);
		// Something else in the bucket, wrongly queued: the sweep only ever deletes under the image prefix.
		const foreign = `backups/${randomToken(8)}`;
		await env.PROFILE_IMAGES.put(foreign, "not an image");
		const now = Date.now();
		await db()
			.insert(imageDeletions)
			.values([
				{ objectKey: objectKeyOf(due), reason: "replaced", dueAt: now - 1 },
				{ objectKey: objectKeyOf(later), reason: "pending", dueAt: now + DAY },
				{ objectKey: foreign, reason: "replaced", dueAt: now - 1 },
			]);
		// A bucket whose list() throws: the sweep must not need it.
		const bucket = new Proxy(env.PROFILE_IMAGES, {
			get(target, prop) {
				if (prop === "list") throw new Error("the sweep listed the bucket");
				const value = Reflect.get(target, prop);
				return typeof value === "function" ? value.bind(target) : value;
			},
		});

		expect(await purgeDueImages({ db: db(), env: { ...env, PROFILE_IMAGES: bucket } }, now)).toBeGreaterThanOrEqual(1);
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(due))).toBeNull();
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(later))).not.toBeNull();
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(unqueued))).not.toBeNull();
		expect(await env.PROFILE_IMAGES.head(foreign)).not.toBeNull();
		const left = await db()
			.select({ key: imageDeletions.objectKey })
			.from(imageDeletions)
			.where(inArray(imageDeletions.objectKey, [objectKeyOf(due), objectKeyOf(later), foreign]));
		expect(left.map((r) => r.key)).toEqual([objectKeyOf(later)]);

		// Idempotent: a second run finds nothing of these left to do.
		await purgeDueImages({ db: db(), env: { ...env, PROFILE_IMAGES: bucket } }, now);
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(later))).not.toBeNull();
		// Once the pending upload is due, it goes too.
		await purgeDueImages({ db: db(), env: { ...env, PROFILE_IMAGES: bucket } }, now + 2 * DAY);
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(later))).toBeNull();
	});

	it("keeps a due row when the R2 delete fails, so the next run retries", async () => {
		const user = await createUser();
		const key = await storeImage(env.PROFILE_IMAGES, IMAGES["image/png"], "image/png", user.id);
		await db()
			.insert(imageDeletions)
			.values({ objectKey: objectKeyOf(key), reason: "replaced", dueAt: 0 });
		const failing = { delete: () => Promise.reject(new Error("R2 unavailable")) } as unknown as R2Bucket;
		await expect(purgeDueImages({ db: db(), env: { ...env, PROFILE_IMAGES: failing } })).rejects.toThrow(
			"R2 unavailable",
		);
		const row = await db()
			.select()
			.from(imageDeletions)
			.where(eq(imageDeletions.objectKey, objectKeyOf(key)));
		expect(row).toHaveLength(1);
		await purgeDueImages({ db: db(), env });
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(key))).toBeNull();
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

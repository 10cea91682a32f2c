import { and, eq, exists, isNotNull, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { imageDeletions, users } from "../db/schema.ts";
import { randomToken } from "../lib/encoding.ts";
import type { Deps } from "./deps.ts";

/**
 * Profile images in R2. The type is decided from the file's first bytes — never from the
 * client's content type or file name — so SVG, HTML or scripts cannot be served as images.
 * Keys are 256 random bits (one URL path segment): immutable, unguessable.
 *
 * The public key (user object, `/user/profile/stream/{key}`) is the bare token; the R2 object lives
 * under IMAGE_PREFIX, so the bucket can hold other things and this code can tell its own objects apart.
 * Every object this code will delete is first written to the `image_deletions` outbox: `pending` for
 * an upload no user row has adopted yet, `replaced` for one a newer upload displaced. The daily cron
 * deletes due rows' objects; nothing ever lists the bucket to guess what is unused.
 */

export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const IMAGE_KEY_SHAPE = /^[A-Za-z0-9_-]{43}$/;
export const IMAGE_PREFIX = "profile-images/";

/** An upload that no row adopted within this time is deleted by the cron (a crashed or failed request). */
const PENDING_GRACE_MS = 24 * 60 * 60 * 1000;
/** The longest signature sniffImageType reads. */
const SNIFF_BYTES = 16;

export type ImageType = "image/jpeg" | "image/png" | "image/webp" | "image/gif";

/** An accepted upload: the client's file itself (a Blob of known length, never copied) and its sniffed type. */
export interface NewImage {
	body: Blob;
	type: ImageType;
}

export const objectKeyOf = (key: string) => `${IMAGE_PREFIX}${key}`;

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

function sniffImageType(bytes: Uint8Array): ImageType | null {
	if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
	const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
	if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "image/png";
	if (bytes.length >= 6 && (ascii(bytes, 0, 6) === "GIF87a" || ascii(bytes, 0, 6) === "GIF89a")) return "image/gif";
	if (bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 12) === "WEBP") return "image/webp";
	return null;
}

/** The type of an uploaded file, from its first bytes only: the rest is never read into memory here. */
export async function imageTypeOf(file: Blob): Promise<ImageType | null> {
	return sniffImageType(new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer()));
}

/** Writes the object for public key `key` (fresh unless given). R2 streams a Blob; no copy is made. */
export async function storeImage(
	bucket: R2Bucket,
	body: Blob | Uint8Array,
	type: ImageType,
	userId: number,
	key = randomToken(32),
): Promise<string> {
	await bucket.put(objectKeyOf(key), body, {
		httpMetadata: { contentType: type },
		customMetadata: { userId: String(userId) },
	});
	return key;
}

/** The stored image for a public key, or null (unknown, or not a key's shape). */
export async function findImage(deps: Deps, key: string): Promise<R2ObjectBody | null> {
	return IMAGE_KEY_SHAPE.test(key) ? deps.env.PROFILE_IMAGES.get(objectKeyOf(key)) : null;
}

/**
 * Stores a new image under a fresh key, its `pending` outbox row first: if the user row never comes
 * to point at it (the update fails, the Worker dies), the cron still deletes it once the row is due.
 */
export async function stageImage(deps: Deps, image: NewImage, userId: number, now = Date.now()): Promise<string> {
	const key = randomToken(32);
	await deps.db
		.insert(imageDeletions)
		.values({ objectKey: objectKeyOf(key), reason: "pending", dueAt: now + PENDING_GRACE_MS });
	return storeImage(deps.env.PROFILE_IMAGES, image.body, image.type, userId, key);
}

/**
 * For the batch that sets `newKey` on the user row, placed before that update: queues the image the
 * row is about to drop (due at once), read inside the same transaction, and returns its object key.
 */
export function displacedImageStatement(db: Db, userId: number, newKey: string, now: number) {
	return db
		.insert(imageDeletions)
		.select(
			db
				.select({
					objectKey: sql<string>`${IMAGE_PREFIX} || ${users.profileImageKey}`.as("object_key"),
					reason: sql<"replaced">`'replaced'`.as("reason"),
					dueAt: sql<number>`${now}`.as("due_at"),
				})
				.from(users)
				.where(and(eq(users.id, userId), isNotNull(users.profileImageKey), ne(users.profileImageKey, newKey))),
		)
		.onConflictDoUpdate({ target: imageDeletions.objectKey, set: { reason: "replaced", dueAt: now } })
		.returning({ objectKey: imageDeletions.objectKey });
}

/**
 * For the same batch, after the update: the new image is no longer pending — but only if the row
 * really points at it now (a user deleted meanwhile updates nothing, and the upload stays queued).
 */
export function adoptedImageStatement(db: Db, userId: number, newKey: string) {
	return db.delete(imageDeletions).where(
		and(
			eq(imageDeletions.objectKey, objectKeyOf(newKey)),
			eq(imageDeletions.reason, "pending"),
			exists(
				db
					.select({ id: users.id })
					.from(users)
					.where(and(eq(users.id, userId), eq(users.profileImageKey, newKey))),
			),
		),
	);
}

/** Deletes a queued object, then its outbox row: if either step fails, the row stays and the cron retries. */
export async function deleteQueuedImage(deps: Pick<Deps, "db" | "env">, objectKey: string): Promise<void> {
	await deps.env.PROFILE_IMAGES.delete(objectKey);
	await deps.db.delete(imageDeletions).where(eq(imageDeletions.objectKey, objectKey));
}

/**
 * Removes a staged image no row adopted, before the answer goes out. Best effort: a failure is
 * logged (through defer) and never replaces the caller's own error; the pending row stays for the cron.
 */
export async function discardStagedImage(deps: Deps, key: string): Promise<void> {
	const work = deleteQueuedImage(deps, objectKeyOf(key));
	deps.defer(work);
	await work.catch(() => {});
}

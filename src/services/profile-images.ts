import { randomToken } from "../lib/encoding.ts";

/**
 * Profile images in R2. The type is decided from the file's first bytes — never from the
 * client's content type or file name — so SVG, HTML or scripts cannot be served as images.
 * Keys are 256 random bits (one URL path segment): immutable, unguessable.
 */

export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
export const IMAGE_KEY_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export type ImageType = "image/jpeg" | "image/png" | "image/webp" | "image/gif";

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

export function sniffImageType(bytes: Uint8Array): ImageType | null {
	if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
	const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
	if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "image/png";
	if (bytes.length >= 6 && (ascii(bytes, 0, 6) === "GIF87a" || ascii(bytes, 0, 6) === "GIF89a")) return "image/gif";
	if (bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 12) === "WEBP") return "image/webp";
	return null;
}

export async function storeImage(
	bucket: R2Bucket,
	bytes: Uint8Array,
	type: ImageType,
	userId: number,
): Promise<string> {
	const key = randomToken(32);
	await bucket.put(key, bytes, {
		httpMetadata: { contentType: type },
		customMetadata: { userId: String(userId) },
	});
	return key;
}

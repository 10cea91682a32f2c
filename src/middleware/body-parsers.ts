import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { FORBIDDEN_KEYS, JSON_MEDIA_TYPE, mediaTypeOf, suspiciousKey } from "../lib/body.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv } from "../types.ts";

/** JSON bodies in this API are small objects; anything larger is refused before parsing. */
const JSON_BODY_LIMIT = 16 * 1024;

const tooLarge = (limit: number) => new ApiError(413, `Request body must be at most ${limit} bytes`);

/**
 * Puts a byte limit on the request body before anything reads it: 413 from Content-Length when it is
 * declared, else while the body streams in (the stream errors once more than `limit` bytes passed). The
 * request is swapped for one over the counted stream, as hono/body-limit does, so Hono's own readers
 * (`c.req.arrayBuffer()`, `c.req.formData()`) read it once and cache the result for the route's validator.
 * `exceeded()` tells the limit's error apart from a broken body.
 */
function limitBody<E extends AppEnv>(c: Context<E>, limit: number): { exceeded: () => boolean } {
	const declared = c.req.header("Content-Length");
	if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > limit)) throw tooLarge(limit);
	const body = c.req.raw.body;
	if (!body) return { exceeded: () => false };
	let total = 0;
	let exceeded = false;
	const counter = new TransformStream<Uint8Array, Uint8Array>({
		transform(chunk, controller) {
			total += chunk.byteLength;
			if (total > limit) {
				exceeded = true;
				controller.error(tooLarge(limit));
				return;
			}
			controller.enqueue(chunk);
		},
	});
	c.req.raw = new Request(c.req.raw, { body: body.pipeThrough(counter) });
	return { exceeded: () => exceeded };
}

/** The whole body, at most `limit` bytes, read through Hono (and so cached for the validator). */
async function readLimited<E extends AppEnv>(c: Context<E>, limit: number): Promise<Uint8Array> {
	const counted = limitBody(c, limit);
	try {
		return new Uint8Array(await c.req.arrayBuffer());
	} catch (error) {
		if (counted.exceeded()) throw tooLarge(limit);
		throw error;
	}
}

/** Reads and checks a JSON object body (see jsonBodyParser for the rules); Hono's cache keeps it for the validator. */
async function acceptJson(c: Context<AppEnv>, limit: number) {
	const bytes = await readLimited(c, limit);
	let text: string;
	try {
		text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
	} catch {
		throw new ApiError(400, "Request body is not valid UTF-8");
	}
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw new ApiError(400, "Request body is not valid JSON");
	}
	if (typeof value !== "object" || value === null || Array.isArray(value)) {
		throw new ApiError(400, "Request body must be a JSON object");
	}
	const problem = suspiciousKey(text);
	if (problem) throw new ApiError(400, problem);
}

/**
 * Every JSON-body route runs this before its validator: 415 for another content type, 413 past
 * the limit, 400 for bytes that are not UTF-8, not JSON, not an object, or carry duplicate or
 * prototype keys (Hono has no such guard: JSON.parse keeps the last of two keys silently).
 */
export function jsonBodyParser(options: { limit?: number; optional?: boolean } = {}) {
	const limit = options.limit ?? JSON_BODY_LIMIT;
	return createMiddleware<AppEnv>(async (c, next) => {
		const contentType = c.req.header("Content-Type") ?? "";
		// An optional body may be left out entirely (no content type, zero bytes): the validator then sees {}.
		// Over HTTP "no body" usually arrives as an empty stream with Content-Length: 0, not as null.
		if (options.optional && !contentType) {
			if ((await readLimited(c, limit)).byteLength > 0)
				throw new ApiError(415, "Content-Type must be application/json");
			return next();
		}
		if (!JSON_MEDIA_TYPE.test(mediaTypeOf(contentType)))
			throw new ApiError(415, "Content-Type must be application/json");
		await acceptJson(c, limit);
		await next();
	});
}

/** Multipart detection, in one place: the body parser, the upload limit and the handler agree on it. */
export const isMultipart = (contentType: string | undefined) =>
	mediaTypeOf(contentType ?? "") === "multipart/form-data";

/**
 * For routes that take a file: `multipart/form-data` (at most `multipartLimit` bytes: 413 decided
 * from Content-Length before reading when it is present, else while streaming) or a JSON object
 * for the text fields. The platform's parser reads the counted stream once; its File objects are
 * what the handler stores, so no copy of the body is made here. Each form field may appear once.
 */
export function multipartOrJsonBodyParser(multipartLimit: number) {
	return createMiddleware<AppEnv>(async (c, next) => {
		const contentType = c.req.header("Content-Type") ?? "";
		if (JSON_MEDIA_TYPE.test(mediaTypeOf(contentType))) {
			await acceptJson(c, JSON_BODY_LIMIT);
			return next();
		}
		if (!isMultipart(contentType)) {
			throw new ApiError(415, "Content-Type must be multipart/form-data or application/json");
		}
		const counted = limitBody(c, multipartLimit);
		let form: FormData;
		try {
			form = await c.req.formData();
		} catch {
			if (counted.exceeded()) throw tooLarge(multipartLimit);
			throw new ApiError(400, "Request body is not valid multipart/form-data");
		}
		const seen = new Set<string>();
		for (const name of form.keys()) {
			if (FORBIDDEN_KEYS.has(name)) throw new ApiError(400, `Field "${name}" is not allowed`);
			if (seen.has(name)) throw new ApiError(400, `Field "${name}" is given more than once`);
			seen.add(name);
		}
		await next();
	});
}

/** After multipartOrJsonBodyParser: whether the request is a multipart form with a file part (an upload). */
export async function carriesFile<E extends AppEnv>(c: Context<E>): Promise<boolean> {
	if (!isMultipart(c.req.header("Content-Type"))) return false;
	for (const value of (await c.req.formData()).values()) if (typeof value !== "string") return true;
	return false;
}

/**
 * For routes that take no body: a body that says something (anything but nothing or `{}`) is a 400,
 * so no client believes it set a field the route silently dropped.
 */
export const rejectUnexpectedBody = createMiddleware<AppEnv>(async (c, next) => {
	if (c.req.raw.body && c.req.method !== "GET" && c.req.method !== "HEAD") {
		const text = new TextDecoder().decode(await readLimited(c, JSON_BODY_LIMIT)).trim();
		if (text !== "" && text.replace(/\s+/g, "") !== "{}")
			throw new ApiError(400, "This endpoint takes no request body");
	}
	await next();
});

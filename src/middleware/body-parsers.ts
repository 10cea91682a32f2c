import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv } from "../types.ts";

/** JSON bodies in this API are small objects; anything larger is refused before parsing. */
export const JSON_BODY_LIMIT = 16 * 1024;

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Reads at most `limit` bytes: 413 from Content-Length when present, else while streaming. */
export async function readBodyLimited(request: Request, limit: number): Promise<Uint8Array> {
	const declared = request.headers.get("Content-Length");
	if (declared !== null && (!/^\d+$/.test(declared) || Number(declared) > limit)) {
		throw new ApiError(413, `Request body must be at most ${limit} bytes`);
	}
	if (!request.body) return new Uint8Array();
	const reader = request.body.getReader();
	const chunks: Uint8Array[] = [];
	let total = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		total += value.byteLength;
		if (total > limit) {
			await reader.cancel();
			throw new ApiError(413, `Request body must be at most ${limit} bytes`);
		}
		chunks.push(value);
	}
	const out = new Uint8Array(total);
	let offset = 0;
	for (const chunk of chunks) {
		out.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return out;
}

/**
 * Finds what JSON.parse silently accepts but a client never means: a key given twice (the
 * last would win) and prototype-polluting keys. Expects text that is already valid JSON.
 */
export function suspiciousKey(text: string): string | null {
	const stack: { keys: Set<string>; expectKey: boolean }[] = [];
	for (let i = 0; i < text.length; i++) {
		const ch = text[i];
		if (ch === '"') {
			let j = i + 1;
			while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
			const top = stack[stack.length - 1];
			if (top?.expectKey) {
				const key = JSON.parse(text.slice(i, j + 1)) as string;
				if (FORBIDDEN_KEYS.has(key)) return `Field "${key}" is not allowed`;
				if (top.keys.has(key)) return `Field "${key}" is given more than once`;
				top.keys.add(key);
				top.expectKey = false;
			}
			i = j;
		} else if (ch === "{") stack.push({ keys: new Set(), expectKey: true });
		else if (ch === "[") stack.push({ keys: new Set(), expectKey: false });
		else if (ch === "}" || ch === "]") stack.pop();
		else if (ch === ",") {
			const top = stack[stack.length - 1];
			if (top && top.keys.size > 0) top.expectKey = true;
		}
	}
	return null;
}

const mediaTypeOf = (contentType: string) => contentType.split(";")[0]?.trim().toLowerCase() ?? "";

/** Reads, checks and caches a JSON object body (see jsonBodyParser for the rules). */
async function acceptJson(c: Context<AppEnv>, limit: number) {
	const bytes = await readBodyLimited(c.req.raw, limit);
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
	// Hono caches body reads as promises (its type says otherwise); the validator's c.req.json() reads this.
	(c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
}

/**
 * Every JSON-body route runs this before its validator: 415 for another content type, 413 past
 * the limit, 400 for bytes that are not UTF-8, not JSON, not an object, or carry duplicate or
 * prototype keys. The parsed text is handed to Hono's body cache, so the validator reuses it.
 */
export function jsonBodyParser(options: { limit?: number; optional?: boolean } = {}) {
	const limit = options.limit ?? JSON_BODY_LIMIT;
	return createMiddleware<AppEnv>(async (c, next) => {
		const contentType = c.req.header("Content-Type") ?? "";
		// An optional body may be left out entirely (no content type, zero bytes): the validator then sees {}.
		// Over HTTP "no body" usually arrives as an empty stream with Content-Length: 0, not as null.
		if (options.optional && !contentType) {
			const bytes = await readBodyLimited(c.req.raw, limit);
			if (bytes.byteLength > 0) throw new ApiError(415, "Content-Type must be application/json");
			// zod-openapi's media-type gate looks at the body again: it reads this cache, not the spent stream.
			(c.req.bodyCache as Record<string, unknown>).arrayBuffer = Promise.resolve(new ArrayBuffer(0));
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
 * The request body as a stream that errors once more than `limit` bytes have passed through it, so
 * an oversized body is refused while it arrives instead of after it was buffered. `exceeded()` tells
 * that error apart from a broken body.
 */
function countedBody(body: ReadableStream<Uint8Array>, limit: number) {
	let total = 0;
	let exceeded = false;
	const counter = new TransformStream<Uint8Array, Uint8Array>({
		transform(chunk, controller) {
			total += chunk.byteLength;
			if (total > limit) {
				exceeded = true;
				controller.error(new ApiError(413, `Request body must be at most ${limit} bytes`));
				return;
			}
			controller.enqueue(chunk);
		},
	});
	return { stream: body.pipeThrough(counter), exceeded: () => exceeded };
}

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
		const declared = c.req.header("Content-Length");
		if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > multipartLimit)) {
			throw new ApiError(413, `Request body must be at most ${multipartLimit} bytes`);
		}
		const counted = c.req.raw.body ? countedBody(c.req.raw.body, multipartLimit) : null;
		// Swapping in a request over the counted stream (as hono/body-limit does) lets Hono's own reader
		// parse it: c.req.formData() caches the form where the route's validator and later middleware read it.
		if (counted) c.req.raw = new Request(c.req.raw, { body: counted.stream });
		let form: FormData;
		try {
			form = await c.req.formData();
		} catch {
			if (counted?.exceeded()) throw new ApiError(413, `Request body must be at most ${multipartLimit} bytes`);
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
		const text = new TextDecoder().decode(await readBodyLimited(c.req.raw, JSON_BODY_LIMIT)).trim();
		if (text !== "" && text.replace(/\s+/g, "") !== "{}")
			throw new ApiError(400, "This endpoint takes no request body");
	}
	await next();
});

import type { Context } from "hono";
import type { AppEnv } from "../types.ts";
import { sha256 } from "./encoding.ts";

/** If-None-Match against a strong ETag (weak comparison, as RFC 9110 asks for GET). */
function etagMatches(header: string | undefined, etag: string): boolean {
	if (!header) return false;
	if (header.trim() === "*") return true;
	return header.split(",").some((candidate) => candidate.trim().replace(/^W\//, "") === etag);
}

/**
 * Marks a public JSON answer cacheable — a strong ETag over the body, `Cache-Control` with `maxAge` —
 * and says whether the client already holds this version (the caller then answers 304).
 */
export async function cacheableJson<T>(c: Context<AppEnv>, value: T, maxAge: number): Promise<boolean> {
	const etag = `"${await sha256(JSON.stringify(value))}"`;
	c.header("Cache-Control", `public, max-age=${maxAge}, s-maxage=${maxAge}`);
	c.header("ETag", etag);
	return etagMatches(c.req.header("If-None-Match"), etag);
}

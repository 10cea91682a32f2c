import { base64url, fromBase64url } from "../../../lib/encoding.ts";

/** Events per page: the default, and the most a page holds (a larger `limit` is clamped to it). */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

/**
 * The paging cursor is opaque to clients: base64url of `e<id>` (the last event of the page; the next page holds the
 * events below it). Only what encodeCursor mints decodes, in its canonical form; anything else is null (a 400).
 */
const MINTED = /^e([1-9][0-9]{0,14})$/;

export function encodeCursor(id: number): string {
	return base64url(new TextEncoder().encode(`e${id}`));
}

export function decodeCursor(cursor: string): number | null {
	try {
		const match = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })
			.decode(fromBase64url(cursor))
			.match(MINTED);
		const id = match ? Number(match[1]) : null;
		// Canonical form only: one cursor per id.
		return id !== null && encodeCursor(id) === cursor ? id : null;
	} catch {
		return null;
	}
}

/** The validated paging parameters as the service takes them (the query schema has already refused bad ones). */
export function paging(query: { limit?: string; cursor?: string }) {
	const limit = Math.min(MAX_LIMIT, Number(query.limit ?? DEFAULT_LIMIT));
	const cursor = query.cursor === undefined ? undefined : (decodeCursor(query.cursor) ?? undefined);
	return { limit, cursor };
}

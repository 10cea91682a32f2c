import type { Context, MiddlewareHandler } from "hono";
import { sha256 } from "../../lib/encoding.ts";
import { ApiError } from "../../lib/errors.ts";
import type { AppEnv } from "../../types.ts";

/** One entity tag of a conditional header: `opaque` keeps its quotes (`"x"`), `weak` says `W/` preceded it. */
interface EntityTag {
	weak: boolean;
	opaque: string;
}

// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text.
const ENTITY_TAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;

/**
 * Parses If-Match / If-None-Match (RFC 9110 §13.1.1–2): `*`, or a comma-separated list of entity
 * tags (empty list elements allowed, as §5.6.1 asks). Anything else — a bare word, a missing quote,
 * `*` inside a list — is malformed and reads as null, exactly like an absent header: a client's
 * broken header must never turn into an error of ours.
 */
function parseEntityTags(value: string | null | undefined): "*" | EntityTag[] | null {
	if (value === null || value === undefined) return null;
	const text = value.trim();
	if (text === "*") return "*";
	const tags: EntityTag[] = [];
	for (const element of text.split(",")) {
		const item = element.trim();
		if (item === "") continue;
		const match = ENTITY_TAG.exec(item);
		if (!match) return null;
		tags.push({ weak: match[1] !== undefined, opaque: match[2] as string });
	}
	return tags.length > 0 ? tags : null;
}

/**
 * Whether a parsed condition matches the current entity tag (`"x"` or `W/"x"`). Strong comparison
 * (If-Match) needs both tags strong; weak comparison (If-None-Match) ignores `W/` (RFC 9110 §8.8.3.2).
 */
function entityTagMatches(condition: "*" | EntityTag[], current: string, comparison: "strong" | "weak"): boolean {
	if (condition === "*") return true;
	const own = parseEntityTags(current);
	if (own === null || own === "*" || own.length !== 1) return false;
	const [mine] = own as [EntityTag];
	return condition.some((tag) => tag.opaque === mine.opaque && (comparison === "weak" || (!tag.weak && !mine.weak)));
}

/**
 * Evaluates a GET's preconditions against the current entity tag, in RFC 9110 §13.2.2's order:
 * a valid If-Match that does not match fails (412); else a matching If-None-Match means the client
 * holds this version (304); else the full answer (200). Malformed headers count as absent.
 */
export function evaluatePreconditions(
	headers: { ifMatch?: string | null; ifNoneMatch?: string | null },
	current: string,
): 200 | 304 | 412 {
	const ifMatch = parseEntityTags(headers.ifMatch);
	if (ifMatch !== null && !entityTagMatches(ifMatch, current, "strong")) return 412;
	const ifNoneMatch = parseEntityTags(headers.ifNoneMatch);
	if (ifNoneMatch !== null && entityTagMatches(ifNoneMatch, current, "weak")) return 304;
	return 200;
}

/**
 * Marks a public JSON answer cacheable — a strong ETag over the body, `Cache-Control` with `maxAge` —
 * and says whether the client already holds this version (the caller then answers 304).
 */
/** Serialized bodies and their ETags, per source object a service keeps (the cached module catalog). */
const serialized = new WeakMap<object, { body: Uint8Array<ArrayBuffer>; etag: string }>();
const encoder = new TextEncoder();

/**
 * A public, cacheable JSON answer built from `source` (an object the service hands out again while it is unchanged):
 * the body and its ETag are computed once per source, not per request. 304 on a matching If-None-Match.
 */
export async function cachedJsonResponse<E extends AppEnv>(
	c: Context<E>,
	source: object,
	present: () => unknown,
	maxAge: number,
): Promise<Response> {
	let entry = serialized.get(source);
	if (!entry) {
		const text = JSON.stringify(present());
		// Kept encoded and shared by every answer (workerd reads the buffer, it does not copy it): never mutate it.
		const body = encoder.encode(text) as Uint8Array<ArrayBuffer>;
		entry = { body, etag: `"${await sha256(text)}"` };
		serialized.set(source, entry);
	}
	if (conditionalOutcome(c, entry.etag, maxAge) === 304) return c.body(null, 304);
	return c.body(entry.body, 200, { "Content-Type": "application/json; charset=utf-8" });
}

/** Marks `value` a public, cacheable JSON answer; true when the client already holds this version (answer 304). */
export async function cacheableJson<T, E extends AppEnv>(c: Context<E>, value: T, maxAge: number): Promise<boolean> {
	return conditionalOutcome(c, `"${await sha256(JSON.stringify(value))}"`, maxAge) === 304;
}

/** The caching headers of a public answer, and its preconditions: a failed If-Match is 412 (thrown). */
function conditionalOutcome<E extends AppEnv>(c: Context<E>, etag: string, maxAge: number): 200 | 304 {
	c.header("Cache-Control", `public, max-age=${maxAge}, s-maxage=${maxAge}`);
	c.header("ETag", etag);
	const outcome = evaluatePreconditions(
		{ ifMatch: c.req.header("If-Match"), ifNoneMatch: c.req.header("If-None-Match") },
		etag,
	);
	if (outcome === 412) {
		// Not cacheable: the next request may hold the matching tag.
		c.header("Cache-Control", "no-store");
		throw new ApiError(412, PRECONDITION_FAILED);
	}
	return outcome;
}

const PRECONDITION_FAILED = "If-Match does not match the current version";

/**
 * For every write (defineRoute adds it after the route's own middleware, so authentication and roles are decided
 * first): no resource this API writes has an entity tag, so an If-Match that lists tags cannot match, and the
 * write must not happen (RFC 9110 §13.1.1: 412). `*` (the resource exists) and a malformed header (ignored, as
 * the contract asks) let it through.
 */
export const noEntityTagToMatch: MiddlewareHandler = async (c, next) => {
	const condition = parseEntityTags(c.req.header("If-Match"));
	if (condition !== null && condition !== "*") throw new ApiError(412, PRECONDITION_FAILED);
	await next();
};

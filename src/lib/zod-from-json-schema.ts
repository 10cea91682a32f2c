/**
 * What the deployed bundle gets for zod's `z.fromJSONSchema` (wrangler.toml `[alias]` of zod's
 * "./from-json-schema.js"): a clear refusal instead of 12 KiB that nothing in this API calls — it only sat in the
 * bundle because @hono/zod-openapi passes the whole `z` namespace to the OpenAPI extension.
 */
export function fromJSONSchema(): never {
	throw new Error("z.fromJSONSchema is left out of this Worker's bundle (wrangler.toml [alias])");
}

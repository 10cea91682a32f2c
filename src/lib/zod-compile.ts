/**
 * What the deployed bundle gets for zod's `z.compile` (wrangler.toml `[alias]` of zod's "./compile.js"): 29 KiB of
 * code generation that cannot run on Workers, which refuse `new Function`. There zod's own `compile()` falls back to
 * the schema as it is, and so does this one; `strict` callers get the refusal, as from zod. Nothing in this API calls
 * it: it only sat in the bundle because @hono/zod-openapi passes the whole `z` namespace to the OpenAPI extension.
 */
export const INVALID = Symbol.for("zod.compile.invalid");

export class ZodCompileAsyncError extends Error {
	constructor(message = "z.compile does not support async refinements, transforms, or checks") {
		super(message);
		this.name = "ZodCompileAsyncError";
	}
}

export class ZodCompileUnsupportedError extends Error {
	readonly islandable: boolean;
	constructor(feature: string, islandable = true) {
		super(`z.compile does not support ${feature}; this schema must use the runtime parser`);
		this.name = "ZodCompileUnsupportedError";
		this.islandable = islandable;
	}
}

const REFUSED = "code generation (Workers refuse `new Function`)";

export function compile<T>(schema: T, options?: { strict?: boolean }): T {
	if (options?.strict) throw new ZodCompileUnsupportedError(REFUSED, false);
	return schema;
}

export function withParser(): never {
	throw new ZodCompileUnsupportedError(`withParser in this bundle: ${REFUSED}`, false);
}

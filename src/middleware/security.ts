/**
 * The OpenAPI `security` of a route, carried by the middleware that enforces it (as role middleware carries
 * `x-roles`): defineRoute reads it, so no route states its authentication twice and the document cannot drift.
 */
export type SecurityRequirement = Record<string, string[]>;

interface SecurityTag {
	requirements: SecurityRequirement[];
	/** The requirements are alternatives that stand for the whole route (logout: Bearer or cookie). */
	alternatives: boolean;
}

const SECURITY = Symbol.for("edge-identity.security");

export function declaresSecurity<T extends object>(
	middleware: T,
	requirements: SecurityRequirement[],
	options: { alternatives?: boolean } = {},
): T {
	const tag: SecurityTag = { requirements, alternatives: options.alternatives ?? false };
	return Object.assign(middleware, { [SECURITY]: tag });
}

/**
 * Middleware that each require one scheme are all required together (Bearer token and integration key: one
 * requirement object naming both). A middleware declaring alternatives decides the route's security alone.
 * No such middleware: the route is public (`[]`).
 */
export function securityOf(middleware: readonly unknown[]): SecurityRequirement[] {
	const tags = middleware
		.map((m) => (typeof m === "function" ? (m as { [SECURITY]?: SecurityTag })[SECURITY] : undefined))
		.filter((tag): tag is SecurityTag => tag !== undefined);
	const alternatives = tags.find((tag) => tag.alternatives);
	if (alternatives) return alternatives.requirements;
	if (tags.length === 0) return [];
	return [Object.assign({}, ...tags.flatMap((tag) => tag.requirements))];
}

/** The roles an account can hold, and the one way a stored or claimed role list is read. */
export const ROLES = ["Admin", "Manager", "API"] as const;
export type Role = (typeof ROLES)[number];
/** KC7's privileged callers: staff and partner backends. */
export const STAFF_ROLES = ["Admin", "Manager", "API"] as const satisfies readonly Role[];

const isRole = (value: unknown): value is Role => (ROLES as readonly unknown[]).includes(value);

/**
 * Roles from D1's `group_concat` ("Admin,API" or null) or a JWT claim (an array): unknown values are dropped,
 * never trusted, so a renamed or removed role cannot ride along.
 */
export function parseRoles(value: string | readonly unknown[] | null | undefined): Role[] {
	if (value === null || value === undefined) return [];
	return (typeof value === "string" ? value.split(",") : value).filter(isRole);
}

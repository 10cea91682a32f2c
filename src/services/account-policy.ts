import type { Config } from "../config.ts";
import type { IntegrationKeyScope } from "../db/schema.ts";
import type { Role } from "../lib/roles.ts";

/**
 * The rules that protect an account, decided here once for both surfaces. Every path that opens
 * a session (password sign-in on either surface, a login link through either redemption route)
 * or mints one for another account asks these functions; no route decides them itself.
 * test/integration/session-paths.test.ts walks every such path against every account state.
 */

export type SessionMethod = "password" | "link" | "reset";

interface BanState {
	bannedAt: number | null;
	bannedUntil: number | null;
}

interface AccountState extends BanState {
	emailVerifiedAt: number | null;
}

/** A ban is in force from its start until `bannedUntil` (never, when null): a timed ban ends by itself. */
export function banInForce(account: BanState, now = Date.now()): boolean {
	return account.bannedAt !== null && (account.bannedUntil === null || account.bannedUntil > now);
}

/**
 * Why this account may not open a session by `method` now, or null. A ban closes every door. Email
 * verification binds password sign-ins only: a login link's partner vouches for the user (and
 * redeeming one marks nothing verified).
 */
export function sessionRefusal(
	config: Config,
	account: AccountState,
	method: SessionMethod,
	now = Date.now(),
): "disabled" | "unverified" | null {
	if (banInForce(account, now)) return "disabled";
	if (method === "password" && config.requireEmailVerification && account.emailVerifiedAt === null) {
		return "unverified";
	}
	return null;
}

export interface LinkCaller {
	userId: number;
	roles: readonly Role[];
}

export interface LinkKey {
	ownerUserId: number | null;
	scope: IntegrationKeyScope;
}

export interface LinkTarget extends BanState {
	roles: readonly Role[];
	provisionedBy: number | null;
}

/**
 * Login links never escalate: a link for an account holding any role needs an Admin caller, and no
 * one mints a link for an Admin. A `provisioned`-scope key reaches only users its owner created
 * (an unknown user is refused the same way, so such a key learns nothing about other accounts).
 */
export function linkRefusal(
	caller: LinkCaller,
	key: LinkKey,
	target: LinkTarget | null,
): "forbidden" | "not-found" | null {
	if (key.scope === "provisioned" && (target === null || target.provisionedBy !== key.ownerUserId)) return "forbidden";
	if (target === null) return "not-found";
	if (banInForce(target)) return "forbidden";
	return targetRefusal(caller.roles.includes("Admin"), target.roles);
}

/**
 * The target rule alone, as it stood when the link was minted and again when it is redeemed: a
 * role granted to the target in between cannot ride on a link a non-Admin minted.
 */
export function targetRefusal(callerIsAdmin: boolean, targetRoles: readonly Role[]): "forbidden" | null {
	if (targetRoles.includes("Admin")) return "forbidden";
	if (targetRoles.length > 0 && !callerIsAdmin) return "forbidden";
	return null;
}

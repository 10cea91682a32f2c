import { and, eq, type SQL } from "drizzle-orm";
import { users } from "../db/schema.ts";
import { randomToken } from "../lib/encoding.ts";
import { type LinkCaller, linkRefusal, sessionRefusal, targetRefusal } from "./account-policy.ts";
import { openSession, type SessionOpening } from "./auth.ts";
import type { Deps } from "./deps.ts";
import { touchIntegrationKeyStatement, type UsableIntegrationKey } from "./integration-keys.ts";
import {
	claimOneTimeToken,
	consumeOneTimeToken,
	findOpenTokenMeta,
	issueOneTimeToken,
	tokenHashOf,
} from "./one-time-tokens.ts";
import { eventStatement, self } from "./security-events.ts";
import { findUserById, rolesAreSql, userInGoodStandingSql } from "./users.ts";

/**
 * One-time login links for partner backends ("temp tokens"): the identity core's one-time token
 * with purpose "login" (10 minutes, single use), redeemable by /auth/magic-link (browsers) or
 * /auth/token-login (JSON clients), whichever comes first. Who may mint a link for whom is decided
 * by services/account-policy.ts, when it is minted and again when it is redeemed.
 */

export type LoginLinkResult = { ok: true; link: string } | { ok: false; reason: "forbidden" | "not-found" };

export async function createLoginLink(
	deps: Deps,
	input: { caller: LinkCaller; key: UsableIntegrationKey; targetUserId: number; next?: string },
): Promise<LoginLinkResult> {
	const target = await findUserById(deps, input.targetUserId);
	const refusal = linkRefusal(input.caller, input.key, target);
	if (refusal || !target) return { ok: false, reason: refusal ?? "not-found" };
	const now = Date.now();
	// Both events of a link name it by this id, so `link.redeemed` points back to its `link.created`.
	const linkId = randomToken(9);
	const { token } = await issueOneTimeToken(
		deps,
		{
			purpose: "login",
			userId: target.id,
			meta: {
				integrationKeyId: input.key.id,
				createdBy: input.caller.userId,
				callerIsAdmin: input.caller.roles.includes("Admin"),
				next: input.next ?? null,
				linkId,
			},
		},
		now,
		[
			touchIntegrationKeyStatement(deps.db, input.key.id, now),
			eventStatement(
				deps,
				{
					type: "link.created",
					userId: target.id,
					actor: { type: "partner", id: input.caller.userId },
					integrationKeyId: input.key.id,
					detail: { linkId },
				},
				now,
			),
		],
	);
	const link = new URL("/auth/magic-link", `${deps.config.publicBaseUrl}/`);
	link.searchParams.set("token", token);
	if (input.next) link.searchParams.set("next", input.next);
	return { ok: true, link: link.toString() };
}

export type RedeemResult = SessionOpening | { ok: false; reason: "invalid" };

/**
 * Spends the token and opens a session with the target's own roles, in one D1 batch: a reset, a deletion request,
 * a ban or a role grant that lands after the link was read either closes the link first (no session) or finds
 * the session already open and ends it with the others. The target rule is checked again against the account as
 * it is now (a role granted after minting cannot ride on the link), and the insert requires the very roles it was
 * checked against, and that whoever minted the link still stands (exists, not banned): a link lives on its
 * minter's standing, whatever raced its minting.
 */
export async function redeemLoginToken(deps: Deps, token: string): Promise<RedeemResult> {
	const tokenHash = await tokenHashOf(token);
	if (!tokenHash) return { ok: false, reason: "invalid" };
	const now = Date.now();
	const pending = await findOpenTokenMeta(deps, tokenHash, "login", now);
	const user = pending && (await findUserById(deps, pending.userId));
	if (!pending || !user) return { ok: false, reason: "invalid" };
	const { meta } = pending;
	if (targetRefusal(meta.callerIsAdmin === true, user.roles) || sessionRefusal(deps.config, user, "link", now)) {
		// Spent all the same, as any redemption spends it: a role taken away or a ban lifted later does not bring the
		// link back.
		await consumeOneTimeToken(deps, "login", token, undefined, now);
		return { ok: false, reason: "invalid" };
	}
	const { claim, subject } = claimOneTimeToken(deps, tokenHash, "login", now);
	const minter = typeof meta.createdBy === "number" ? meta.createdBy : null;
	return openSession(deps, user, "link", {
		first: {
			statements: [claim],
			insertOnlyIf: and(
				eq(users.id, subject),
				rolesAreSql(user.roles),
				minter === null ? undefined : userInGoodStandingSql(minter, now),
			) as SQL,
		},
		event: {
			type: "link.redeemed",
			actor: self(user.id),
			integrationKeyId: typeof meta.integrationKeyId === "number" ? meta.integrationKeyId : null,
			detail: { linkId: typeof meta.linkId === "string" ? meta.linkId : null },
		},
	});
}

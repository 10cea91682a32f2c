import { randomToken } from "../lib/encoding.ts";
import { type LinkCaller, linkRefusal, targetRefusal } from "./account-policy.ts";
import { openSession, type SessionOpening } from "./auth.ts";
import type { Deps } from "./deps.ts";
import { touchIntegrationKeyStatement, type UsableIntegrationKey } from "./integration-keys.ts";
import { consumeOneTimeToken, issueOneTimeToken } from "./one-time-tokens.ts";
import { eventStatement, self } from "./security-events.ts";
import { findUserById } from "./users.ts";

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
 * Consumes the token and opens a session with the target's own roles. The target rule is checked
 * again against the account as it is now: a role granted after minting cannot ride on the link.
 */
export async function redeemLoginToken(deps: Deps, token: string): Promise<RedeemResult> {
	const consumed = await consumeOneTimeToken(deps, "login", token);
	if (!consumed) return { ok: false, reason: "invalid" };
	const user = await findUserById(deps, consumed.userId);
	if (!user || targetRefusal(consumed.meta.callerIsAdmin === true, user.roles)) return { ok: false, reason: "invalid" };
	const integrationKeyId = typeof consumed.meta.integrationKeyId === "number" ? consumed.meta.integrationKeyId : null;
	return openSession(deps, user, "link", {
		event: {
			type: "link.redeemed",
			actor: self(user.id),
			integrationKeyId,
			detail: { linkId: typeof consumed.meta.linkId === "string" ? consumed.meta.linkId : null },
		},
	});
}

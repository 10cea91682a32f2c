import { openSession, type SignedIn } from "./auth.ts";
import type { Deps } from "./deps.ts";
import { touchIntegrationKey } from "./integration-keys.ts";
import { consumeOneTimeToken, issueOneTimeToken } from "./one-time-tokens.ts";
import { findUserById } from "./users.ts";

/**
 * One-time login links for partner backends ("temp tokens"): the identity core's one-time token
 * with purpose "login" (10 minutes, single use), redeemable by /auth/magic-link (browsers) or
 * /auth/token-login (JSON clients), whichever comes first.
 */

export async function createLoginLink(
	deps: Deps,
	input: { userId: number; integrationKeyId: number; createdBy: number; next?: string },
): Promise<string> {
	const now = Date.now();
	const { token } = await issueOneTimeToken(
		{ db: deps.db, kv: deps.env.TOKENS },
		{
			purpose: "login",
			userId: input.userId,
			meta: { integrationKeyId: input.integrationKeyId, createdBy: input.createdBy, next: input.next ?? null },
		},
		now,
		[touchIntegrationKey(deps.db, input.integrationKeyId, now)],
	);
	const link = new URL("/auth/magic-link", `${deps.config.publicBaseUrl}/`);
	link.searchParams.set("token", token);
	if (input.next) link.searchParams.set("next", input.next);
	return link.toString();
}

/** Consumes the token and opens a session; null when the token is invalid, expired or used. */
export async function redeemLoginToken(deps: Deps, token: string, userAgent?: string): Promise<SignedIn | null> {
	const consumed = await consumeOneTimeToken({ db: deps.db, kv: deps.env.TOKENS }, "login", token);
	if (!consumed) return null;
	const user = await findUserById(deps.db, consumed.userId);
	return user ? openSession(deps, user, userAgent) : null;
}

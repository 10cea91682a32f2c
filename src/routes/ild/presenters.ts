import { iso, isoOrNull } from "../../lib/time.ts";
import { banInForce } from "../../services/account-policy.ts";
import type { Community } from "../../services/communities.ts";
import { SESSION_IDLE_MS, type SessionView } from "../../services/sessions.ts";
import type { Subscription, SubscriptionPeriod } from "../../services/subscriptions.ts";
import type { UserRecord } from "../../services/users.ts";

/** The ILD wire shapes (camelCase, ISO times), built from the services' records. */

/** The ILD user object of the contract. Never includes a hash or a secret. */
export function toIldUser(user: UserRecord) {
	return {
		id: user.id,
		email: user.email,
		username: user.username,
		firstName: user.firstName,
		lastName: user.lastName,
		roles: user.roles,
		emailVerified: user.emailVerifiedAt !== null,
		tutorialCompleted: user.tutorialCompletedAt !== null,
		profileImage: user.profileImageKey,
		communities: user.communities,
		categories: JSON.parse(user.categories) as string[],
		subscription: toIldSubscription({
			status: user.subscriptionStatus,
			plan: user.subscriptionPlan,
			validUntil: user.subscriptionValidUntil,
		}),
		...toIldBan(user),
		createdAt: iso(user.createdAt),
		updatedAt: iso(user.updatedAt),
	};
}

/** Ban fields, computed when read: after `bannedUntil` they read false/null/null. */
export function toIldBan(user: Pick<UserRecord, "bannedAt" | "bannedUntil" | "banReason">, now = Date.now()) {
	const banned = banInForce(user, now);
	return {
		banned,
		banReason: banned ? user.banReason : null,
		bannedUntil: banned ? isoOrNull(user.bannedUntil) : null,
	};
}

export function toIldSession(session: SessionView, currentSessionId?: string) {
	return {
		id: session.id,
		...(currentSessionId === undefined ? {} : { current: session.id === currentSessionId }),
		method: session.method,
		browser: session.browser,
		os: session.os,
		deviceType: session.deviceType,
		country: session.country,
		city: session.city,
		createdAt: iso(session.createdAt),
		lastUsedAt: iso(session.lastUsedAt),
		// When it ends unless used again: its absolute end, or the idle lifetime after its last use if sooner.
		expiresAt: iso(Math.min(session.expiresAt, session.lastUsedAt + SESSION_IDLE_MS)),
	};
}

export function toIldSubscription(s: Subscription) {
	return { status: s.status, plan: s.plan, validUntil: isoOrNull(s.validUntil) };
}

export function toIldPeriod(p: Pick<SubscriptionPeriod, "id" | "plan" | "startsAt" | "endsAt" | "source">) {
	return { id: p.id, plan: p.plan, startsAt: iso(p.startsAt), endsAt: iso(p.endsAt), source: p.source };
}

/** A community in the public catalog: no description. */
export function toIldCatalogEntry({ id, name, categories }: Pick<Community, "id" | "name" | "categories">) {
	return { id, name, categories };
}

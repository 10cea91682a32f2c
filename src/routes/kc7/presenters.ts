import { iso, isoOrNull } from "../../lib/time.ts";
import type { IntegrationKey } from "../../services/integration-keys.ts";
import type { CatalogModule, ModuleProgress, ModuleProgressRow } from "../../services/modules.ts";
import type { UserRecord } from "../../services/users.ts";

/** The KC7 wire shapes (snake_case, ISO times), built from the services' camelCase records. */

export function toKc7User(user: Pick<UserRecord, "id" | "username">) {
	return { user_id: user.id, username: user.username };
}

export function toKc7ProvisionedUser(user: Pick<UserRecord, "id" | "username" | "email" | "createdAt">) {
	return { user_id: user.id, username: user.username as string, email: user.email, created_at: iso(user.createdAt) };
}

export function toKc7Module(m: CatalogModule) {
	return {
		id: m.id,
		title: m.title,
		clean_title: m.cleanTitle,
		description: m.description,
		est_time: m.estTime,
		difficulty: m.difficulty,
	};
}

export function toKc7ModuleRow(r: ModuleProgressRow) {
	return {
		module_id: r.moduleId,
		module_name: r.moduleName,
		score: r.score,
		max_score: r.maxScore,
		progress: r.progress,
	};
}

export function toKc7Progress(p: ModuleProgress) {
	return { user_id: p.userId, module_id: p.moduleId, score: p.score, max_score: p.maxScore, progress: p.progress };
}

export function toKc7IntegrationKey(k: IntegrationKey) {
	return {
		id: k.id,
		name: k.name,
		owner_user_id: k.ownerUserId,
		scope: k.scope,
		created_at: iso(k.createdAt),
		last_used_at: isoOrNull(k.lastUsedAt),
		revoked_at: isoOrNull(k.revokedAt),
	};
}

/** At creation: the key itself, shown this once, and no use or revocation yet. */
export function toKc7CreatedIntegrationKey(k: IntegrationKey & { key: string }) {
	const { last_used_at: _, revoked_at: __, ...listed } = toKc7IntegrationKey(k);
	return { ...listed, key: k.key };
}

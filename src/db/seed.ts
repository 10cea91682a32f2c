import { sha256 } from "../lib/encoding.ts";
import { hashPassword, type Pepper } from "../lib/password.ts";
import type { Role } from "./schema.ts";

/**
 * Local demo data (never applied remotely): SQL that is safe to run again and again.
 * Demo accounts are re-asserted each time (password, verification, roles), so a fresh
 * `.dev.vars` pepper never locks a developer out of them.
 */

export const DEMO_PASSWORD = "correct-horse-battery-staple";

export const DEMO_USERS: { email: string; username: string; firstName: string; lastName: string; roles: Role[] }[] = [
	{ email: "admin@example.com", username: "admin", firstName: "Ada", lastName: "Admin", roles: ["Admin"] },
	{ email: "manager@example.com", username: "manager", firstName: "Max", lastName: "Manager", roles: ["Manager"] },
	{ email: "api@example.com", username: "api", firstName: "Partner", lastName: "Backend", roles: ["API"] },
	{ email: "user@example.com", username: "user", firstName: "Uma", lastName: "User", roles: [] },
];

/** The local partner key of the contract, for trying POST /api/users/:id/magic-link. */
export const DEMO_INTEGRATION_KEY = "dev-integration-key";

export const DEMO_MODULES = [
	{
		id: 1,
		title: "KC7 Foundations: Your First Investigation",
		cleanTitle: "KC7 Foundations",
		description: "Query logs with KQL and follow an intrusion from the first phishing email.",
		estTime: "45 min",
		difficulty: "Easy",
		maxScore: 100,
	},
	{
		id: 2,
		title: "Phishing Triage",
		cleanTitle: "Phishing Triage",
		description: "Separate real phishing campaigns from noise and scope who clicked.",
		estTime: "1 h",
		difficulty: "Medium",
		maxScore: 150,
	},
	{
		id: 3,
		title: "Ransomware Response",
		cleanTitle: "Ransomware Response",
		description: "Trace an actor from initial access to encryption and write the timeline.",
		estTime: "2 h",
		difficulty: "Hard",
		maxScore: 200,
	},
];

const q = (value: string) => `'${value.replaceAll("'", "''")}'`;

export async function seedStatements(peppers: Pepper[], now = Date.now()): Promise<string[]> {
	const statements: string[] = [];
	for (const user of DEMO_USERS) {
		const hash = await hashPassword(DEMO_PASSWORD, peppers);
		statements.push(
			`INSERT INTO users (email, username, password_hash, first_name, last_name, email_verified_at, created_at, updated_at)
VALUES (${q(user.email)}, ${q(user.username)}, ${q(hash)}, ${q(user.firstName)}, ${q(user.lastName)}, ${now}, ${now}, ${now})
ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, username = excluded.username,
  email_verified_at = coalesce(users.email_verified_at, excluded.email_verified_at);`,
		);
		for (const role of user.roles) {
			statements.push(
				`INSERT OR IGNORE INTO user_roles (user_id, role) SELECT id, ${q(role)} FROM users WHERE email = ${q(user.email)};`,
			);
		}
	}
	for (const [order, m] of DEMO_MODULES.entries()) {
		statements.push(
			`INSERT INTO modules (id, title, clean_title, description, est_time, difficulty, max_score, is_core, sort_order)
VALUES (${m.id}, ${q(m.title)}, ${q(m.cleanTitle)}, ${q(m.description)}, ${q(m.estTime)}, ${q(m.difficulty)}, ${m.maxScore}, 1, ${order})
ON CONFLICT (id) DO NOTHING;`,
		);
	}
	// Some progress for the plain user, so the progress endpoints have something to show.
	statements.push(
		`INSERT OR IGNORE INTO module_progress (user_id, module_id, score, updated_at)
SELECT id, 1, 80, ${now} FROM users WHERE email = 'user@example.com';`,
	);
	statements.push(
		`INSERT INTO integration_keys (name, key_hash, created_at)
SELECT 'Local development partner', ${q(await sha256(DEMO_INTEGRATION_KEY))}, ${now}
WHERE NOT EXISTS (SELECT 1 FROM integration_keys WHERE key_hash = ${q(await sha256(DEMO_INTEGRATION_KEY))});`,
	);
	return statements;
}

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

export const DEMO_COMMUNITIES = [
	{
		id: 1,
		name: "Learning Designers",
		description: "Course and curriculum design",
		categories: ["design", "pedagogy"],
	},
	{ id: 2, name: "Blue Team", description: "Defenders and incident responders", categories: ["security", "forensics"] },
	{ id: 3, name: "Accessibility Guild", description: "Inclusive learning experiences", categories: ["a11y", "design"] },
];

const DAY = 24 * 60 * 60 * 1000;

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
	for (const c of DEMO_COMMUNITIES) {
		statements.push(
			`INSERT INTO communities (id, name, description, created_at) VALUES (${c.id}, ${q(c.name)}, ${q(c.description)}, ${now})
ON CONFLICT (id) DO NOTHING;`,
		);
		for (const category of c.categories) {
			statements.push(
				`INSERT OR IGNORE INTO community_categories (community_id, name) VALUES (${c.id}, ${q(category)});`,
			);
		}
	}
	// The plain user: a member of the first community, one ended and one current subscription period.
	const plain = "(SELECT id FROM users WHERE email = 'user@example.com')";
	statements.push(
		`INSERT OR IGNORE INTO community_memberships (user_id, community_id, joined_at) SELECT ${plain}, 1, ${now};`,
	);
	statements.push(
		`INSERT INTO subscription_periods (user_id, plan, starts_at, ends_at, source, created_at)
SELECT ${plain}, 'basic', ${now - 400 * DAY}, ${now - 35 * DAY}, 'demo', ${now}
WHERE NOT EXISTS (SELECT 1 FROM subscription_periods WHERE user_id = ${plain} AND source = 'demo');`,
		`INSERT INTO subscription_periods (user_id, plan, starts_at, ends_at, source, created_at)
SELECT ${plain}, 'pro', ${now - 30 * DAY}, ${now + 335 * DAY}, 'demo', ${now}
WHERE (SELECT count(*) FROM subscription_periods WHERE user_id = ${plain} AND source = 'demo') = 1;`,
	);
	// Stored derived fields, as the API would have left them (PATCH …/index, PUT …/recalculate-subscription).
	statements.push(
		`UPDATE users SET categories = (SELECT coalesce(json_group_array(name), '[]') FROM (SELECT DISTINCT cc.name AS name
  FROM community_categories cc JOIN community_memberships m ON m.community_id = cc.community_id
  WHERE m.user_id = users.id ORDER BY cc.name)) WHERE email = 'user@example.com';`,
		`UPDATE users SET subscription_status = 'active',
  subscription_plan = (SELECT plan FROM subscription_periods WHERE user_id = users.id ORDER BY ends_at DESC LIMIT 1),
  subscription_valid_until = (SELECT max(ends_at) FROM subscription_periods WHERE user_id = users.id)
  WHERE email = 'user@example.com';`,
	);
	return statements;
}

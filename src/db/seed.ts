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
	return statements;
}

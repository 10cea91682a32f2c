/**
 * Usernames that read as the service speaking, or that break the code and mail that show them. A user holding one
 * could pass for staff in a message or a profile, or receive what is meant for a role address. Production refuses
 * them at registration, profile updates and provisioning; development does not apply the rule (its seeded demo
 * users are `admin`, `manager`, `api` and `user`), so the services decide when to call this, not the schema.
 *
 * Compared case-insensitively and without the separators a username may hold ('.', '_', '-'), so `No_Reply`,
 * `no.reply` and `Ad-min` are refused as well.
 */
const RESERVED = new Set(
	[
		// Authority and staff
		"admin",
		"administrator",
		"administrators",
		"root",
		"superuser",
		"sysadmin",
		"sysop",
		"system",
		"operator",
		"staff",
		"team",
		"moderator",
		"moderators",
		"mod",
		"owner",
		"official",
		"verified",
		// Role mailboxes (RFC 2142 and the usual senders)
		"support",
		"help",
		"helpdesk",
		"security",
		"abuse",
		"postmaster",
		"hostmaster",
		"webmaster",
		"mailer-daemon",
		"noreply",
		"no-reply",
		"donotreply",
		"info",
		"contact",
		"billing",
		"privacy",
		"legal",
		// Parts of the service
		"api",
		"www",
		"mail",
		"auth",
		"login",
		"signin",
		"signup",
		"register",
		"account",
		"settings",
		"dashboard",
		// Placeholders that code or readers take for "no user"
		"null",
		"undefined",
		"none",
		"nobody",
		"anonymous",
		"unknown",
		"deleted",
		"guest",
		"everyone",
	].map(canonical),
);

function canonical(username: string): string {
	return username.toLowerCase().replace(/[._-]/g, "");
}

/** "Username is reserved" for a name production does not hand out, else null. */
export function reservedUsernameProblem(username: string): string | null {
	return RESERVED.has(canonical(username.trim())) ? "Username is reserved" : null;
}

/** Contract: 3–32 of [A-Za-z0-9_.-], not all digits (those route to ids), not "me". */
export function usernameProblem(username: string): string | null {
	if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username)) return "Username must be 3–32 letters, digits, '_', '.' or '-'";
	if (/^\d+$/.test(username)) return "Username must not be all digits";
	if (username.toLowerCase() === "me") return "Username is reserved";
	return null;
}

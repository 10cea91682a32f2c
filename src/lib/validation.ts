import { z } from "@hono/zod-openapi";
import type { ValidationIssue } from "./errors.ts";

// A missing field is reported as "<Field> is required" rather than zod's type wording.
z.config({
	customError: (issue) => (issue.code === "invalid_type" && issue.input === undefined ? "Required" : undefined),
});

/** An id as clients write it in a path: a positive integer of at most 15 digits (no sign, no leading zero). */
export const ID_PATTERN = /^[1-9]\d{0,14}$/;

/** The id a path segment names, or null when it cannot name one (every id rule reads through here). */
export function parseId(value: string): number | null {
	return ID_PATTERN.test(value) ? Number(value) : null;
}

/** "firstName" → "First name", "user.email" → "User email". */
function humanize(path: string): string {
	const words = path
		.replace(/([a-z0-9])([A-Z])/g, "$1 $2")
		.replace(/[._]/g, " ")
		.toLowerCase()
		.trim();
	return words ? words[0]?.toUpperCase() + words.slice(1) : "Request body";
}

/** Zod issues as the envelope's `issues`: one sentence each, naming the field. */
export function toValidationIssues(error: z.ZodError): ValidationIssue[] {
	const out: ValidationIssue[] = [];
	for (const issue of error.issues) {
		const path = issue.path.map(String).join(".");
		if (issue.code === "unrecognized_keys") {
			for (const key of issue.keys) {
				const full = path ? `${path}.${key}` : key;
				out.push({ path: full, message: `Unknown field "${full}"` });
			}
			continue;
		}
		const field = humanize(path);
		let message = issue.message;
		if (message === "Required") message = `${field} is required`;
		else if (!message.startsWith(field)) message = `${field}: ${message}`;
		out.push({ path, message });
	}
	return out;
}

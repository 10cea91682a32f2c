import { desc, eq } from "drizzle-orm";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { devOutbox } from "../db/schema.ts";
import type { Deps } from "./deps.ts";
import { normalizeEmail } from "./users.ts";

interface MailMessage {
	to: string;
	subject: string;
	text: string;
}

export interface Mailer {
	send(message: MailMessage): Promise<void>;
}

/** Development: mail lands in D1 and is read back at GET /dev/outbox. */
function outboxMailer(db: Db): Mailer {
	return {
		async send(message) {
			await db.insert(devOutbox).values({ ...message, createdAt: Date.now() });
		},
	};
}

/** Production: any Resend-compatible JSON API (POST {from, to, subject, text}, Bearer key). */
function httpMailer(mail: Config["mail"]): Mailer {
	return {
		async send(message) {
			if (!mail.apiUrl || !mail.apiKey)
				throw new Error("MAIL_API_URL and MAIL_API_KEY must be set for MAIL_PROVIDER=http");
			const res = await fetch(mail.apiUrl, {
				method: "POST",
				headers: { Authorization: `Bearer ${mail.apiKey}`, "Content-Type": "application/json" },
				body: JSON.stringify({ from: mail.from, to: [message.to], subject: message.subject, text: message.text }),
			});
			if (!res.ok) throw new Error(`mail provider answered ${res.status}`);
		},
	};
}

export function createMailer({ config, db }: Pick<Deps, "config" | "db">): Mailer {
	if (config.mail.provider === "http") return httpMailer(config.mail);
	if (!config.isDevelopment) {
		// An outbox nobody reads would silently swallow password resets in production.
		return {
			async send() {
				throw new Error("MAIL_PROVIDER=outbox is for development only; configure MAIL_PROVIDER=http");
			},
		};
	}
	return outboxMailer(db);
}

/** Links in mail come from configuration only, never from the request's Host header. */
export function appLink(config: Config, path: string, token: string): string {
	const url = new URL(path, new URL(config.dashboardUrl).origin);
	url.searchParams.set("token", token);
	return url.toString();
}

/** Development only: the newest 100 messages of the outbox, for one address or all; null outside development. */
export async function listOutbox({ config, db }: Pick<Deps, "config" | "db">, to?: string) {
	if (!config.isDevelopment) return null;
	return db
		.select()
		.from(devOutbox)
		.where(to ? eq(devOutbox.to, normalizeEmail(to)) : undefined)
		.orderBy(desc(devOutbox.id))
		.limit(100);
}

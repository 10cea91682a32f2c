/** The development outbox: what the Worker mailed, and the tokens inside. */
import { expect } from "vitest";
import { send } from "./http.ts";

export async function outbox(to: string) {
	const res = await send(`/dev/outbox?to=${encodeURIComponent(to)}`);
	expect(res.status).toBe(200);
	return (await res.json()) as { to: string; subject: string; text: string; createdAt: string }[];
}

/** Deferred work (ctx.waitUntil) finishes after the response: poll for its effect. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 5000): Promise<T> {
	const started = Date.now();
	for (;;) {
		const value = await probe();
		if (value) return value;
		if (Date.now() - started > timeoutMs) throw new Error("condition not met in time");
		await new Promise((r) => setTimeout(r, 20));
	}
}

/** The newest mail to `email` whose subject matches, once it has been sent. */
export async function mailFor(email: string, subject: RegExp) {
	return eventually(async () => (await outbox(email)).find((m) => subject.test(m.subject)));
}

export function tokenFromMail(text: string): string {
	const token = text.match(/[?&]token=([A-Za-z0-9_-]+)/)?.[1];
	if (!token) throw new Error(`no token in mail: ${text}`);
	return token;
}

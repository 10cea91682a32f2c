import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sessions } from "../../../src/db/schema.ts";
import { describeDevice } from "../../../src/lib/device.ts";
import { NO_REQUEST } from "../../../src/services/deps.ts";
import { deviceSeenStatement } from "../../../src/services/sessions.ts";
import { db } from "../../helpers/d1.ts";
import { createUser, PASSWORD } from "../../helpers/factories.ts";
import { expectError, refreshCookieOf, sendJson, sendWith, withCookie } from "../../helpers/http.ts";
import { outbox, tokenFromMail } from "../../helpers/mail.ts";
import { uniqueIp } from "../../helpers/unique.ts";

/** POST /sign/login and POST /api/auth: the "New sign-in" notice and POST /sign/not-me (contract: Account control). */

const FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI_IPHONE =
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/** A sign-in from a device: its user agent, and the edge's country and city (`request.cf`). */
async function signIn(
	who: { email: string; username: string | null },
	device: { ua: string; country?: string; city?: string },
	surface: "ild" | "kc7" = "ild",
) {
	const init = {
		method: "POST",
		headers: { "Content-Type": "application/json", "User-Agent": device.ua, "CF-Connecting-IP": uniqueIp() },
		body: JSON.stringify(
			surface === "ild" ? { email: who.email, password: PASSWORD } : { username: who.username, password: PASSWORD },
		),
		cf: device.country ? { country: device.country, city: device.city ?? null } : undefined,
	} as RequestInit;
	// sendWith waits for the deferred work (the notice mail) before answering.
	const res = await sendWith({}, surface === "ild" ? "/sign/login" : "/api/auth", init);
	expect(res.status).toBe(200);
	return { refresh: refreshCookieOf(res) as string };
}

const notices = async (email: string) => (await outbox(email)).filter((m) => m.subject === "New sign-in");

describe("new-device notice", () => {
	it("says nothing on the first sign-in or from a known device; mails a new device with device, place and time", async () => {
		const user = await createUser();
		await signIn(user, { ua: FIREFOX_MAC, country: "DE", city: "Berlin" });
		await signIn(user, { ua: FIREFOX_MAC, country: "DE", city: "Hamburg" }); // same browser, OS and country
		expect(await notices(user.email)).toEqual([]);

		await signIn(user, { ua: SAFARI_IPHONE, country: "FR", city: "Paris" });
		const [notice] = await notices(user.email);
		expect(notice?.text).toMatch(/Safari on iOS \(mobile\), Paris, FR, at \d{4}-\d\d-\d\dT/);
		expect(notice?.text).toMatch(/\/not-me\?token=[\w-]{43}/);
		// The same device again is known now.
		await signIn(user, { ua: SAFARI_IPHONE, country: "FR" });
		expect(await notices(user.email)).toHaveLength(1);
		// Another country with a known browser and OS is a new combination.
		await signIn(user, { ua: FIREFOX_MAC, country: "US" });
		expect(await notices(user.email)).toHaveLength(2);
	});

	it("forgets devices after 90 days, and notices on the KC7 sign-in route too", async () => {
		const user = await createUser();
		await signIn(user, { ua: FIREFOX_MAC, country: "DE" }, "kc7");
		// The only earlier session is older than 90 days: the device counts as new again.
		await db()
			.update(sessions)
			.set({ createdAt: Date.now() - 91 * 24 * 60 * 60 * 1000 })
			.where(eq(sessions.userId, user.id));
		await signIn(user, { ua: FIREFOX_MAC, country: "DE" }, "kc7");
		expect(await notices(user.email)).toHaveLength(1);
	});
});

describe("the device check's cost", () => {
	it("reads a few rows for a returning device, however many sessions the account has piled up", async () => {
		// Successful sign-ins are not rate limited: an account (or a script holding its password) can pile up
		// sessions, and the check runs on every password sign-in. D1's rows_read is what it costs.
		const user = await createUser();
		const now = Date.now();
		const device = describeDevice(FIREFOX_MAC);
		const rows = Array.from({ length: 400 }, (_, i) => ({
			id: `pile-${user.id}-${i}`,
			userId: user.id,
			family: `pile-family-${user.id}-${i}`,
			tokenHash: "x",
			createdAt: now - i * 1000,
			lastUsedAt: now - i * 1000,
			expiresAt: now + 86_400_000,
			browser: device.browser,
			os: device.os,
			country: null,
		}));
		for (let i = 0; i < rows.length; i += 8)
			await db()
				.insert(sessions)
				.values(rows.slice(i, i + 8));
		const rowsRead = async (d: typeof device) => {
			const { sql, params } = deviceSeenStatement({ db: db(), request: NO_REQUEST }, user.id, d, now).toSQL();
			const statement = env.DB.prepare(sql).bind(...params);
			// raw() for the answer (its columns are unnamed expressions), run() for what reading it cost.
			const [row] = await statement.raw();
			return { row, read: (await statement.run()).meta.rows_read };
		};
		const returning = await rowsRead(device);
		expect(returning.row).toEqual([1, 1]); // known account, known device
		expect(returning.read).toBeLessThanOrEqual(4);
		// A new device has to look through the window; still one answer row.
		const stranger = await rowsRead(describeDevice(SAFARI_IPHONE));
		expect(stranger.row).toEqual([1, 0]);
	});
});

describe("POST /sign/not-me", () => {
	it("ends exactly the session the notice was about, mails a reset link, and works once", async () => {
		const user = await createUser();
		const known = await signIn(user, { ua: FIREFOX_MAC, country: "DE" });
		const stranger = await signIn(user, { ua: SAFARI_IPHONE, country: "BR" });
		const token = tokenFromMail(((await notices(user.email))[0] as { text: string }).text);

		const res = await sendWith({}, "/sign/not-me", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ token }),
		});
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({});
		// The stranger's session is over; the user's own device stays signed in.
		await expectError(await sendWith({}, "/sign/refresh", { headers: withCookie(stranger.refresh) }), 401);
		expect((await sendWith({}, "/sign/refresh", { headers: withCookie(known.refresh) })).status).toBe(200);
		// A reset mail is on its way.
		expect((await outbox(user.email)).some((m) => /reset/i.test(m.subject))).toBe(true);
		// Single use; unknown and malformed tokens alike.
		for (const bad of [token, "A".repeat(43), "short"])
			await expectError(await sendJson("/sign/not-me", { token: bad }), 400, "Invalid or expired token");
		await expectError(await sendJson("/sign/not-me", {}), 400);
	});
});

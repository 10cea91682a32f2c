import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { deletionRequests, oneTimeTokens } from "../../../src/db/schema.ts";
import { planImport } from "../../../src/scripts/kc7-import-plan.ts";
import { issueOneTimeToken } from "../../../src/services/one-time-tokens.ts";
import { db, userRow } from "../../helpers/d1.ts";
import { createUser, ildLogin, PASSWORD, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson, withCookie } from "../../helpers/http.ts";
import { eventually, mailFor, outbox, tokenFromMail } from "../../helpers/mail.ts";
import { deviceSession, eventsAbout } from "../../helpers/requests.ts";
import { uniqueEmail } from "../../helpers/unique.ts";

/**
 * Attack chains against the account lifecycle (contract: "Account lifecycle (v2)", "Account control", one-time
 * tokens), from an outside review. Each "fixed" chain failed against the first version of the lifecycle and
 * passes since its fix; each "defense" was attacked and held.
 */

const changeEmail = (token: string, body: unknown) =>
	send("/user/email", {
		method: "PUT",
		headers: { ...bearer(token), "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});

const requestDeletion = (token: string, body: unknown) =>
	send("/user/account", {
		method: "DELETE",
		headers: { ...bearer(token), "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});

type Export = {
	oneTimeTokens: { purpose: string; meta: Record<string, unknown> }[];
	securityEvents: { type: string }[];
} & Record<string, unknown>;

async function exportOf(token: string): Promise<Export> {
	const res = await send("/user/export", { headers: bearer(token) });
	expect(res.status).toBe(200);
	return (await res.json()) as Export;
}

let admin: { id: number; token: string };
beforeAll(async () => {
	const { user, token } = await userWithToken(["Admin"]);
	admin = { id: user.id, token };
});

/** A user whose address was moved (by whoever knows the password) to `newEmail`; the undo token mailed to the old one. */
async function confirmedChange() {
	const user = await createUser();
	const signedIn = await ildLogin(user.email);
	const newEmail = uniqueEmail();
	expect((await changeEmail(signedIn.token, { newEmail, currentPassword: PASSWORD })).status).toBe(202);
	const confirmToken = tokenFromMail((await mailFor(newEmail, /Confirm your new email/)).text);
	expect((await sendJson("/sign/email/confirm", { token: confirmToken })).status).toBe(200);
	const undoToken = tokenFromMail((await mailFor(user.email, /Your email address was changed/)).text);
	return { user, newEmail, undoToken, signedIn };
}

describe("fixed: PUT /user/email answers alike, but GET /user/export tells a taken address from a free one", () => {
	it("the export of the asking account is the same whether the new address is taken or not", async () => {
		const owner = await createUser();
		const free = uniqueEmail();
		const [probeTaken, probeFree] = [await createUser(), await createUser()];
		const tokenTaken = (await ildLogin(probeTaken.email)).token;
		const tokenFree = (await ildLogin(probeFree.email)).token;
		expect((await changeEmail(tokenTaken, { newEmail: owner.email, currentPassword: PASSWORD })).status).toBe(202);
		expect((await changeEmail(tokenFree, { newEmail: free, currentPassword: PASSWORD })).status).toBe(202);
		// The deferred work has run once each address got its mail.
		await mailFor(owner.email, /Email change not possible/);
		await mailFor(free, /Confirm your new email/);
		const [taken, notTaken] = [await exportOf(tokenTaken), await exportOf(tokenFree)];
		const pending = (e: Export) => e.oneTimeTokens.filter((t) => t.purpose === "email-change");
		// Today: [] for the taken address, one `email-change` link with meta.newEmail for the free one.
		expect(pending(taken).length).toBe(pending(notTaken).length);
	});
});

describe("fixed: whoever moved the address closes the owner's undo link with a password reset", () => {
	it("a reset completed through the new address leaves the undo link (mailed to the old one) working", async () => {
		const { user, newEmail, undoToken } = await confirmedChange();
		// The intruder now owns the account's address: a reset link comes to them.
		expect((await sendJson("/sign/reset", { email: newEmail })).status).toBe(200);
		const resetToken = tokenFromMail((await mailFor(newEmail, /Reset your password/)).text);
		const reset = await sendJson(`/sign/reset/${resetToken}`, { password: "an-intruders-new-passphrase" });
		expect(reset.status, "reset").toBe(200);
		// The owner's only way back. Today: 400 "Invalid or expired token" (the reset closed every open token).
		const undo = await sendJson("/sign/email/undo", { token: undoToken });
		expect(undo.status, `undo: ${await undo.clone().text()}`).toBe(200);
		expect((await userRow(user.id))?.email).toBe(user.email);
	});
});

describe("fixed: a password change leaves the intruder's pending email change open", () => {
	it("after the owner changes the password, the confirmation link an intruder asked for no longer moves the account", async () => {
		const user = await createUser();
		const intruder = await ildLogin(user.email);
		const newEmail = uniqueEmail();
		expect((await changeEmail(intruder.token, { newEmail, currentPassword: PASSWORD })).status).toBe(202);
		const confirmToken = tokenFromMail((await mailFor(newEmail, /Confirm your new email/)).text);
		// The owner reacts (new sign-in mail) by changing the password: the intruder's session ends…
		const owner = await ildLogin(user.email);
		const change = await send("/user/changepassword", {
			method: "PUT",
			headers: { ...bearer(owner.token), "Content-Type": "application/json" },
			body: JSON.stringify({ currentPassword: PASSWORD, newPassword: "the-owners-new-passphrase" }),
		});
		expect(change.status).toBe(200);
		await expectError(await send("/user/profile", { headers: bearer(intruder.token) }), 401);
		// …but the link in the intruder's mailbox still moves the account there (then a reset through it, see above,
		// closes the owner's undo link). Today: 200.
		await expectError(await sendJson("/sign/email/confirm", { token: confirmToken }), 400, "Invalid or expired token");
		expect((await userRow(user.id))?.email).toBe(user.email);
	});
});

describe("fixed (chain): a phished password becomes a permanent takeover, even if the owner reacts at once", () => {
	it("intruder asks for a change, owner changes the password, intruder confirms and resets: the owner's undo still works", async () => {
		const user = await createUser();
		const intruder = await ildLogin(user.email);
		const intruderMail = uniqueEmail();
		expect((await changeEmail(intruder.token, { newEmail: intruderMail, currentPassword: PASSWORD })).status).toBe(202);
		const owner = await ildLogin(user.email);
		const change = await send("/user/changepassword", {
			method: "PUT",
			headers: { ...bearer(owner.token), "Content-Type": "application/json" },
			body: JSON.stringify({ currentPassword: PASSWORD, newPassword: "the-owners-new-passphrase" }),
		});
		expect(change.status).toBe(200);
		// Anonymous from here on: the intruder holds only their own mailbox.
		const confirmToken = tokenFromMail((await mailFor(intruderMail, /Confirm your new email/)).text);
		const confirmed = await sendJson("/sign/email/confirm", { token: confirmToken });
		if (confirmed.status !== 200) return; // the link died with the password change: the chain is broken here
		expect((await sendJson("/sign/reset", { email: intruderMail })).status).toBe(200);
		const resetToken = tokenFromMail((await mailFor(intruderMail, /Reset your password/)).text);
		expect((await sendJson(`/sign/reset/${resetToken}`, { password: "the-intruders-passphrase" })).status).toBe(200);
		const undoToken = tokenFromMail((await mailFor(user.email, /Your email address was changed/)).text);
		const undo = await sendJson("/sign/email/undo", { token: undoToken });
		expect(undo.status, "the owner's undo").toBe(200);
	});
});

describe("fixed: a repeated deletion request revokes every session without an event", () => {
	it("DELETE /user/account from a link session during the grace writes an event for what it revoked", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		expect((await requestDeletion(token, { password: PASSWORD })).status).toBe(202);
		// A login link opens a session in the grace without cancelling; the second request ends it again.
		const link = await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId: user.id });
		const res = await send(`/auth/token-login?token=${link.token}`);
		expect(res.status).toBe(200);
		const linkToken = ((await res.json()) as { access_token: string }).access_token;
		const before = await eventsAbout(admin.token, user.id);
		expect((await requestDeletion(linkToken, { password: PASSWORD })).status).toBe(202);
		await expectError(await send("/user/profile", { headers: bearer(linkToken) }), 401);
		const after = await eventsAbout(admin.token, user.id);
		// The revoke is recorded though the request was already open.
		expect(after.length).toBeGreaterThan(before.length);
	});
});

describe("fixed: the reset link an undo promises can be suppressed by anyone", () => {
	it("after anonymous reset requests spend the old address's budget, the undo still gets its reset link out", async () => {
		const { user, undoToken } = await confirmedChange();
		// The change request already spent one mail of the old address's 3-per-hour budget; two anonymous
		// reset requests (the address no longer belongs to an account: nothing is mailed) spend the rest.
		for (let i = 0; i < 2; i++) expect((await sendJson("/sign/reset", { email: user.email })).status).toBe(200);
		expect((await sendJson("/sign/email/undo", { token: undoToken })).status).toBe(200);
		// Whoever changed the address knew the password: the undo cleared it, and the reset link (sent even past the
		// address's budget) is how the owner sets a new one.
		await expectError(await sendJson("/sign/login", { email: user.email, password: PASSWORD }), 401);
		await eventually(async () => (await outbox(user.email)).find((m) => /Reset your password/.test(m.subject)), 2000);
	});
});

describe("fixed: an email change and a deletion request leave older links open (contract: they close them all)", () => {
	it("a login link minted before a confirmed email change no longer signs in", async () => {
		const user = await createUser();
		const link = await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId: user.id });
		const { token } = await ildLogin(user.email);
		const newEmail = uniqueEmail();
		expect((await changeEmail(token, { newEmail, currentPassword: PASSWORD })).status).toBe(202);
		const confirmToken = tokenFromMail((await mailFor(newEmail, /Confirm your new email/)).text);
		expect((await sendJson("/sign/email/confirm", { token: confirmToken })).status).toBe(200);
		await expectError(await send(`/auth/token-login?token=${link.token}`), 401);
	});

	it("a login link minted before DELETE /user/account no longer opens a session in the grace", async () => {
		const user = await createUser();
		const link = await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId: user.id });
		const { token } = await ildLogin(user.email);
		expect((await requestDeletion(token, { password: PASSWORD })).status).toBe(202);
		await expectError(await send(`/auth/token-login?token=${link.token}`), 401);
	});
});

describe("fixed: re-running the KC7 import brings a deleted account back", () => {
	it("an import row for an account an Admin deleted is not planned for creation again", async () => {
		const user = await createUser();
		await ildLogin(user.email); // leaves events about the account, which outlive it
		expect((await send(`/user/${user.id}`, { method: "DELETE", headers: bearer(admin.token) })).status).toBe(204);
		// What import-kc7.ts reads from D1 before planning.
		const rows = await env.DB.prepare("SELECT id, email, username FROM users").all<{
			id: number;
			email: string;
			username: string | null;
		}>();
		const existing = {
			emailById: new Map(rows.results.map((u) => [u.id, u.email])),
			emails: new Set(rows.results.map((u) => u.email)),
			usernames: new Set(rows.results.flatMap((u) => (u.username ? [u.username.toLowerCase()] : []))),
			reserved: new Set<string>(),
			deletedIds: new Set(
				(
					await env.DB.prepare(
						"SELECT DISTINCT user_id FROM security_events WHERE type = 'account.deleted' AND user_id IS NOT NULL",
					).all<{ user_id: number }>()
				).results.map((r) => r.user_id),
			),
		};
		const plan = planImport(
			[
				{
					line: 1,
					fields: {
						user_id: user.id,
						username: user.username,
						email: user.email,
						pw_hash: "",
						registered_on: "2020-01-01 00:00:00",
						is_active: 1,
						roles: [],
					},
				},
			],
			existing,
			new Map(),
		);
		// The deleted account (same id, so the kept events about it would attach again) is not created again.
		expect(plan.create).toEqual([]);
		expect(plan.invalid).toEqual([expect.stringMatching(/was deleted/)]);
	});
});

describe("fixed: whoever moved the address on twice closes the owner's undo with the undo of their own move", () => {
	it("owner → a1 → a2; the undo of a2 (mailed to a1) keeps the owner's undo, which still restores the account", async () => {
		const { user, newEmail: a1, undoToken: ownersUndo, signedIn } = await confirmedChange();
		const a2 = uniqueEmail();
		expect((await changeEmail(signedIn.token, { newEmail: a2, currentPassword: PASSWORD })).status).toBe(202);
		const confirm2 = tokenFromMail((await mailFor(a2, /Confirm your new email/)).text);
		expect((await sendJson("/sign/email/confirm", { token: confirm2 })).status).toBe(200);
		// The second move's undo goes to a1, the intruder's mailbox; so does the reset link that follows it.
		const intrudersUndo = tokenFromMail((await mailFor(a1, /Your email address was changed/)).text);
		expect((await sendJson("/sign/email/undo", { token: intrudersUndo })).status).toBe(200);
		expect((await userRow(user.id))?.email).toBe(a1);
		const reset = tokenFromMail((await mailFor(a1, /Reset your password/)).text);
		expect((await sendJson(`/sign/reset/${reset}`, { password: "intruder-owns-this-now-42" })).status).toBe(200);
		const intruder = await ildLogin(a1, "intruder-owns-this-now-42");
		// The original address is still reserved for the account while the owner's undo is open.
		await expectError(
			await sendJson("/sign/register", {
				email: user.email,
				password: "a-long-passphrase-for-this",
				firstName: "A",
				lastName: "B",
			}),
			409,
		);
		// The owner, who never lost their mailbox, undoes within the 7 days: the account is theirs again.
		expect((await sendJson("/sign/email/undo", { token: ownersUndo })).status).toBe(200);
		expect((await userRow(user.id))?.email).toBe(user.email);
		expect((await userRow(user.id))?.passwordHash).toBeNull();
		await expectError(await send("/user/profile", { headers: bearer(intruder.token) }), 401);
		expect((await mailFor(user.email, /Reset your password/)).text).toMatch(/token=/);
	});
});

describe("defense: whoever changed the address cannot block the undo", () => {
	it("registering, provisioning or moving another account to the old address fails; a second change does not close the first undo", async () => {
		const { user, newEmail, undoToken, signedIn } = await confirmedChange();
		// The intruder registers the old address…
		const reg = await sendJson("/sign/register", {
			email: user.email,
			password: "a-long-passphrase-for-this",
			firstName: "A",
			lastName: "B",
		});
		await expectError(reg, 409);
		// …or provisions it (an Admin-minted account stands for any path that inserts a user).
		const prov = await send("/api/users", {
			method: "POST",
			headers: { ...bearer(admin.token), "Content-Type": "application/json" },
			body: JSON.stringify({ email: user.email, username: `p${Date.now()}` }),
		});
		await expectError(prov, 409);
		// …and moves the victim account on once more (newEmail → third), which reserves newEmail too.
		const third = uniqueEmail();
		expect((await changeEmail(signedIn.token, { newEmail: third, currentPassword: PASSWORD })).status).toBe(202);
		const confirm2 = tokenFromMail((await mailFor(third, /Confirm your new email/)).text);
		expect((await sendJson("/sign/email/confirm", { token: confirm2 })).status).toBe(200);
		// The first undo link still restores the original address and ends the intruder's session.
		expect((await sendJson("/sign/email/undo", { token: undoToken })).status).toBe(200);
		expect((await userRow(user.id))?.email).toBe(user.email);
		await expectError(await send("/user/profile", { headers: bearer(signedIn.token) }), 401);
		// The second undo (mailed to newEmail, the intruder's) was closed by the first one.
		const undo2 = tokenFromMail((await mailFor(newEmail, /Your email address was changed/)).text);
		await expectError(await sendJson("/sign/email/undo", { token: undo2 }), 400, "Invalid or expired token");
		expect((await userRow(user.id))?.email).toBe(user.email);
	});

	it("twenty concurrent undos: exactly one wins; concurrent confirms of one address by two accounts: exactly one owner", async () => {
		const { user, undoToken } = await confirmedChange();
		const answers = await Promise.all(
			Array.from({ length: 20 }, () => sendJson("/sign/email/undo", { token: undoToken })),
		);
		expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
		expect(answers.filter((r) => r.status === 400)).toHaveLength(19);
		expect(await eventsAbout(admin.token, user.id, "email.change_undone")).toHaveLength(1);

		const target = uniqueEmail();
		const confirms: string[] = [];
		for (const u of [await createUser(), await createUser()]) {
			const { token } = await ildLogin(u.email);
			expect((await changeEmail(token, { newEmail: target, currentPassword: PASSWORD })).status).toBe(202);
			await eventually(async () => (await outbox(target)).length >= confirms.length + 1);
			confirms.push(tokenFromMail((await outbox(target))[0]?.text ?? ""));
		}
		const results = await Promise.all(confirms.map((token) => sendJson("/sign/email/confirm", { token })));
		expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
		const owners = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE email = ?1").bind(target).first<{
			n: number;
		}>();
		expect(owners?.n).toBe(1);
	});
});

describe("defense: a stolen access token without the password", () => {
	it("cannot change the address or schedule a deletion; its guesses count toward the account's login limit", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		const target = uniqueEmail();
		await expectError(await changeEmail(token, { newEmail: target, currentPassword: "guess-1" }), 400);
		await expectError(await requestDeletion(token, { password: "guess-2" }), 400, "Password is incorrect");
		for (let i = 0; i < 8; i++) await changeEmail(token, { newEmail: target, currentPassword: `guess-${i + 3}` });
		// The account's 10 failures are spent: the next guess (and any sign-in) is 429, never a free oracle.
		await expectError(await changeEmail(token, { newEmail: target, currentPassword: PASSWORD }), 429);
		await expectError(await requestDeletion(token, { password: PASSWORD }), 429);
		expect(await outbox(target)).toEqual([]);
		expect(await db().select().from(deletionRequests).where(eq(deletionRequests.userId, user.id))).toEqual([]);
	});
});

describe("defense: nothing keeps access after an Admin deletion", () => {
	it("its access and refresh tokens and the login links minted for it and by it are dead; events stay, anonymized", async () => {
		const partner = await createUser({ roles: ["API"] });
		const target = await createUser();
		const { refresh, token } = await ildLogin(partner.email);
		const forPartner = await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId: partner.id });
		const byPartner = await issueOneTimeToken(
			{ db: db(), env },
			{ purpose: "login", userId: target.id, meta: { createdBy: partner.id } },
		);
		expect((await send(`/user/${partner.id}`, { method: "DELETE", headers: bearer(admin.token) })).status).toBe(204);
		await expectError(await send("/user/profile", { headers: bearer(token) }), 401);
		await expectError(await send("/user/export", { headers: bearer(token) }), 401);
		await expectError(await send("/sign/refresh", { headers: withCookie(refresh) }), 401);
		await expectError(await send(`/auth/token-login?token=${forPartner.token}`), 401);
		await expectError(await send(`/auth/token-login?token=${byPartner.token}`), 401);
		await expectError(await send(`/user/${partner.id}/export`, { headers: bearer(admin.token) }), 404);
		// Events about it stay, without personal fields.
		const rows = await env.DB.prepare("SELECT ip, user_agent FROM security_events WHERE user_id = ?1")
			.bind(partner.id)
			.all<{ ip: string | null; user_agent: string | null }>();
		expect(rows.results.length).toBeGreaterThan(0);
		for (const r of rows.results) expect([r.ip, r.user_agent]).toEqual([null, null]);
	});

	it("its undo link and other sessions die with it; the address it held and the one it reserved are free at once", async () => {
		const { user, newEmail } = await confirmedChange();
		const other = await deviceSession(user.id);
		expect((await send(`/user/${user.id}`, { method: "DELETE", headers: bearer(admin.token) })).status).toBe(204);
		await expectError(await send("/user/profile", { headers: bearer(other.token) }), 401);
		const left = await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.userId, user.id));
		expect(left).toEqual([]);
		// Both the address it held and the one it reserved are free at once.
		for (const email of [user.email, newEmail]) {
			const res = await sendJson("/sign/register", {
				email,
				password: "a-long-passphrase-for-this",
				firstName: "A",
				lastName: "B",
			});
			expect(res.status).toBe(201);
		}
	});
});

describe("defense: the export leaks no secret and no one else's facts", () => {
	it("no-store attachment; no hash, password or refresh field; an Admin's IP on events about the user is hidden", async () => {
		const user = await createUser();
		// An Admin acts on the user (ban and unban: events about the user, by someone else).
		await send(`/user/${user.id}/ban`, {
			method: "PUT",
			headers: { ...bearer(admin.token), "Content-Type": "application/json", "CF-Connecting-IP": "203.0.113.77" },
			body: JSON.stringify({ reason: "test" }),
		});
		await send(`/user/${user.id}/ban`, { method: "DELETE", headers: bearer(admin.token) });
		const fresh = await ildLogin(user.email);
		await issueOneTimeToken({ db: db(), env }, { purpose: "password-reset", userId: user.id });
		const res = await send("/user/export", { headers: bearer(fresh.token) });
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toContain("no-store");
		expect(res.headers.get("Content-Disposition")).toMatch(
			/^attachment; filename="account-\d+-\d{4}-\d{2}-\d{2}\.json"$/,
		);
		const text = await res.text();
		expect(text).not.toMatch(/hash|password_?hash|refresh|secret|closedBy|pepper/i);
		expect(text).not.toContain("203.0.113.77");
		const data = JSON.parse(text) as Export;
		expect(data.securityEvents.map((e) => e.type)).toContain("user.banned");
	});
});

describe("defense: bad input is a 4xx, never a 5xx", () => {
	it("overlong ids, tokens and fields on every lifecycle route", async () => {
		const { token } = await ildLogin((await createUser()).email);
		const huge = "9".repeat(40);
		for (const [path, method] of [
			[`/user/${huge}`, "DELETE"],
			[`/user/${huge}/export`, "GET"],
			["/user/99999999999999999999", "DELETE"],
		] as const) {
			const res = await send(path, { method, headers: bearer(admin.token) });
			expect(res.status, path).toBeGreaterThanOrEqual(400);
			expect(res.status, path).toBeLessThan(500);
		}
		for (const path of ["/sign/email/confirm", "/sign/email/undo", "/sign/account/cancel-deletion"]) {
			for (const body of [
				{ token: "A".repeat(512) },
				{ token: "A".repeat(513) },
				{ token: "\u202e".repeat(43) },
				{ token: 42 },
				{ token: null },
				"[]",
				"{",
			]) {
				const res = await sendJson(path, body);
				expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
			}
		}
		for (const body of [
			{ newEmail: `${"a".repeat(250)}@x.io`, currentPassword: PASSWORD },
			{ newEmail: "A@EXAMPLE.COM ", currentPassword: PASSWORD },
			{ newEmail: uniqueEmail(), currentPassword: "x".repeat(1025) },
			{ newEmail: uniqueEmail(), currentPassword: PASSWORD, role: "Admin" },
		]) {
			const res = await changeEmail(token, body);
			expect(res.status, JSON.stringify(body)).toBe(400);
		}
		for (const body of [{ password: "x".repeat(1025) }, { password: PASSWORD, id: 1 }, {}]) {
			expect((await requestDeletion(token, body)).status).toBe(400);
		}
	});
});

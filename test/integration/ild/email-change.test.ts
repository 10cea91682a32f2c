import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { deletionRequests, emailReservations, oneTimeTokens } from "../../../src/db/schema.ts";
import { issueOneTimeToken } from "../../../src/services/one-time-tokens.ts";
import { db, userRow } from "../../helpers/d1.ts";
import { createUser, ildLogin, PASSWORD, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson } from "../../helpers/http.ts";
import { eventually, mailFor, outbox, tokenFromMail } from "../../helpers/mail.ts";
import { deviceSession, eventsAbout } from "../../helpers/requests.ts";
import { uniqueEmail } from "../../helpers/unique.ts";

/** PUT /user/email, POST /sign/email/confirm, POST /sign/email/undo (contract: "Account lifecycle (v2)"). */

const changeEmail = (token: string, body: unknown) =>
	send("/user/email", {
		method: "PUT",
		headers: { ...bearer(token), "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});

let adminToken: string;
beforeAll(async () => {
	adminToken = (await userWithToken(["Admin"])).token;
});

/** A signed-in user (password sign-in) who asked to move to `newEmail`, and the confirmation token mailed there. */
async function pendingChange(newEmail = uniqueEmail()) {
	const user = await createUser();
	const { token } = await ildLogin(user.email);
	const res = await changeEmail(token, { newEmail, currentPassword: PASSWORD });
	expect(res.status).toBe(202);
	expect(await res.json()).toEqual({ pendingEmail: newEmail });
	const mail = await mailFor(newEmail, /Confirm your new email/);
	return { user, token, newEmail, confirmToken: tokenFromMail(mail.text) };
}

describe("PUT /user/email", () => {
	it("mails a confirmation link to the new address and changes nothing until it is used", async () => {
		const { user, newEmail, confirmToken } = await pendingChange();
		expect(confirmToken).toMatch(/^[\w-]{43}$/);
		expect((await userRow(user.id))?.email).toBe(user.email);
		const mail = await mailFor(newEmail, /Confirm your new email/);
		expect(mail.text).toContain("/confirm-email?token=");
		const [requested] = await eventsAbout(adminToken, user.id, "email.change_requested");
		expect(requested?.detail).toMatchObject({ newEmail });
	});

	it("answers exactly the same when the address is taken, and mails that address a notice instead of a link", async () => {
		const owner = await createUser();
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		const res = await changeEmail(token, { newEmail: owner.email.toUpperCase(), currentPassword: PASSWORD });
		expect(res.status).toBe(202);
		expect(await res.json()).toEqual({ pendingEmail: owner.email });
		const notice = await mailFor(owner.email, /Email change not possible/);
		expect(notice.text).not.toMatch(/token=/);
		expect((await outbox(owner.email)).some((m) => /Confirm your new email/.test(m.subject))).toBe(false);
		expect((await userRow(user.id))?.email).toBe(user.email);
		// Stored like a real request (the export cannot tell the two apart), but mailed to no one.
		const stored = await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.userId, user.id));
		expect(stored.filter((t) => t.purpose === "email-change").map((t) => JSON.parse(t.meta ?? "{}").newEmail)).toEqual([
			owner.email,
		]);
	});

	it("refuses a wrong current password with 400 and sends nothing", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		const newEmail = uniqueEmail();
		const res = await changeEmail(token, { newEmail, currentPassword: "not-the-password" });
		await expectError(res, 400, "Current password is incorrect");
		await new Promise((r) => setTimeout(r, 100));
		expect(await outbox(newEmail)).toEqual([]);
	});

	it("refuses malformed input with 400 naming the field, and the current address as the new one", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		await expectError(await changeEmail(token, { newEmail: "not-an-email", currentPassword: PASSWORD }), 400);
		await expectError(await changeEmail(token, { newEmail: uniqueEmail() }), 400);
		await expectError(
			await changeEmail(token, { newEmail: uniqueEmail(), currentPassword: PASSWORD, email: "x@example.com" }),
			400,
		);
		await expectError(
			await changeEmail(token, { newEmail: user.email, currentPassword: PASSWORD }),
			400,
			"New email is the current email",
		);
	});

	it("needs a live Bearer token (401)", async () => {
		await expectError(await changeEmail("x.y.z", { newEmail: uniqueEmail(), currentPassword: PASSWORD }), 401);
		const res = await send("/user/email", {
			method: "PUT",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ newEmail: uniqueEmail(), currentPassword: PASSWORD }),
		});
		await expectError(res, 401);
	});

	it("spends the mail budget of both addresses, taken or not: the 4th request in an hour is 429 either way", async () => {
		for (const taken of [false, true]) {
			const target = taken ? (await createUser()).email : uniqueEmail();
			const user = await createUser();
			const { token } = await ildLogin(user.email);
			for (let i = 0; i < 3; i++)
				expect((await changeEmail(token, { newEmail: target, currentPassword: PASSWORD })).status).toBe(202);
			const res = await changeEmail(token, { newEmail: target, currentPassword: PASSWORD });
			await expectError(res, 429);
			expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
		}
		// The current address's budget too: three changes to three other addresses use it up.
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		for (let i = 0; i < 3; i++)
			expect((await changeEmail(token, { newEmail: uniqueEmail(), currentPassword: PASSWORD })).status).toBe(202);
		await expectError(await changeEmail(token, { newEmail: uniqueEmail(), currentPassword: PASSWORD }), 429);
		// …which is the same budget as reset mails.
		await expectError(await sendJson("/sign/reset", { email: user.email }), 429);
	});
});

describe("POST /sign/email/confirm", () => {
	it("sets the new address (verified), signs in with it, and mails the old address an undo link", async () => {
		const { user, newEmail, confirmToken } = await pendingChange();
		const res = await sendJson("/sign/email/confirm", { token: confirmToken });
		expect(res.status).toBe(200);
		const body = (await res.json()) as { id: number; email: string; emailVerified: boolean };
		expect(body).toMatchObject({ id: user.id, email: newEmail, emailVerified: true });
		expect((await userRow(user.id))?.email).toBe(newEmail);
		const notice = await mailFor(user.email, /Your email address was changed/);
		expect(notice.text).toContain("/undo-email-change?token=");
		await ildLogin(newEmail);
		await expectError(await sendJson("/sign/login", { email: user.email, password: PASSWORD }), 401);
		const [confirmed] = await eventsAbout(adminToken, user.id, "email.change_confirmed");
		expect(confirmed?.detail).toMatchObject({ previousEmail: user.email, newEmail });
	});

	it("is single use, and refuses unknown tokens, with 400", async () => {
		const { confirmToken } = await pendingChange();
		expect((await sendJson("/sign/email/confirm", { token: confirmToken })).status).toBe(200);
		await expectError(await sendJson("/sign/email/confirm", { token: confirmToken }), 400, "Invalid or expired token");
		await expectError(
			await sendJson("/sign/email/confirm", { token: "A".repeat(43) }),
			400,
			"Invalid or expired token",
		);
		await expectError(await sendJson("/sign/email/confirm", { token: "" }), 400);
		await expectError(await sendJson("/sign/email/confirm", {}), 400);
	});

	it("a newer request replaces the older link", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		const first = uniqueEmail();
		expect((await changeEmail(token, { newEmail: first, currentPassword: PASSWORD })).status).toBe(202);
		const older = tokenFromMail((await mailFor(first, /Confirm/)).text);
		const second = uniqueEmail();
		expect((await changeEmail(token, { newEmail: second, currentPassword: PASSWORD })).status).toBe(202);
		await mailFor(second, /Confirm/);
		await expectError(await sendJson("/sign/email/confirm", { token: older }), 400, "Invalid or expired token");
	});

	it("409 when another account took the address meanwhile; nothing changes and the link still refuses to move it", async () => {
		const { user, newEmail, confirmToken } = await pendingChange();
		await createUser({ email: newEmail });
		await expectError(await sendJson("/sign/email/confirm", { token: confirmToken }), 409);
		expect((await userRow(user.id))?.email).toBe(user.email);
		expect(await eventsAbout(adminToken, user.id, "email.change_confirmed")).toEqual([]);
		expect(await db().select().from(emailReservations).where(eq(emailReservations.userId, user.id))).toEqual([]);
	});

	it("holds the old address for the account: nobody else can register or move to it while the undo link lives", async () => {
		const { user, confirmToken } = await pendingChange();
		expect((await sendJson("/sign/email/confirm", { token: confirmToken })).status).toBe(200);
		const res = await sendJson("/sign/register", {
			email: user.email,
			password: "a-long-passphrase-for-this",
			firstName: "A",
			lastName: "B",
		});
		await expectError(res, 409, "Email is already registered");
		// An email change of another account to it: the same silent notice as any taken address.
		const other = await createUser();
		const { token } = await ildLogin(other.email);
		expect((await changeEmail(token, { newEmail: user.email, currentPassword: PASSWORD })).status).toBe(202);
		await mailFor(user.email, /Email change not possible/);
	});
});

describe("POST /sign/email/undo", () => {
	it("after a confirmed change: restores the old address, clears the password, revokes every session, closes every open token, mails a reset", async () => {
		const { user, newEmail, confirmToken } = await pendingChange();
		expect((await sendJson("/sign/email/confirm", { token: confirmToken })).status).toBe(200);
		const signedIn = await ildLogin(newEmail);
		const other = await deviceSession(user.id);
		const link = await issueOneTimeToken({ db: db(), env }, { purpose: "login", userId: user.id });
		const undoToken = tokenFromMail((await mailFor(user.email, /Your email address was changed/)).text);

		const res = await sendJson("/sign/email/undo", { token: undoToken });
		expect(res.status).toBe(200);
		expect(((await res.json()) as { message: string }).message).toMatch(/undone/i);
		const row = await userRow(user.id);
		expect(row?.email).toBe(user.email);
		expect(row?.emailVerifiedAt).not.toBeNull();
		for (const t of [signedIn.token, other.token])
			await expectError(await send("/user/profile", { headers: bearer(t) }), 401);
		await expectError(await send(`/auth/token-login?token=${link.token}`), 401);
		const open = await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.userId, user.id));
		// Only the reset link mailed after the undo is open.
		await eventually(async () => {
			const rows = await db().select().from(oneTimeTokens).where(eq(oneTimeTokens.userId, user.id));
			return rows.some((t) => t.purpose === "password-reset" && t.closedAt === null);
		});
		expect(open.filter((t) => t.closedAt === null && t.purpose !== "password-reset")).toEqual([]);
		await mailFor(user.email, /Reset your password/);
		// The address the account held is free again, the old one is no longer reserved.
		expect(await db().select().from(emailReservations).where(eq(emailReservations.userId, user.id))).toEqual([]);
		await createUser({ email: newEmail });
		const [undone] = await eventsAbout(adminToken, user.id, "email.change_undone");
		expect(undone?.detail).toMatchObject({ restoredEmail: user.email });
		// Whoever changed the address knew the password: it no longer works; the mailed reset link sets a new one.
		await expectError(await sendJson("/sign/login", { email: user.email, password: PASSWORD }), 401);
		const reset = tokenFromMail((await mailFor(user.email, /Reset your password/)).text);
		expect((await sendJson(`/sign/reset/${reset}`, { password: "a-brand-new-passphrase" })).status).toBe(200);
		await ildLogin(user.email, "a-brand-new-passphrase");
	});

	it("also keeps the account when whoever changed the address then asked to delete it", async () => {
		const { user, newEmail, confirmToken } = await pendingChange();
		expect((await sendJson("/sign/email/confirm", { token: confirmToken })).status).toBe(200);
		const intruder = await ildLogin(newEmail);
		const deletion = await send("/user/account", {
			method: "DELETE",
			headers: { ...bearer(intruder.token), "Content-Type": "application/json" },
			body: JSON.stringify({ password: PASSWORD }),
		});
		expect(deletion.status).toBe(202);
		const undoToken = tokenFromMail((await mailFor(user.email, /Your email address was changed/)).text);
		expect((await sendJson("/sign/email/undo", { token: undoToken })).status).toBe(200);
		expect(await db().select().from(deletionRequests).where(eq(deletionRequests.userId, user.id))).toEqual([]);
		const [cancelled] = await eventsAbout(adminToken, user.id, "account.deletion_cancelled");
		expect(cancelled?.detail).toMatchObject({ by: "email_undo" });
	});

	it("is single use, and refuses unknown tokens, with 400", async () => {
		const { user, confirmToken } = await pendingChange();
		expect((await sendJson("/sign/email/confirm", { token: confirmToken })).status).toBe(200);
		const undoToken = tokenFromMail((await mailFor(user.email, /Your email address was changed/)).text);
		expect((await sendJson("/sign/email/undo", { token: undoToken })).status).toBe(200);
		await expectError(await sendJson("/sign/email/undo", { token: undoToken }), 400, "Invalid or expired token");
		await expectError(await sendJson("/sign/email/undo", { token: "B".repeat(43) }), 400, "Invalid or expired token");
		// A confirmation token is not an undo token.
		const second = await pendingChange();
		await expectError(await sendJson("/sign/email/undo", { token: second.confirmToken }), 400);
	});
});

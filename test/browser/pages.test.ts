/**
 * `npm run test:browser`: the hosted pages clicked through in Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core), against a real `wrangler dev` on a free port with fresh local state. Every flow starts where
 * a user starts, from the link in the mail (GET /dev/outbox), and ends in the signed-in or done state; used and
 * expired links end on their error page. Screenshots of each page at phone and desktop widths go to
 * test/browser/screenshots/ (git-ignored). Without Chromium the suite is skipped and says why.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { DEMO_INTEGRATION_KEY, DEMO_PASSWORD } from "../../src/db/seed.ts";
import { type RunningWorker, startWorker } from "./worker.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
const SHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const PASSWORD = "a long enough passphrase";
const FIREFOX_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0";

let worker: RunningWorker;
let browser: Browser;
let profile: string;
const problems: string[] = [];
let counter = 0;
const newEmail = () => `browser-${Date.now().toString(36)}-${++counter}@example.com`;

/** A fresh browser profile (a new device): no cookies, nothing cached. */
async function device(): Promise<{ context: BrowserContext; page: Page }> {
	const context = await browser.newContext({ viewport: DESKTOP, locale: "en-GB", timezoneId: "UTC" });
	const page = await context.newPage();
	page.setDefaultTimeout(10_000);
	// A script error or a CSP refusal anywhere fails the run.
	page.on("pageerror", (error) => problems.push(`${page.url()}: ${error.message}`));
	page.on("console", (message) => {
		if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${page.url()}: ${message.text()}`);
	});
	return { context, page };
}

/** The page as a phone and as a desktop see it. */
async function snap(page: Page, name: string) {
	await page.screenshot({ path: join(SHOTS, `${name}.desktop.png`), fullPage: true });
	await page.setViewportSize(PHONE);
	await page.screenshot({ path: join(SHOTS, `${name}.phone.png`), fullPage: true });
	await page.setViewportSize(DESKTOP);
}

/** The result box shows `heading`, and the focus moved there (so a screen reader reads it next). */
async function expectResult(page: Page, heading: string | RegExp, message?: string | RegExp) {
	await page.locator("#result h2", { hasText: heading }).waitFor();
	await page.locator("#result:focus").waitFor();
	if (message !== undefined) {
		const text = (await page.locator("#result .api-message").textContent()) ?? "";
		if (typeof message === "string") assert.equal(text, message);
		else assert.match(text, message);
	}
}

/** Calls from the page to `path` (to prove a page POSTs nothing before its button is pressed). */
function countCalls(page: Page, path: string) {
	const calls: string[] = [];
	page.on("request", (request) => {
		if (new URL(request.url()).pathname === path) calls.push(request.method());
	});
	return calls;
}

async function register(email: string) {
	const res = await worker.call("POST", "/sign/register", {
		email,
		password: PASSWORD,
		firstName: "Robin",
		lastName: "Tester",
	});
	assert.equal(res.status, 201, JSON.stringify(res.body));
}

/** Registers and verifies through the API (the page flows under test start later). */
async function verifiedUser() {
	const email = newEmail();
	await register(email);
	const token = new URL(await worker.linkTo(email, "/verify-email")).searchParams.get("token");
	assert.equal((await worker.call("POST", "/sign/verify", { token })).status, 200);
	return email;
}

async function signInOnPage(page: Page, email: string, password = PASSWORD) {
	await page.goto(`${worker.origin}/sign-in`);
	await page.getByLabel("Email", { exact: true }).fill(email);
	await page.getByLabel("Password", { exact: true }).fill(password);
	await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

describe("hosted pages in Chromium", { skip }, () => {
	before(async () => {
		rmSync(SHOTS, { recursive: true, force: true });
		mkdirSync(SHOTS, { recursive: true });
		worker = await startWorker();
		profile = mkdtempSync(join(tmpdir(), "edge-identity-chromium-"));
		browser = await chromium.launch({
			executablePath: CHROMIUM,
			headless: true,
			args: [
				"--headless",
				"--no-sandbox",
				"--disable-gpu",
				"--disable-quic",
				"--no-first-run",
				"--disable-background-networking",
				"--disable-component-update",
				"--disable-sync",
				`--disk-cache-dir=${join(profile, "cache")}`,
			],
		});
	});

	after(async () => {
		await browser?.close();
		await worker?.stop();
		if (profile) rmSync(profile, { recursive: true, force: true });
		assert.deepEqual(problems, [], "script errors or CSP refusals on the pages");
	});

	it("register → sign-in refused → the mailed link verifies → sign in, refresh, devices, sign out", async () => {
		const email = newEmail();
		await register(email);
		// The new user's first sign-in: 403 until the email is verified (the starting point).
		const refused = await worker.call("POST", "/sign/login", { email, password: PASSWORD });
		assert.equal(refused.status, 403);
		assert.equal(refused.body.message, "Email not verified");

		const { context, page } = await device();
		await signInOnPage(page, email);
		await expectResult(page, "Confirm your email first", "Email not verified");
		await snap(page, "sign-in-unverified");

		// The link in the mail is on this Worker (its port, not 8787) and opens a page that waits for a click.
		const link = await worker.linkTo(email, "/verify-email");
		assert.ok(link.startsWith(`${worker.origin}/verify-email?token=`), link);
		const verifyCalls = countCalls(page, "/sign/verify");
		await page.goto(link);
		await page.reload(); // a mail scanner's prefetch, twice: nothing is consumed
		await page.getByRole("button", { name: "Confirm my email address" }).waitFor();
		assert.deepEqual(verifyCalls, []);
		await snap(page, "verify-email");
		// Keyboard only: Tab past the header link to the button, Enter.
		await page.keyboard.press("Tab");
		await page.keyboard.press("Tab");
		await page.locator("button:focus", { hasText: "Confirm my email address" }).waitFor();
		await page.keyboard.press("Enter");
		await expectResult(page, "Email address confirmed");
		assert.deepEqual(verifyCalls, ["POST"]);
		assert.equal(await page.getByRole("button", { name: "Confirm my email address" }).isVisible(), false);
		await snap(page, "verify-email-done");

		// The same link again: used up.
		await page.goto(link);
		await page.getByRole("button", { name: "Confirm my email address" }).click();
		await expectResult(page, "This link can't be used", "Invalid or expired token");
		await snap(page, "verify-email-used");

		// On to sign-in from the done page's link.
		await page.goto(link.replace(/\?.*/, "?token=x"));
		await page.getByRole("button", { name: "Confirm my email address" }).click();
		await expectResult(page, "This link can't be used");
		await page.getByRole("link", { name: "sign in", exact: true }).click();
		await page.waitForURL(`${worker.origin}/sign-in`);
		await page.getByLabel("Email", { exact: true }).fill(email);
		await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
		await page.getByRole("button", { name: "Sign in", exact: true }).click();
		await expectResult(page, "Signed in");
		await page.getByRole("heading", { name: "Signed in as Robin Tester" }).waitFor();
		await page.locator("#sessions li").first().waitFor();
		assert.equal(await page.locator("#sessions li").count(), 1);
		assert.equal(await page.locator("#sessions .badge:not([hidden])").count(), 1);
		await snap(page, "sign-in-signed-in");

		// The refresh cookie keeps the session across a reload; the access token was only in memory.
		await page.reload();
		await page.getByRole("heading", { name: "Signed in as Robin Tester" }).waitFor();
		const cookies = await context.cookies();
		const refresh = cookies.find((c) => c.name === "refresh_token");
		assert.ok(refresh?.httpOnly && refresh.secure, "the refresh cookie is HttpOnly and Secure");
		await page.getByRole("button", { name: "Refresh access token" }).click();
		await expectResult(page, "Access token refreshed");
		assert.notEqual((await context.cookies()).find((c) => c.name === "refresh_token")?.value, refresh?.value);

		// A second device signs in; the first sees it and signs it out.
		const other = await device();
		await signInOnPage(other.page, email);
		await expectResult(other.page, "Signed in");
		await page.getByRole("button", { name: "Reload the list" }).click();
		await page.locator("#sessions li").nth(1).waitFor();
		await snap(page, "sign-in-two-devices");
		await page.getByRole("button", { name: /^Sign out that device/ }).click();
		await expectResult(page, "Device signed out");
		assert.equal(await page.locator("#sessions li").count(), 1);
		// The other device's access token and refresh cookie are dead: its next refresh signs it out.
		await other.page.getByRole("button", { name: "Refresh access token" }).click();
		await expectResult(other.page, "That did not work", "Invalid refresh token");
		await other.page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
		await other.context.close();

		// Sign out: the session ends and the cookie is cleared, so a reload shows the form.
		await page.getByRole("button", { name: "Sign out", exact: true }).click();
		await expectResult(page, "Signed out");
		await page.reload();
		await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
		assert.equal(
			(await context.cookies()).find((c) => c.name === "refresh_token"),
			undefined,
		);
		await snap(page, "sign-in");
		await context.close();
	});

	it("forgot password → mailed link → a refused password keeps the link → a good one → sign in", async () => {
		const email = await verifiedUser();
		const { context, page } = await device();
		await page.goto(`${worker.origin}/sign-in#forgot`);
		await page.getByLabel("Your account's email").fill(email);
		await page.getByRole("button", { name: "Send reset link" }).click();
		await expectResult(page, "Check your mail", /reset link has been sent/);
		await snap(page, "sign-in-forgot");

		const link = await worker.linkTo(email, "/reset-password");
		assert.ok(link.startsWith(`${worker.origin}/reset-password?token=`), link);
		await page.goto(link);
		await snap(page, "reset-password");
		const field = page.getByLabel("New password");
		await field.fill("password123");
		await page.getByRole("button", { name: "Set new password" }).click();
		await expectResult(page, "Choose another password", "Password is too common");
		assert.equal(await field.getAttribute("aria-invalid"), "true");
		await snap(page, "reset-password-rejected");
		await field.fill(email);
		await page.getByRole("button", { name: "Set new password" }).click();
		await expectResult(page, "Choose another password", "Password must not equal the email");
		await field.fill("short");
		await page.getByLabel("Show password").check();
		assert.equal(await field.getAttribute("type"), "text");
		await page.getByRole("button", { name: "Set new password" }).click();
		await expectResult(page, "Choose another password", "Password must be at least 8 characters");
		await field.fill("an entirely new passphrase");
		await page.getByRole("button", { name: "Set new password" }).click();
		await expectResult(page, "Password changed");
		await snap(page, "reset-password-done");

		await page.goto(link);
		await page.getByLabel("New password").fill("yet another passphrase");
		await page.getByRole("button", { name: "Set new password" }).click();
		await expectResult(page, "This link can't be used", "Invalid or expired token");
		await snap(page, "reset-password-used");

		await page.getByRole("link", { name: "sign-in page" }).click();
		await page.getByLabel("Email", { exact: true }).fill(email);
		await page.getByLabel("Password", { exact: true }).fill("an entirely new passphrase");
		await page.getByRole("button", { name: "Sign in", exact: true }).click();
		await expectResult(page, "Signed in");
		await context.close();
	});

	it("\"This wasn't me\": a sign-in from a new device → the notice's link ends that session", async () => {
		const email = await verifiedUser();
		// The account's first sign-in (Chromium) sends no notice; one from Firefox on a Mac does.
		const { context, page } = await device();
		await signInOnPage(page, email);
		await expectResult(page, "Signed in");
		const since = Date.now();
		const intruder = await worker.call(
			"POST",
			"/sign/login",
			{ email, password: PASSWORD },
			{ "User-Agent": FIREFOX_UA },
		);
		assert.equal(intruder.status, 200);
		const link = await worker.linkTo(email, "/not-me", since - 1000);
		await page.goto(link);
		await snap(page, "not-me");
		await page.getByRole("button", { name: "End that session" }).click();
		await expectResult(page, "That session is ended");
		await snap(page, "not-me-done");
		// The intruder's session is over; ours is not.
		const check = await worker.call("GET", "/user/profile", undefined, {
			Authorization: `Bearer ${intruder.body.token}`,
		});
		assert.equal(check.status, 401);
		await worker.linkTo(email, "/reset-password", since - 1000);

		await page.goto(link);
		await page.getByRole("button", { name: "End that session" }).click();
		await expectResult(page, "This link can't be used", "Invalid or expired token");
		await snap(page, "not-me-used");
		await page.goto(`${worker.origin}/sign-in`);
		await page.getByRole("heading", { name: "Signed in as Robin Tester" }).waitFor();
		await context.close();
	});

	it("npm run dev's port: the issuer and a KC7 login_link name it, and the link lands signed in on /sign-in", async () => {
		const email = await verifiedUser();
		const user = await worker.call("POST", "/sign/login", { email, password: PASSWORD });
		const claims = JSON.parse(Buffer.from(String(user.body.token).split(".")[1] ?? "", "base64url").toString());
		assert.equal(claims.iss, worker.origin);
		const partner = await worker.call("POST", "/api/auth", { username: "api", password: DEMO_PASSWORD });
		const userId = (user.body.user as { id: number }).id;
		const minted = await worker.call(
			"POST",
			`/api/users/${userId}/magic-link`,
			{},
			{ Authorization: `Bearer ${partner.body.access_token}`, "X-Integration-Key": DEMO_INTEGRATION_KEY },
		);
		assert.equal(minted.status, 200, JSON.stringify(minted.body));
		const link = String(minted.body.login_link);
		assert.ok(link.startsWith(`${worker.origin}/auth/magic-link?token=`), link);

		const { context, page } = await device();
		await page.goto(link);
		await page.waitForURL(`${worker.origin}/sign-in`);
		await page.getByRole("heading", { name: "Signed in as Robin Tester" }).waitFor();
		assert.equal(await page.locator("h1").textContent(), "Your account");
		await page.locator("#sessions li").first().waitFor();
		assert.match((await page.locator("#sessions li").first().textContent()) ?? "", /with a login link/);
		await snap(page, "sign-in-from-login-link");
		await context.close();
	});

	it("a link that lost its token says so and sends nothing", async () => {
		const { context, page } = await device();
		for (const path of [
			"/verify-email",
			"/reset-password",
			"/not-me",
			"/confirm-email",
			"/undo-email-change",
			"/cancel-deletion",
		]) {
			await page.goto(`${worker.origin}${path}`);
			await page.locator("#result h2", { hasText: "This link is incomplete" }).waitFor();
			assert.equal(await page.locator("form#action").isVisible(), false, path);
		}
		await snap(page, "missing-token");
		await context.close();
	});

	it("email change: the new address confirms on /confirm-email, the old one undoes on /undo-email-change", async () => {
		const email = await verifiedUser();
		const login = await worker.call("POST", "/sign/login", { email, password: PASSWORD });
		const bearer = { Authorization: `Bearer ${login.body.token}` };
		const next = newEmail();
		const change = await worker.call("PUT", "/user/email", { newEmail: next, currentPassword: PASSWORD }, bearer);
		assert.equal(change.status, 202, JSON.stringify(change.body));

		const { context, page } = await device();
		const confirm = await worker.linkTo(next, "/confirm-email");
		await page.goto(confirm);
		await snap(page, "confirm-email");
		await page.getByRole("button", { name: "Use this email address" }).click();
		await expectResult(page, "Email address changed");
		assert.equal(await page.locator("#result strong").textContent(), next);
		await snap(page, "confirm-email-done");
		await page.goto(confirm);
		await page.getByRole("button", { name: "Use this email address" }).click();
		await expectResult(page, "This link can't be used", "Invalid or expired token");
		await snap(page, "confirm-email-used");

		const undo = await worker.linkTo(email, "/undo-email-change");
		await page.goto(undo);
		await snap(page, "undo-email-change");
		await page.getByRole("button", { name: "Restore my previous email" }).click();
		await expectResult(page, "Previous email address restored");
		await snap(page, "undo-email-change-done");
		await page.goto(undo);
		await page.getByRole("button", { name: "Restore my previous email" }).click();
		await expectResult(page, "This link can't be used", "Invalid or expired token");
		// The undo cleared the password (whoever moved the address knew it): the old one is refused, and the reset
		// link mailed with the undo sets a new one.
		await signInOnPage(page, email);
		await expectResult(page, "That did not work", "Invalid email or password");
		await page.goto(await worker.linkTo(email, "/reset-password"));
		await page.getByLabel("New password").fill("a passphrase after the undo");
		await page.getByRole("button", { name: "Set new password" }).click();
		await expectResult(page, "Password changed");
		await signInOnPage(page, email, "a passphrase after the undo");
		await expectResult(page, "Signed in");
		await context.close();
	});

	it("account deletion: the mailed link on /cancel-deletion keeps the account", async () => {
		const email = await verifiedUser();
		const login = await worker.call("POST", "/sign/login", { email, password: PASSWORD });
		const bearer = { Authorization: `Bearer ${login.body.token}` };
		const deletion = await worker.call("DELETE", "/user/account", { password: PASSWORD }, bearer);
		assert.equal(deletion.status, 202, JSON.stringify(deletion.body));

		const { context, page } = await device();
		const link = await worker.linkTo(email, "/cancel-deletion");
		await page.goto(link);
		await snap(page, "cancel-deletion");
		await page.getByRole("button", { name: "Keep my account" }).click();
		await expectResult(page, "Your account is kept");
		await snap(page, "cancel-deletion-done");
		await page.goto(link);
		await page.getByRole("button", { name: "Keep my account" }).click();
		await expectResult(page, "This link can't be used", "Invalid or expired token");
		await snap(page, "cancel-deletion-used");
		await page.getByRole("link", { name: "sign in" }).click();
		await page.getByLabel("Email", { exact: true }).fill(email);
		await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
		await page.getByRole("button", { name: "Sign in", exact: true }).click();
		await expectResult(page, "Signed in");
		await context.close();
	});
});

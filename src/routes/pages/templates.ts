/**
 * The hosted pages' HTML. Plain markup: every word a page shows lives here (the script only moves the
 * `<template>`s into place and fills `data-slot`s with text), nothing loads from elsewhere, and the one script
 * and one stylesheet are served by the Worker itself (see ./assets.ts) under the page's strict CSP.
 *
 * Not part of the Worker: `npm run build:pages` (src/scripts/hosted-pages.ts) writes each page to
 * `assets/pages/<name>.html`, which the Worker serves from its static assets. Edit here, then run it.
 */
import { PAGE_ICON_PATH, PAGE_SCRIPT_PATH, PAGE_STYLE_PATH, type PageName } from "./assets.ts";

const PRODUCT = "Edge Identity";

function layout(page: string, title: string, body: string): string {
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>${title} · ${PRODUCT}</title>
<link rel="icon" href="${PAGE_ICON_PATH}" type="image/svg+xml">
<link rel="stylesheet" href="${PAGE_STYLE_PATH}">
<script src="${PAGE_SCRIPT_PATH}" defer></script>
</head>
<body data-page="${page}">
<header class="bar"><a href="/sign-in">${PRODUCT}</a></header>
<main>
<h1>${title}</h1>
${body}
<noscript><p class="notice">This page needs JavaScript: it calls the API from your browser.</p></noscript>
</main>
</body>
</html>
`;
}

/** Where a page shows what happened; the script fills it and moves the focus there. */
const RESULT = `<div id="result" class="result" tabindex="-1" hidden></div>`;

/** What a token page shows when its link lost the token (a mail client cut the line, a hand-typed address). */
const MISSING = `<template id="missing"><h2>This link is incomplete</h2>
<p>The address has no <code>token</code>. Open the link from your mail again, or copy the whole address into your browser.</p></template>`;

/** A link that was used, expired, or replaced by a newer one: the API's message, then what to do. */
function failed(hint: string): string {
	return `<template id="failed"><h2>This link can't be used</h2>
<p class="api-message" data-slot="message"></p>
<p>${hint}</p></template>`;
}

/** Any other answer (rate limit, network, server): the API's message, and the button stays for another try. */
const TRY_AGAIN = `<template id="error"><h2>That did not work</h2>
<p class="api-message" data-slot="message"></p>
<p>Nothing has changed. You can try again.</p></template>`;

/**
 * A page acting on a mailed one-time token. It asks for a click before it POSTs, so a mail scanner that opens
 * the link in advance does not use the token up.
 */
function tokenPage(page: string, o: { title: string; intro: string; button: string; done: string; hint: string }) {
	return layout(
		page,
		o.title,
		`<p>${o.intro}</p>
<form id="action" class="card" hidden>
<button type="submit">${o.button}</button>
</form>
${RESULT}
<template id="done">${o.done}</template>
${failed(o.hint)}
${TRY_AGAIN}
${MISSING}`,
	);
}

const SIGN_IN_LINK = `<p><a href="/sign-in">Go to sign-in</a></p>`;
const NEW_RESET = `Ask for a new reset link from the <a href="/sign-in#forgot">sign-in page</a> ("Forgot your password?").`;

const PASSWORD_RULES = `<ul id="password-rules" class="rules">
<li>8 to 256 characters (spaces and any language's letters are fine)</li>
<li>not one of the most common passwords</li>
<li>not your email address or username</li>
</ul>`;

const RESET_PASSWORD = layout(
	"reset-password",
	"Choose a new password",
	`<p>Choose the password you will sign in with from now on. Every device signed in to your account will be signed out.</p>
<form id="action" class="card" hidden novalidate>
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="password-rules">
<p class="rules-title">Your password must be:</p>
${PASSWORD_RULES}
<div class="check"><input id="show-password" type="checkbox"><label for="show-password">Show password</label></div>
<button type="submit">Set new password</button>
</form>
${RESULT}
<template id="done"><h2>Password changed</h2>
<p>Sign in with your new password. Every device that was signed in has been signed out.</p>${SIGN_IN_LINK}</template>
<template id="rejected"><h2>Choose another password</h2>
<p class="api-message" data-slot="message"></p>
<p>Your link still works: change the password above and try again.</p></template>
${failed(`Reset links work once, for one hour, and only the newest one works. ${NEW_RESET}`)}
${TRY_AGAIN}
${MISSING}`,
);

const SIGN_IN = layout(
	"sign-in",
	"Sign in",
	`<section id="signed-out" aria-labelledby="sign-in-title" hidden>
<h2 id="sign-in-title" class="visually-hidden">Sign in with your email</h2>
<form id="sign-in-form" class="card" novalidate>
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required>
<label for="sign-in-password">Password</label>
<input id="sign-in-password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<details id="forgot">
<summary>Forgot your password?</summary>
<form id="forgot-form" class="card" novalidate>
<p>We will mail you a link to choose a new one. Resetting your password also confirms your email address.</p>
<label for="forgot-email">Your account's email</label>
<input id="forgot-email" name="email" type="email" autocomplete="email" required>
<button type="submit" class="secondary">Send reset link</button>
</form>
</details>
</section>
<section id="signed-in" aria-labelledby="who" hidden>
<h2 id="who">Signed in as <span data-slot="name"></span></h2>
<p><span data-slot="email"></span></p>
<p>Your access token is kept in this page's memory only and expires at <time data-slot="expires"></time>.
Your browser keeps the refresh cookie (HttpOnly): reload the page and you stay signed in.</p>
<div class="actions">
<button type="button" id="refresh" class="secondary">Refresh access token</button>
<button type="button" id="sign-out">Sign out</button>
</div>
<h2>Your devices</h2>
<p>Every device signed in to your account. Signing one out ends its session at once.</p>
<ul id="sessions" class="sessions" aria-live="off"></ul>
<button type="button" id="reload-sessions" class="secondary">Reload the list</button>
</section>
${RESULT}
<template id="session-item"><li class="session"><div><strong data-slot="device"></strong>
<span data-slot="current" class="badge" hidden>this device</span><br>
<span data-slot="detail" class="muted"></span></div>
<button type="button" class="secondary" data-slot="revoke">Sign out this device</button></li></template>
<template id="signed-out-message"><h2>Signed out</h2><p>You are signed out on this device.</p></template>
<template id="signed-in-message"><h2>Signed in</h2><p>Welcome, <span data-slot="name"></span>.</p></template>
<template id="refreshed"><h2>Access token refreshed</h2><p>A new access token, valid until <time data-slot="expires"></time>; the refresh cookie was rotated.</p></template>
<template id="session-revoked"><h2>Device signed out</h2><p><span data-slot="device"></span> is signed out.</p></template>
<template id="reset-sent"><h2>Check your mail</h2><p class="api-message" data-slot="message"></p></template>
<template id="unverified"><h2>Confirm your email first</h2>
<p class="api-message" data-slot="message"></p>
<p>Open the link in the mail we sent when you registered. If it expired, use "Forgot your password?" below: resetting your password also confirms your email.</p></template>
<template id="error"><h2>That did not work</h2><p class="api-message" data-slot="message"></p></template>`,
);

/** Every page, by path. The paths are fixed: mailed links are `<DASHBOARD_URL's origin><path>?token=…`. */
export const PAGES: ReadonlyMap<PageName, string> = new Map<PageName, string>([
	[
		"verify-email",
		tokenPage("verify-email", {
			title: "Confirm your email address",
			intro: "Confirm that this address is yours to finish setting up your account.",
			button: "Confirm my email address",
			done: `<h2>Email address confirmed</h2><p>Your account is ready: you can sign in now.</p>${SIGN_IN_LINK}`,
			hint: `Confirmation links work once, for 24 hours. Already confirmed? Just <a href="/sign-in">sign in</a>. Otherwise reset your password from the <a href="/sign-in#forgot">sign-in page</a>: that confirms your email too.`,
		}),
	],
	["reset-password", RESET_PASSWORD],
	[
		"not-me",
		tokenPage("not-me", {
			title: "This wasn't me",
			intro:
				"We mailed you about a new sign-in to your account. If it was not you, end that session now: we will also mail you a link to choose a new password.",
			button: "End that session",
			done: `<h2>That session is ended</h2><p>We have mailed you a link to choose a new password. Do it now: whoever signed in knows your current one.</p>`,
			hint: `These links work once, for 24 hours. To be safe, reset your password from the <a href="/sign-in#forgot">sign-in page</a>, then sign in and review your devices.`,
		}),
	],
	[
		"confirm-email",
		tokenPage("confirm-email", {
			title: "Confirm your new email address",
			intro: "Confirm this address to make it the one your account uses from now on.",
			button: "Use this email address",
			done: `<h2>Email address changed</h2><p>Your account now uses <strong data-slot="email"></strong>. Sign in with it from now on.</p>${SIGN_IN_LINK}`,
			hint: `Confirmation links work once, for 24 hours. Sign in and ask for the change again.`,
		}),
	],
	[
		"undo-email-change",
		tokenPage("undo-email-change", {
			title: "Undo the email change",
			intro:
				"Your account's email address was changed. If you did not ask for this, put the previous address back: every device will be signed out and you will set a new password.",
			button: "Restore my previous email",
			done: `<h2>Previous email address restored</h2><p>Every device has been signed out and your old password no longer works: whoever changed the address knew it. A password reset link is on its way to this address; use it to set a new one. No mail? Ask again from the <a href="/sign-in#forgot">sign-in page</a>.</p>`,
			hint: `Undo links work once, for 7 days.`,
		}),
	],
	[
		"cancel-deletion",
		tokenPage("cancel-deletion", {
			title: "Keep my account",
			intro: "Your account is scheduled for deletion. Cancel the deletion to keep it and everything in it.",
			button: "Keep my account",
			done: `<h2>Your account is kept</h2><p>The deletion is cancelled. You can sign in again.</p>${SIGN_IN_LINK}`,
			hint: `The link works once, until the deletion date. Signing in with your password before then also keeps the account: <a href="/sign-in">sign in</a>.`,
		}),
	],
	["sign-in", SIGN_IN],
]);

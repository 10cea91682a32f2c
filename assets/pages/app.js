// biome-ignore lint/suspicious/noRedundantUseStrict: a classic script (the pages load it without type=module), so strict mode is not implied
"use strict";
(() => {
	const $ = (id) => document.getElementById(id);
	const page = document.body.dataset.page;
	const result = $("result");
	const INVALID_TOKEN = "Invalid or expired token";

	/** Shows a <template> in the result box, fills its data-slots with text, and moves the focus there. */
	function show(templateId, slots, tone, focus = true) {
		const node = $(templateId).content.cloneNode(true);
		for (const [name, value] of Object.entries(slots || {})) {
			for (const el of node.querySelectorAll(`[data-slot="${name}"]`)) el.textContent = value;
		}
		result.replaceChildren(node);
		result.className = `result${tone ? ` ${tone}` : ""}`;
		result.hidden = false;
		if (focus) result.focus();
	}

	function seconds(text) {
		const n = Number(text);
		if (!Number.isFinite(n)) return "a moment";
		if (n < 90) return `${n} seconds`;
		return `${Math.ceil(n / 60)} minutes`;
	}

	/** One call to the public API. Never throws: {ok, status, data, message, issues}. */
	async function api(method, path, options = {}) {
		const headers = {};
		if (options.body !== undefined) headers["Content-Type"] = "application/json";
		if (options.token) headers.Authorization = `Bearer ${options.token}`;
		let res;
		try {
			res = await fetch(path, {
				method,
				headers,
				credentials: "same-origin",
				cache: "no-store",
				body: options.body === undefined ? undefined : JSON.stringify(options.body),
			});
		} catch {
			return { ok: false, status: 0, message: "The server could not be reached. Check your connection." };
		}
		let data = null;
		try {
			const text = await res.text();
			data = text ? JSON.parse(text) : null;
		} catch {
			data = null;
		}
		if (res.ok) return { ok: true, status: res.status, data };
		let message = data && typeof data.message === "string" ? data.message : `The server answered ${res.status}.`;
		const retry = res.headers.get("Retry-After");
		if (res.status === 429 && retry) message += ` Try again in ${seconds(retry)}.`;
		const issues = data && Array.isArray(data.issues) ? data.issues : [];
		return { ok: false, status: res.status, data, message, issues };
	}

	async function busy(button, work) {
		button.disabled = true;
		button.setAttribute("aria-busy", "true");
		try {
			return await work();
		} finally {
			button.disabled = false;
			button.removeAttribute("aria-busy");
		}
	}

	// ------------------------------------------------------------------------------------------------
	// Pages that act on a mailed one-time token: nothing is sent until the button is pressed.

	const TOKEN_ENDPOINTS = {
		"verify-email": "/sign/verify",
		"not-me": "/sign/not-me",
		"confirm-email": "/sign/email/confirm",
		"undo-email-change": "/sign/email/undo",
		"cancel-deletion": "/sign/account/cancel-deletion",
	};

	function tokenPage() {
		const token = new URLSearchParams(location.search).get("token");
		const form = $("action");
		if (!token) return show("missing", {}, "bad", false);
		form.hidden = false;
		const button = form.querySelector("button[type=submit]");
		const password = $("password");
		if (password) {
			$("show-password").addEventListener("change", (event) => {
				password.type = event.target.checked ? "text" : "password";
			});
		}
		form.addEventListener("submit", async (event) => {
			event.preventDefault();
			if (button.disabled) return;
			const reply = await busy(button, () =>
				password
					? api("POST", `/sign/reset/${encodeURIComponent(token)}`, { body: { password: password.value } })
					: api("POST", TOKEN_ENDPOINTS[page], { body: { token } }),
			);
			if (reply.ok) {
				form.hidden = true;
				const user = reply.data && typeof reply.data === "object" ? reply.data : {};
				return show("done", { email: typeof user.email === "string" ? user.email : "" }, "ok");
			}
			// A rejected password leaves the token unused: say why, and keep the form.
			if (password && reply.status === 400 && reply.issues.some((issue) => issue.path === "password")) {
				password.setAttribute("aria-invalid", "true");
				password.setAttribute("aria-describedby", "result password-rules");
				return show("rejected", { message: reply.message }, "bad");
			}
			// The link itself is no good (used, expired, replaced, mangled) or its change can no longer happen.
			if (reply.status === 400 || reply.status === 404 || reply.status === 409 || reply.message === INVALID_TOKEN) {
				form.hidden = true;
				return show("failed", { message: reply.message }, "bad");
			}
			show("error", { message: reply.message }, "bad");
		});
	}

	// ------------------------------------------------------------------------------------------------
	// Sign-in: the cookie flow. The refresh cookie (HttpOnly) is the browser's; the access token lives here only.

	function signInPage() {
		let access = null; // { token, expiresAt }
		let user = null;
		const signedOut = $("signed-out");
		const signedIn = $("signed-in");
		const nameOf = (u) => [u.firstName, u.lastName].filter(Boolean).join(" ") || u.email;
		const time = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
		const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

		function fill(scope, slots) {
			for (const [name, value] of Object.entries(slots)) {
				for (const el of scope.querySelectorAll(`[data-slot="${name}"]`)) el.textContent = value;
			}
		}

		function keep(token, expiresIn) {
			access = { token, expiresAt: Date.now() + expiresIn * 1000 };
			const expires = signedIn.querySelector("time[data-slot=expires]");
			expires.textContent = time(access.expiresAt);
			expires.dateTime = new Date(access.expiresAt).toISOString();
		}

		const heading = document.querySelector("h1");
		function titled(text) {
			heading.textContent = text;
			document.title = `${text} · Edge Identity`;
		}

		function toSignedOut() {
			access = null;
			user = null;
			titled("Sign in");
			signedIn.hidden = true;
			signedOut.hidden = false;
			$("sessions").replaceChildren();
		}

		/** GET /sign/refresh: the cookie is sent by the browser; the answer is a new access token. */
		async function refresh() {
			const reply = await api("GET", "/sign/refresh");
			if (reply.ok) keep(reply.data.token, reply.data.expiresIn);
			return reply;
		}

		/** A Bearer call; an access token that expired meanwhile is refreshed once and the call retried. */
		async function authed(method, path) {
			if (!access) return { ok: false, status: 401, message: "You are signed out.", issues: [] };
			let reply = await api(method, path, { token: access.token });
			if (reply.status === 401 && (await refresh()).ok) reply = await api(method, path, { token: access.token });
			return reply;
		}

		async function enter(token, expiresIn, signedInUser) {
			keep(token, expiresIn);
			user = signedInUser;
			if (!user) {
				const profile = await authed("GET", "/user/profile");
				if (!profile.ok) return toSignedOut();
				user = profile.data;
			}
			fill(signedIn, { name: nameOf(user), email: user.email });
			titled("Your account");
			signedOut.hidden = true;
			signedIn.hidden = false;
			await loadSessions(false);
		}

		function describe(s) {
			const device = `${s.browser || "Unknown browser"} on ${s.os || "an unknown system"}`;
			const place = [s.city, s.country].filter(Boolean).join(", ");
			const how =
				{ password: "with a password", link: "with a login link", reset: "after a password reset" }[s.method] || "";
			const detail = [
				s.deviceType,
				`signed in ${when(s.createdAt)}${how ? ` ${how}` : ""}`,
				`last used ${when(s.lastUsedAt)}`,
				place,
			]
				.filter(Boolean)
				.join(" · ");
			return { device, detail };
		}

		async function loadSessions(announce) {
			const reply = await authed("GET", "/user/sessions");
			if (!reply.ok) {
				if (reply.status === 401) toSignedOut();
				return show("error", { message: reply.message }, "bad", announce);
			}
			const list = $("sessions");
			list.replaceChildren();
			for (const s of reply.data) {
				const { device, detail } = describe(s);
				const item = $("session-item").content.cloneNode(true);
				fill(item, { device, detail });
				const badge = item.querySelector('[data-slot="current"]');
				badge.hidden = !s.current;
				const button = item.querySelector('[data-slot="revoke"]');
				button.textContent = s.current ? "Sign out this device" : "Sign out that device";
				button.setAttribute("aria-label", `${button.textContent}: ${device}, ${detail}`);
				button.addEventListener("click", () => revoke(s, device, button));
				list.append(item);
			}
			if (announce) result.hidden = true;
		}

		async function revoke(s, device, button) {
			const reply = await busy(button, () => authed("DELETE", `/user/sessions/${encodeURIComponent(s.id)}`));
			if (!reply.ok) return show("error", { message: reply.message }, "bad");
			if (s.current) toSignedOut();
			else await loadSessions(false);
			show("session-revoked", { device: s.current ? "This device" : device }, "ok");
		}

		$("sign-in-form").addEventListener("submit", async (event) => {
			event.preventDefault();
			const button = event.target.querySelector("button[type=submit]");
			const password = $("sign-in-password");
			const reply = await busy(button, () =>
				api("POST", "/sign/login", { body: { email: $("email").value.trim(), password: password.value } }),
			);
			if (!reply.ok) {
				if (reply.status === 403 && reply.message === "Email not verified")
					return show("unverified", { message: reply.message }, "bad");
				return show("error", { message: reply.message }, "bad");
			}
			password.value = "";
			await enter(reply.data.token, reply.data.expiresIn, reply.data.user);
			show("signed-in-message", { name: nameOf(reply.data.user) }, "ok");
		});

		$("forgot-form").addEventListener("submit", async (event) => {
			event.preventDefault();
			const button = event.target.querySelector("button[type=submit]");
			const reply = await busy(button, () =>
				api("POST", "/sign/reset", { body: { email: $("forgot-email").value.trim() } }),
			);
			if (!reply.ok) return show("error", { message: reply.message }, "bad");
			show("reset-sent", { message: reply.data.message }, "ok");
		});

		$("refresh").addEventListener("click", async (event) => {
			const reply = await busy(event.currentTarget, refresh);
			if (!reply.ok) {
				toSignedOut();
				return show("error", { message: reply.message }, "bad");
			}
			show("refreshed", { expires: time(access.expiresAt) }, "ok");
		});

		$("sign-out").addEventListener("click", async (event) => {
			const token = access?.token;
			const reply = await busy(event.currentTarget, () => api("GET", "/sign/logout", { token }));
			toSignedOut();
			if (!reply.ok) return show("error", { message: reply.message }, "bad");
			show("signed-out-message", {}, "ok");
		});

		$("reload-sessions").addEventListener("click", (event) => busy(event.currentTarget, () => loadSessions(true)));

		if (location.hash === "#forgot") $("forgot").open = true;
		// Already signed in on this browser (a refresh cookie, e.g. from a login link)? Pick the session up.
		refresh().then(async (reply) => {
			if (reply.ok) await enter(reply.data.token, reply.data.expiresIn, null);
			else toSignedOut();
		});
	}

	if (page === "sign-in") signInPage();
	else tokenPage();
})();

import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HOSTED_PAGE_PATHS } from "../../src/routes/pages/index.ts";
import { expectError, jsonPost, PRODUCTION_VARS, send, sendWith } from "../helpers/http.ts";
import { mailFor } from "../helpers/mail.ts";
import { uniqueEmail } from "../helpers/unique.ts";

/**
 * The hosted pages (HOSTED_PAGES): plain HTML for every mailed link, outside the OpenAPI document, under a strict
 * CSP. What they do in a browser is clicked through by `npm run test:browser` (test/browser/).
 */
const ASSETS = ["/pages/app.js", "/pages/app.css", "/pages/icon.svg"];
const PAGE_PATHS = [
	"/verify-email",
	"/reset-password",
	"/not-me",
	"/confirm-email",
	"/undo-email-change",
	"/cancel-deletion",
	"/sign-in",
];

describe("hosted pages", () => {
	afterEach(() => vi.restoreAllMocks());

	it("serves a page for every path the API mails, plus /sign-in", () => {
		expect([...HOSTED_PAGE_PATHS].sort()).toEqual([...PAGE_PATHS].sort());
	});

	for (const path of PAGE_PATHS) {
		it(`${path}: accessible HTML under a CSP that allows nothing inline or foreign`, async () => {
			const res = await send(`${path}?token=abc`);
			expect(res.status).toBe(200);
			expect(res.headers.get("Content-Type")).toBe("text/html; charset=UTF-8");
			expect(res.headers.get("Cache-Control")).toBe("no-store");
			expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
			expect(res.headers.get("X-Frame-Options")).toBe("DENY");
			const csp = res.headers.get("Content-Security-Policy") ?? "";
			for (const directive of [
				"default-src 'none'",
				"script-src 'self'",
				"style-src 'self'",
				"connect-src 'self'",
				"form-action 'self'",
				"frame-ancestors 'none'",
				"base-uri 'none'",
			])
				expect(csp).toContain(directive);
			expect(csp).not.toMatch(/unsafe|https?:|\*/);
			const html = await res.text();
			expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
			expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
			expect(html).toContain('<script src="/pages/app.js" defer></script>');
			// No inline script, style or handler: the CSP would refuse them.
			expect(html.match(/<script/g)).toHaveLength(1);
			expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=|="javascript:/i);
			// Every form control has its label.
			for (const [, id] of html.matchAll(/<input id="([^"]+)"/g)) expect(html, id).toContain(`<label for="${id}">`);
			expect(html).toContain('id="result" class="result" tabindex="-1"');
		});
	}

	it("serves its script and stylesheet from this origin, revalidated on every use", async () => {
		const script = await send("/pages/app.js");
		expect(script.status).toBe(200);
		expect(script.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
		expect(script.headers.get("X-Content-Type-Options")).toBe("nosniff");
		expect(script.headers.get("Cache-Control")).toBe("no-cache");
		const text = await script.text();
		// The script calls the public API, nothing else.
		for (const [, target] of text.matchAll(/api\("[A-Z]+", "([^"]+)"/g)) expect(target).toMatch(/^\/(sign|user)\//);
		expect(text).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write|eval\(/);
		const style = await send("/pages/app.css");
		expect(style.headers.get("Content-Type")).toBe("text/css; charset=utf-8");
	});

	it("HEAD answers like GET without a body; other methods are 405", async () => {
		const head = await send("/verify-email", { method: "HEAD" });
		expect(head.status).toBe(200);
		expect(await head.text()).toBe("");
		const post = await send("/verify-email", { method: "POST" });
		await expectError(post, 405);
		expect(post.headers.get("Allow")).toBe("GET, HEAD");
	});

	it("are reachable only at their paths: their files in the static assets are not served as such", async () => {
		for (const path of ["/pages/verify-email.html", "/pages/sign-in.html", "/docs.html", "/pages/"])
			await expectError(await send(path), 404);
	});

	it("stays out of the OpenAPI document", async () => {
		const doc = (await (await send("/openapi.json")).json()) as { paths: Record<string, unknown> };
		for (const path of [...PAGE_PATHS, ...ASSETS]) expect(doc.paths).not.toHaveProperty(path);
	});

	it("are off in production unless HOSTED_PAGES=true: their paths are 404", async () => {
		const deployed = { ...(JSON.parse(env.TEST_DEPLOYED_VARS) as Record<string, string>), MAIL_API_KEY: "test" };
		for (const vars of [deployed, { ...PRODUCTION_VARS, HOSTED_PAGES: "" }, { HOSTED_PAGES: "false" }]) {
			for (const path of [...PAGE_PATHS, ...ASSETS]) await expectError(await sendWith(vars, path), 404);
		}
		const on = await sendWith({ ...PRODUCTION_VARS, HOSTED_PAGES: "true" }, "/reset-password?token=x");
		expect(on.status).toBe(200);
		expect(await on.text()).toContain("Choose a new password");
	});

	it('refuses to serve with a HOSTED_PAGES that is not "true" or "false"', async () => {
		const logged: string[] = [];
		vi.spyOn(console, "error").mockImplementation((...args) => logged.push(args.map(String).join(" ")));
		await expectError(await sendWith({ HOSTED_PAGES: "yes" }, "/sign-in"), 500);
		expect(logged.join("\n")).toContain('"variable":"HOSTED_PAGES"');
	});

	it("with development's defaults, the verification mail links to the Worker's own page", async () => {
		const email = uniqueEmail();
		const dev = { DASHBOARD_URL: "http://localhost:8787/sign-in" };
		const body = { email, password: "a long enough passphrase", firstName: "Pat", lastName: "Page" };
		expect((await sendWith(dev, "/sign/register", jsonPost(body))).status).toBe(201);
		const mail = await mailFor(email, /./);
		const link = mail.text.match(/http:\/\/localhost:8787\/verify-email\?token=[\w-]{43}/)?.[0];
		expect(link, mail.text).toBeTruthy();
		const page = await sendWith(dev, new URL(link as string).pathname);
		expect(page.status).toBe(200);
		expect(await page.text()).toContain("Confirm your email address");
	});
});

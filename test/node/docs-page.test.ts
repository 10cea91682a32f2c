import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createApp, openApiDocument } from "../../src/app.ts";

// Runs in Node (the page's script is evaluated here, which workerd forbids): the script GET /api/docs serves,
// run against the document GET /openapi.json serves, with a stand-in for the few browser APIs it touches.
const DOCS_HTML = readFileSync(fileURLToPath(new URL("../../assets/docs.html", import.meta.url).href), "utf8");

async function renderPage(isDevelopment = true) {
	const document = openApiDocument(createApp(), { publicBaseUrl: "http://localhost:8787", isDevelopment });
	const script = DOCS_HTML.match(/<script>([\s\S]*)<\/script>/)?.[1];
	expect(script).toBeTruthy();
	const elements: Record<string, { textContent: string; innerHTML: string }> = {};
	const dom = {
		getElementById: (id: string) => {
			elements[id] ??= { textContent: "", innerHTML: "" };
			return elements[id];
		},
	};
	const fetched: string[] = [];
	const fetchStub = async (url: string) => {
		fetched.push(url);
		return { json: async () => JSON.parse(JSON.stringify(document)) };
	};
	new Function("document", "fetch", "location", "addEventListener", script as string)(
		dom,
		fetchStub,
		{ hash: "" },
		() => {},
	);
	await new Promise((resolve) => setTimeout(resolve, 0));
	expect(fetched).toEqual(["/openapi.json"]);
	expect(elements.root?.textContent ?? "").not.toMatch(/Could not load/);
	return { html: elements.root?.innerHTML ?? "", title: elements.title?.textContent, document };
}

/** One operation's section of the page (up to the next operation or the schemas). */
function section(html: string, operationId: string) {
	const start = html.indexOf(`id="op-${operationId}"`);
	expect(start, operationId).toBeGreaterThan(0);
	const rest = html.slice(start + 1);
	const end = rest.search(/class=op |id="schemas"/);
	return end < 0 ? rest : rest.slice(0, end);
}

const field = (name: string, depth = 0, required = true) =>
	`<td class=d${depth}><code>${name}</code>${required ? '<span class="req">required</span>' : ""}</td>`;

describe("GET /api/docs rendering /openapi.json", () => {
	it("lists every operation of the document", async () => {
		const { html, title, document } = await renderPage();
		expect(title).toBe(document.info.title);
		for (const item of Object.values(document.paths ?? {}))
			for (const op of Object.values(item as Record<string, { operationId: string }>))
				expect(html).toContain(`id="op-${op.operationId}"`);
		// Tag sections carry the descriptions declared at the document's root.
		expect(html).toContain('<h2 id="tag-ILD-user">ILD: user</h2><p>');
	});

	it("shows the ILD user object's fields for GET /user/profile's 200, nested ones indented", async () => {
		const op = section((await renderPage()).html, "ildGetOwnProfile");
		expect(op).toContain('<a href="#schema-User">User</a>');
		for (const name of ["id", "email", "username", "firstName", "lastName", "roles", "emailVerified", "profileImage"])
			expect(op).toContain(field(name));
		// Nullable, arrays and component references.
		expect(op).toMatch(/<code>profileImage<\/code>.*?<td>string<span class="nl">nullable<\/span><\/td>/);
		expect(op).toMatch(/<code>roles<\/code>.*?<td>array of <a href="#schema-Role">Role<\/a>/);
		expect(op).toContain("Key for GET /user/profile/stream/{key}, or null");
		// The nested subscription object: its own fields one level down, the status enum spelled out.
		expect(op).toContain(field("subscription"));
		expect(op).toContain(field("status", 1));
		expect(op).toContain("one of <code>none</code>, <code>active</code>, <code>expired</code>");
		expect(op).toMatch(/<code>validUntil<\/code>.*?string \(date-time\)<span class="nl">nullable<\/span>/);
		// Every documented response, the error envelope's fields included.
		expect(op).toContain('<span class="st st4">401</span>');
		expect(op).toContain(field("message"));
		expect(op).toContain(field("issues", 0, false));
	});

	it("shows the login request body's fields and the user nested in its response", async () => {
		const op = section((await renderPage()).html, "ildLogin");
		expect(op).toContain('<h4>Request body<span class="req">required</span></h4>');
		expect(op).toContain("<b>Content type</b> <code>application/json</code>");
		expect(op).toContain(field("email"));
		expect(op).toContain(field("password"));
		expect(op).toMatch(/<code>email<\/code>.*?string \(email\).*?max length <code>254<\/code>/);
		expect(op).toContain("example <code>user@example.com</code>");
		// IldLogin is allOf [IldToken, {user}]: the token fields, and the user's fields one level down.
		expect(op).toContain(field("token"));
		expect(op).toContain(field("expiresIn"));
		expect(op).toContain(field("user"));
		expect(op).toContain(field("firstName", 1));
		expect(op).toContain(field("status", 2));
	});

	it("shows parameters with their type, whether required, and their constraints", async () => {
		const { html } = await renderPage();
		const list = section(html, "ildListUsers");
		expect(list).toMatch(/<code>limit<\/code><\/td><td>query<\/td><td>string<\/td><td>no<\/td><td>pattern/);
		const profile = section(html, "ildUpdateProfile");
		expect(profile).toContain("<b>Content type</b> <code>multipart/form-data</code>");
		expect(profile).toMatch(/<code>profileImage<\/code>.*?string \(binary\)/);
		const progress = section(html, "kc7GetUserModule");
		expect(progress).toMatch(/<code>user_id<\/code><\/td><td>path<\/td><td>string<\/td><td>yes<\/td>/);
	});

	it("lists the component schemas once, and escapes the document's text", async () => {
		const { html } = await renderPage(false);
		expect(html).toContain('<details class=schema id="schema-User">');
		expect(html).not.toContain('id="schema-OutboxMail"');
		expect(html).not.toMatch(/<script|javascript:/i);
	});
});

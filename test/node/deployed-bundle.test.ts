import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Miniflare, type V4WorkerOptions } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { z } from "zod";
import { buildUpload } from "../../src/scripts/bench/build.ts";
import { applyMigrations, type D1Like } from "../../src/scripts/bench/server.ts";
import { generateSigningJwk } from "../../src/scripts/dev-vars.ts";

// Runs in Node: the workers suites run the source through Vite, never the upload. This builds the upload exactly as
// `wrangler deploy` would (top-level minify, keep_names = false, the [alias] of zod's locales) and runs that file on
// workerd, so a build setting that breaks the Worker — a name the minifier dropped, an alias missing an export —
// fails here instead of in production.
const root = fileURLToPath(new URL("../..", import.meta.url).href);
const work = mkdtempSync(join(tmpdir(), "deployed-bundle-"));
const outdir = join(work, "upload");
let mf: Miniflare;
let url: string;
let db: D1Like;
let metafile: string;

beforeAll(async () => {
	const built = buildUpload(root, outdir);
	if (!built.ok) throw new Error(`wrangler deploy --dry-run failed:\n${built.output}`);
	metafile = built.metafile;
	// Development's bindings and vars (the outbox, loopback origins) around the production upload.
	const {
		compatibilityDate,
		compatibilityFlags,
		bindings,
		d1Databases,
		kvNamespaces,
		r2Buckets,
		durableObjects,
		assets,
	} = unstable_getMiniflareWorkerOptions(join(root, "wrangler.toml"), "development").workerOptions as V4WorkerOptions;
	const signing = await generateSigningJwk("bundle-test");
	mf = new Miniflare(
		convertV4MiniflareOptions({
			resourcePersistencePath: join(work, "state"),
			workers: [
				{
					name: "upload",
					compatibilityDate,
					compatibilityFlags,
					d1Databases,
					kvNamespaces,
					r2Buckets,
					durableObjects,
					// The static assets wrangler uploads beside the bundle (wrangler.toml [assets]).
					assets,
					modules: true,
					modulesRoot: outdir,
					scriptPath: join(outdir, "index.js"),
					bindings: {
						...bindings,
						JWT_PRIVATE_KEYS: JSON.stringify([signing]),
						PASSWORD_PEPPERS: "b1:bundle-test-pepper",
					},
				},
			],
		}),
	);
	url = (await mf.ready).origin;
	db = (await mf.getD1Database("DB")) as unknown as D1Like;
	await applyMigrations(db, join(root, "migrations"));
}, 120_000);

afterAll(async () => {
	await mf?.dispose();
	rmSync(work, { recursive: true, force: true });
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
	fetch(`${url}${path}`, {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body: JSON.stringify(body),
	});

describe("the upload (`wrangler deploy --dry-run`) on workerd", () => {
	it("leaves zod's translations, z.compile and z.fromJSONSchema out", () => {
		const meta = JSON.parse(readFileSync(metafile, "utf8")) as {
			outputs: Record<string, { inputs: Record<string, unknown> }>;
		};
		const inputs = Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs));
		const locales = inputs.filter((i) => i.includes("zod/v4/locales/"));
		expect(locales.map((i) => i.replace(/^.*zod\/v4\/locales\//, ""))).toEqual(["en.js"]);
		expect(inputs).toContain("src/lib/zod-locales.ts");
		// z.compile and z.fromJSONSchema: the stubs instead of zod's files.
		expect(inputs.filter((i) => /zod\/v4\/(core\/compile|classic\/from-json-schema)\.js$/.test(i))).toEqual([]);
		expect(inputs).toEqual(expect.arrayContaining(["src/lib/zod-compile.ts", "src/lib/zod-from-json-schema.ts"]));
	});

	it("answers the greeting and its OpenAPI document", async () => {
		const hello = await fetch(`${url}/api`);
		expect(hello.status).toBe(200);
		expect(hello.headers.get("content-type")).toBe("application/json; charset=utf-8");
		expect(hello.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
		const doc = await fetch(`${url}/openapi.json`);
		expect(doc.status).toBe(200);
		const document = (await doc.json()) as { openapi: string; paths: Record<string, unknown> };
		expect(document.openapi).toBe("3.1.0");
		expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(["/sign/login", "/api/auth", "/user/profile"]));
	});

	it("words a validation error as zod's English locale does", async () => {
		const res = await post("/api/auth", { username: 5, password: "x" });
		expect(res.status).toBe(400);
		const english = z.string().safeParse(5).error?.issues[0]?.message;
		expect(english).toBe("Invalid input: expected string, received number");
		expect(await res.json()).toMatchObject({ error: "Bad Request", message: `Username: ${english}` });
	});

	it("serves its static assets only through the Worker (run_worker_first), as wrangler.toml routes them", async () => {
		// The docs page: the Worker reads the file and answers with the API's headers.
		const docs = await fetch(`${url}/api/docs`);
		expect(docs.status).toBe(200);
		expect(docs.headers.get("content-security-policy")).toContain("connect-src 'self'");
		expect(await docs.text()).toMatch(/^<!doctype html>/);
		// The files themselves, by name: the Worker's 404 envelope, never the file (the password list included).
		for (const path of ["/docs.html", "/common-passwords.txt", "/pages/sign-in.html", "/pages/"]) {
			const res = await fetch(`${url}${path}`);
			expect(res.status, path).toBe(404);
			expect(await res.json(), path).toMatchObject({ error: "Not Found" });
		}
		// A new password is checked against the list read from the assets.
		const common = await post("/sign/register", {
			email: "common@example.com",
			password: "password123",
			firstName: "Common",
			lastName: "Password",
		});
		expect(common.status).toBe(400);
		expect(await common.json()).toMatchObject({ message: "Password is too common" });
	});

	it("registers, signs in on both surfaces, reads the profile and refreshes", async () => {
		const email = "bundle@example.com";
		const password = "Bundle-test-password-1";
		const registered = await post("/sign/register", { email, password, firstName: "Bundle", lastName: "Test" });
		expect(registered.status).toBe(201);
		await db.prepare("UPDATE users SET email_verified_at = ? WHERE email = ?").bind(Date.now(), email).run();
		const user = await db.prepare("SELECT id FROM users WHERE email = ?").bind(email).first<{ id: number }>();

		const ild = await post("/sign/login", { email, password });
		expect(ild.status).toBe(200);
		const { token } = (await ild.json()) as { token: string };
		const cookie = ild.headers.get("set-cookie")?.match(/refresh_token=[^;]+/)?.[0];
		expect(cookie).toBeDefined();

		const profile = await fetch(`${url}/user/profile`, { headers: { authorization: `Bearer ${token}` } });
		expect(profile.status).toBe(200);
		expect(await profile.json()).toMatchObject({ email, firstName: "Bundle" });

		const kc7 = await post("/api/auth", { username: email, password });
		expect(kc7.status).toBe(200);
		const me = await fetch(`${url}/api/users/me`, {
			headers: { authorization: `Bearer ${((await kc7.json()) as { access_token: string }).access_token}` },
		});
		expect(me.status).toBe(200);
		expect(await me.json()).toMatchObject({ user_id: user?.id });

		const refreshed = await fetch(`${url}/sign/refresh`, { headers: { cookie: cookie as string } });
		expect(refreshed.status).toBe(200);
		expect(refreshed.headers.get("set-cookie")).toMatch(/refresh_token=/);
	});
});

import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS } from "../../src/config.ts";
import { users } from "../../src/db/schema.ts";
import { sha256 } from "../../src/lib/encoding.ts";
import { createCommunity } from "../../src/services/communities.ts";
import { createIntegrationKey } from "../../src/services/integration-keys.ts";
import { storeImage } from "../../src/services/profile-images.ts";
import { IMAGES } from "../fixtures/images.ts";
import { db, serviceDeps } from "../helpers/d1.ts";
import { createModule, createUser, kc7Login } from "../helpers/factories.ts";
import { bearer, sendWith } from "../helpers/http.ts";
import {
	fillPath,
	loadOperations,
	needsBearer,
	needsIntegrationKey,
	type Operation,
	type Schema,
	typeOf,
	validObject,
	validValue,
} from "../helpers/openapi-walk.ts";

/**
 * Bad requests generated from the app's own OpenAPI document, for every operation: every answer
 * must be a 4xx in the contract's envelope — never a 5xx, a stack or a library's words — and no
 * stored state may change.
 */

// Limits raised so validation, not a 429, is what answers.
const ROOMY = {
	RATE_LIMITS: JSON.stringify(
		Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((n) => [n, { limit: 1_000_000, windowSeconds: 60 }])),
	),
};

interface Case {
	label: string;
	path: string;
	init: RequestInit;
}

interface Context {
	headers: Record<string, string>;
	pathValues: Record<string, string>;
}

const LEAKS = /\bat .+:\d+:\d+|stack|SQLITE|D1_|drizzle|ZodError|TypeError|ReferenceError|undefined is not|hono/i;
const RTL = "\u202eevil\u200f";
const NUL = "a\u0000b";
const EMOJI = "😀🔥";

/** A raw JSON text for a body: values that JSON.stringify cannot express (NaN, 1e309) go in as text. */
function rawJson(body: Record<string, unknown>, field: string, raw: string) {
	const marker = "__RAW__";
	return JSON.stringify({ ...body, [field]: marker }).replace(`"${marker}"`, raw);
}

function allowsNull(schema: Schema): boolean {
	if (Array.isArray(schema.type)) return schema.type.includes("null");
	return (schema.anyOf ?? []).some((s) => s.type === "null") || (schema as { nullable?: boolean }).nullable === true;
}

function jsonCases(op: Operation, ctx: Context, schema: Schema): Case[] {
	const path = fillPath(op.path, ctx.pathValues);
	const valid = validObject(schema);
	const json = (body: string, contentType: string | null = "application/json"): RequestInit => ({
		method: op.method,
		headers: { ...ctx.headers, ...(contentType ? { "Content-Type": contentType } : {}) },
		body,
	});
	const cases: Case[] = [];
	const add = (label: string, init: RequestInit) => cases.push({ label, path, init });

	for (const name of schema.required ?? []) {
		const { [name]: _, ...rest } = valid;
		add(`missing ${name}`, json(JSON.stringify(rest)));
	}
	for (const [name, prop] of Object.entries(schema.properties ?? {})) {
		const type = typeOf(prop);
		const wrong: unknown[] =
			type === "string"
				? [123, null, ["x"], { x: 1 }, true]
				: type === "array"
					? ["x", { x: 1 }, null, [null], [123]]
					: type === "integer" || type === "number"
						? ["1", null, [1], { x: 1 }, true]
						: [null, "x", [1]];
		// A field the document declares nullable takes null: that is no bad input.
		for (const value of wrong.filter((v) => v !== null || !allowsNull(prop)))
			add(`${name} = ${JSON.stringify(value)}`, json(JSON.stringify({ ...valid, [name]: value })));
		if (type === "string") {
			if (prop.maxLength !== undefined && prop.maxLength < 10_000) {
				add(`${name} past maxLength`, json(JSON.stringify({ ...valid, [name]: "x".repeat(prop.maxLength + 1) })));
			}
			add(`${name} 1 MB`, json(JSON.stringify({ ...valid, [name]: "x".repeat(1024 * 1024) })));
			if (prop.minLength) add(`${name} empty`, json(JSON.stringify({ ...valid, [name]: "" })));
			// Passwords may hold any Unicode (contract); elsewhere these are refused.
			if (!/password/i.test(name)) {
				add(`${name} with NUL`, json(JSON.stringify({ ...valid, [name]: NUL })));
				add(`${name} with bidi override`, json(JSON.stringify({ ...valid, [name]: RTL })));
				if (prop.minLength) add(`${name} only spaces`, json(JSON.stringify({ ...valid, [name]: "   " })));
			}
			// Emoji are fine in names, not in restricted formats (emails, usernames, ISO dates…).
			if (prop.pattern || prop.format) add(`${name} emoji`, json(JSON.stringify({ ...valid, [name]: EMOJI })));
		}
		if (type === "integer" || type === "number") {
			add(`${name} negative`, json(JSON.stringify({ ...valid, [name]: -1 })));
			if (type === "integer") add(`${name} fractional`, json(JSON.stringify({ ...valid, [name]: 1.5 })));
			add(`${name} huge`, json(JSON.stringify({ ...valid, [name]: 1e300 })));
			add(`${name} NaN`, json(rawJson(valid, name, "NaN")));
			add(`${name} 1e309`, json(rawJson(valid, name, "1e309")));
		}
		if (type === "array" && prop.items)
			add(`${name} 1000 items`, json(JSON.stringify({ ...valid, [name]: Array(1000).fill("x") })));
	}
	const text = JSON.stringify(valid);
	add("unknown field", json(JSON.stringify({ ...valid, unexpectedField: 1 })));
	add(
		"mass-assigned role",
		json(JSON.stringify({ ...valid, role: "Admin", roles: ["Admin"], id: 1, passwordHash: "x" })),
	);
	add("malformed JSON", json(`${text.slice(0, -1)},`));
	add("truncated JSON", json(text.slice(0, Math.max(1, text.length - 3))));
	add("duplicate keys", json(`{"a":1,"a":2,${text.slice(1)}`));
	const firstKey = Object.keys(valid)[0];
	if (firstKey)
		add("duplicate real key", json(`{${JSON.stringify(firstKey)}:${JSON.stringify(valid[firstKey])},${text.slice(1)}`));
	add("__proto__ key", json(`{"__proto__":{"isAdmin":true},${text.slice(1)}`));
	add("constructor key", json(`{"constructor":{"prototype":{}},${text.slice(1)}`));
	add("array body", json(JSON.stringify([valid])));
	add("string body", json(JSON.stringify("hello")));
	add("number body", json("42"));
	add("null body", json("null"));
	add("empty body", json(""));
	add("text/plain", json(text, "text/plain"));
	add("no content type", json(text, null));
	add("form-urlencoded", json("a=1&b=2", "application/x-www-form-urlencoded"));
	add("xml", json("<a>1</a>", "application/xml"));
	add("not UTF-8", { ...json(""), body: new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]) });
	add("body over the limit", json(JSON.stringify({ ...valid, pad: "x".repeat(20_000) })));
	return cases;
}

function formCases(op: Operation, ctx: Context, schema: Schema): Case[] {
	const path = fillPath(op.path, ctx.pathValues);
	const send = (label: string, build: (form: FormData) => void): Case => {
		const form = new FormData();
		build(form);
		return { label, path, init: { method: op.method, headers: ctx.headers, body: form } };
	};
	const file = (bytes: Uint8Array, name = "x.png", type = "image/png") => new File([bytes], name, { type });
	const cases: Case[] = [
		send("no parts", () => {}),
		send("unknown part", (f) => f.append("role", "Admin")),
		send("extra part beside a valid one", (f) => {
			f.append("firstName", "Ann");
			f.append("isAdmin", "true");
		}),
		send("repeated part", (f) => {
			f.append("firstName", "Ann");
			f.append("firstName", "Bob");
		}),
		send("file as text", (f) => f.append("profileImage", "not a file")),
		send("empty file", (f) => f.append("profileImage", file(new Uint8Array()))),
		send("html as png", (f) => f.append("profileImage", file(new TextEncoder().encode("<html><script>x</script>")))),
		send("svg", (f) =>
			f.append("profileImage", file(new TextEncoder().encode("<svg onload=alert(1)>"), "x.svg", "image/svg+xml")),
		),
		send("truncated png", (f) => f.append("profileImage", file(IMAGES["image/png"].slice(0, 4)))),
		send("__proto__ part", (f) => f.append("__proto__", "x")),
	];
	for (const [name, prop] of Object.entries(schema.properties ?? {})) {
		if (typeOf(prop) !== "string" || prop.format === "binary") continue;
		cases.push(send(`${name} with NUL`, (f) => f.append(name, NUL)));
		cases.push(send(`${name} with bidi override`, (f) => f.append(name, RTL)));
		const max = prop.maxLength;
		if (max) cases.push(send(`${name} past maxLength`, (f) => f.append(name, "x".repeat(max + 1))));
	}
	cases.push({
		label: "multipart without boundary",
		path,
		init: { method: op.method, headers: { ...ctx.headers, "Content-Type": "multipart/form-data" }, body: "garbage" },
	});
	return cases;
}

const BAD_SEGMENTS = [
	"abc",
	"-1",
	"0",
	"1.5",
	"1e3",
	"+1",
	"0x1A",
	"\u0661\u0662", // Arabic-Indic digits
	"9".repeat(300),
	"%00",
	"a%00b",
	"..",
	"%2e%2e",
	"%252e%252e",
	"a%2Fb",
	"%2F",
	"%20",
	"%ff",
	"1%3Bselect",
	"null",
	"%C0%AF",
];

function pathCases(op: Operation, ctx: Context): Case[] {
	const cases: Case[] = [];
	for (const param of op.parameters.filter((p) => p.in === "path")) {
		for (const bad of BAD_SEGMENTS) {
			// A free-form segment (username, key, token, email) may legitimately hold "abc": that is a lookup miss (404), still a 4xx.
			const path = fillPath(op.path, { ...ctx.pathValues, [param.name]: bad });
			cases.push({ label: `${param.name} = ${bad}`, path, init: { method: op.method, headers: ctx.headers } });
		}
	}
	return cases;
}

function queryCases(op: Operation, ctx: Context): Case[] {
	const base = fillPath(op.path, ctx.pathValues);
	const cases: Case[] = [];
	for (const param of op.parameters.filter((p) => p.in === "query")) {
		cases.push({
			label: `${param.name} repeated`,
			path: `${base}?${param.name}=1&${param.name}=2`,
			init: { method: op.method, headers: ctx.headers },
		});
		cases.push({
			label: `${param.name} 1 MB`,
			path: `${base}?${param.name}=${"x".repeat(1024 * 1024)}`,
			init: { method: op.method, headers: ctx.headers },
		});
		if (param.schema.pattern) {
			for (const bad of ["abc", "-1", "1.5", "1e3"]) {
				cases.push({
					label: `${param.name} = ${bad}`,
					path: `${base}?${param.name}=${bad}`,
					init: { method: op.method, headers: ctx.headers },
				});
			}
		}
	}
	return cases;
}

/** A body where the route takes none: refused, not silently dropped. */
function unexpectedBodyCases(op: Operation, ctx: Context): Case[] {
	if (op.jsonBody || op.formBody || op.method === "GET") return [];
	const path = fillPath(op.path, ctx.pathValues);
	return [
		{
			label: "unexpected body",
			path,
			init: {
				method: op.method,
				headers: { ...ctx.headers, "Content-Type": "application/json" },
				body: '{"role":"Admin"}',
			},
		},
	];
}

/** Everything the database, R2 and KV hold, as one fingerprint. */
/** Every table, the image bucket and the token store, each hashed apart: a mismatch names what changed. */
async function fingerprint(): Promise<Record<string, string>> {
	const tables = await env.DB.prepare(
		"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations' ORDER BY name",
	).all<{ name: string }>();
	const parts: Record<string, string> = {};
	for (const { name } of tables.results) {
		// A refused sign-in attempt is recorded by design (the audit log's login.failed): that is no state change.
		const where = name === "security_events" ? " WHERE type NOT IN ('login.failed', 'login.locked')" : "";
		const rows = await env.DB.prepare(`SELECT * FROM "${name}"${where} ORDER BY rowid`).all();
		parts[name] = await sha256(JSON.stringify(rows.results));
	}
	const objects = await env.PROFILE_IMAGES.list();
	parts.r2 = await sha256(objects.objects.map((o) => o.key).join(","));
	const keys = await env.TOKENS.list();
	parts.kv = await sha256(keys.keys.map((k) => k.name).join(","));
	return parts;
}

let operations: Operation[];
let ctx: Context;

beforeAll(async () => {
	operations = await loadOperations();
	const caller = await createUser({ roles: ["Admin", "Manager", "API"] });
	const { token } = await kc7Login(caller.username as string);
	const target = await createUser();
	const module = await createModule();
	const community = await createCommunity({ db: db() }, { name: "Fuzzers", categories: ["x"] });
	const key = await createIntegrationKey(serviceDeps(), { name: "fuzz" }, caller.id);
	const imageKey = await storeImage(env.PROFILE_IMAGES, IMAGES["image/png"], "image/png", target.id);
	ctx = {
		headers: { ...bearer(token), "X-Integration-Key": key.key, "CF-Connecting-IP": "10.9.9.9" },
		pathValues: {
			user_id: String(target.id),
			userId: String(target.id),
			user: String(target.id),
			module_id: String(module.id),
			communityId: String(community.id),
			id: String(key.id),
			key: imageKey,
			sessionId: "A".repeat(22),
			token: "A".repeat(43),
			email: target.email,
		},
	};
	expect(await db().select().from(users)).not.toHaveLength(0);
});

describe("generated bad input", () => {
	it("every bad request to every operation is a 4xx envelope, and nothing changes", async () => {
		const cases: (Case & { op: string })[] = [];
		for (const op of operations) {
			const opCtx = {
				...ctx,
				headers: needsBearer(op) || needsIntegrationKey(op) ? ctx.headers : { "CF-Connecting-IP": "10.9.9.9" },
			};
			const generated = [
				...(op.jsonBody ? jsonCases(op, opCtx, op.jsonBody) : []),
				...(op.formBody ? formCases(op, opCtx, op.formBody) : []),
				...pathCases(op, opCtx),
				...queryCases(op, opCtx),
				...unexpectedBodyCases(op, opCtx),
			];
			cases.push(...generated.map((c) => ({ ...c, op: `${op.method} ${op.path}` })));
		}
		expect(cases.length).toBeGreaterThanOrEqual(1000);
		console.info(`generated bad requests: ${cases.length} over ${operations.length} operations`);

		const before = await fingerprint();
		const failures: string[] = [];
		for (const c of cases) {
			const res = await sendWith(ROOMY, c.path, c.init);
			const text = await res.text();
			const where = `${c.op} [${c.label}] → ${res.status} ${text.slice(0, 160)}`;
			// Dot segments are resolved by the URL parser before any request exists: that is another
			// route, of which only "no 5xx" can be asked.
			const segments = (path: string) => path.split("?")[0]?.split("/").length;
			if (segments(new URL(c.path, "http://x").pathname) !== segments(c.path)) {
				if (res.status >= 500) failures.push(where);
				continue;
			}
			if (res.status < 400 || res.status >= 500) {
				failures.push(where);
				continue;
			}
			let body: { error?: unknown; message?: unknown };
			try {
				body = JSON.parse(text);
			} catch {
				failures.push(`${where} (not JSON)`);
				continue;
			}
			if (typeof body.error !== "string" || typeof body.message !== "string") failures.push(`${where} (no envelope)`);
			else if (LEAKS.test(text)) failures.push(`${where} (leaks internals)`);
		}
		expect(failures, failures.slice(0, 30).join("\n")).toEqual([]);
		expect(await fingerprint()).toEqual(before);
	}, 300_000);

	it("strings exactly at their length bounds are accepted or refused cleanly, never a 5xx", async () => {
		const failures: string[] = [];
		let sent = 0;
		for (const op of operations.filter((o) => o.jsonBody)) {
			const schema = op.jsonBody as Schema;
			for (const [name, prop] of Object.entries(schema.properties ?? {})) {
				if (typeOf(prop) !== "string" || prop.maxLength === undefined || prop.pattern || prop.format) continue;
				const body = { ...validObject(schema), [name]: "x".repeat(prop.maxLength) };
				const res = await sendWith(ROOMY, fillPath(op.path, ctx.pathValues), {
					method: op.method,
					headers: { ...ctx.headers, "Content-Type": "application/json" },
					body: JSON.stringify(body),
				});
				sent += 1;
				if (res.status >= 500) failures.push(`${op.method} ${op.path} ${name} at ${prop.maxLength}: ${res.status}`);
				// A length exactly at the bound must never be refused *for its length*.
				const text = await res.text();
				if (res.status === 400 && new RegExp(`"path":"${name}"[^}]*(too_big|at most|Too big)`, "i").test(text)) {
					failures.push(`${op.method} ${op.path} ${name} at ${prop.maxLength} refused for length: ${text}`);
				}
			}
		}
		expect(sent).toBeGreaterThan(5);
		expect(failures).toEqual([]);
	});

	it("the generator itself makes valid requests: a baseline passes validation", async () => {
		// Guards against a generator whose "valid" bodies are already invalid (every mutation would then pass trivially).
		const register = operations.find((o) => o.operationId === "ildRegister") as Operation;
		const res = await sendWith(ROOMY, "/sign/register", {
			method: "POST",
			headers: { "Content-Type": "application/json", "CF-Connecting-IP": "10.9.9.8" },
			body: JSON.stringify(validObject(register.jsonBody as Schema)),
		});
		expect(res.status).toBe(201);
		expect(validValue("email", { type: "string", format: "email" })).toMatch(/@example\.com$/);
	});
});

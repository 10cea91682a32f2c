import { beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../../src/db/schema.ts";
import { createIntegrationKey } from "../../../src/services/integration-keys.ts";
import { serviceDeps } from "../../helpers/d1.ts";
import { createModule, createUser, userWithToken } from "../../helpers/factories.ts";
import { bearer, send } from "../../helpers/http.ts";
import { unique, uniqueEmail } from "../../helpers/unique.ts";

type Caller = "none" | "plain" | Role;
const CALLERS: Caller[] = ["none", "plain", "Manager", "Admin", "API"];

interface Case {
	name: string;
	allowed: Caller[];
	request: (ctx: Ctx) => Request;
}
interface Ctx {
	target: number;
	targetEmail: string;
	module: number;
	key: string;
}

const json = (method: string, body: unknown, headers: Record<string, string> = {}) => ({
	method,
	headers: { "Content-Type": "application/json", ...headers },
	body: JSON.stringify(body),
});

const CASES: Case[] = [
	{
		name: "GET /api/users/me",
		allowed: ["plain", "Manager", "Admin", "API"],
		request: () => new Request("http://x/api/users/me"),
	},
	{
		name: "GET /api/users/:user_id",
		allowed: ["plain", "Manager", "Admin", "API"],
		request: (c) => new Request(`http://x/api/users/${c.target}`),
	},
	{
		name: "GET /api/users/email/:email",
		allowed: ["Manager", "Admin", "API"],
		request: (c) => new Request(`http://x/api/users/email/${encodeURIComponent(c.targetEmail)}`),
	},
	{
		name: "POST /api/users",
		allowed: ["Manager", "Admin", "API"],
		request: () => new Request("http://x/api/users", json("POST", { username: unique("r"), email: uniqueEmail() })),
	},
	{
		name: "GET /api/users/:id/modules (another user's)",
		allowed: ["Manager", "Admin", "API"],
		request: (c) => new Request(`http://x/api/users/${c.target}/modules`),
	},
	{
		name: "PUT /api/users/:id/modules/:module_id",
		allowed: ["Admin", "API"],
		request: (c) => new Request(`http://x/api/users/${c.target}/modules/${c.module}`, json("PUT", { score: 1 })),
	},
	{
		name: "POST /api/users/:id/magic-link",
		allowed: ["Manager", "Admin", "API"],
		request: (c) =>
			new Request(`http://x/api/users/${c.target}/magic-link`, {
				method: "POST",
				headers: { "X-Integration-Key": c.key },
			}),
	},
	{
		name: "GET /api/integration-keys",
		allowed: ["Admin"],
		request: () => new Request("http://x/api/integration-keys"),
	},
	{
		name: "POST /api/integration-keys",
		allowed: ["Admin"],
		request: () => new Request("http://x/api/integration-keys", json("POST", { name: "matrix" })),
	},
];

const tokens = new Map<Caller, string>();
let ctx: Ctx;
beforeAll(async () => {
	for (const caller of CALLERS) {
		if (caller === "none") continue;
		tokens.set(caller, (await userWithToken(caller === "plain" ? [] : [caller])).token);
	}
	const target = await createUser();
	const admin = await createUser({ roles: ["Admin"] });
	ctx = {
		target: target.id,
		targetEmail: target.email,
		module: (await createModule()).id,
		key: (await createIntegrationKey(serviceDeps(), { name: "matrix" }, admin.id)).key,
	};
});

describe("KC7 role matrix", () => {
	for (const c of CASES) {
		it(`${c.name}: allowed ${c.allowed.join(", ")}`, async () => {
			for (const caller of CALLERS) {
				const request = c.request(ctx);
				const headers = new Headers(request.headers);
				const token = tokens.get(caller);
				if (token) for (const [k, v] of Object.entries(bearer(token))) headers.set(k, v);
				const url = new URL(request.url);
				const res = await send(`${url.pathname}${url.search}`, {
					method: request.method,
					headers,
					body: request.body ? await request.text() : undefined,
				});
				const expected = caller === "none" ? 401 : c.allowed.includes(caller) ? "2xx" : 403;
				if (expected === "2xx") expect([200, 201], `${caller}: ${await res.clone().text()}`).toContain(res.status);
				else expect(res.status, `${caller}`).toBe(expected);
			}
		});
	}
});

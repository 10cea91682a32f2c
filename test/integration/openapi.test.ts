import { describe, expect, it } from "vitest";
import { PRODUCTION_VARS, send, sendWith } from "../helpers/http.ts";

interface Operation {
	operationId?: string;
	tags?: string[];
	security?: Record<string, string[]>[];
	parameters?: { name: string; in: string; required?: boolean }[];
	responses?: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
interface Document {
	openapi: string;
	info: { title: string; version: string };
	paths: Record<string, Record<string, Operation>>;
	components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

async function document(): Promise<Document> {
	const res = await send("/openapi.json");
	expect(res.status).toBe(200);
	return (await res.json()) as Document;
}

function operations(doc: Document) {
	return Object.entries(doc.paths).flatMap(([path, item]) =>
		Object.entries(item)
			.filter(([method]) => METHODS.includes(method))
			.map(([method, op]) => ({ path, method, op })),
	);
}

function refs(value: unknown, out: string[] = []): string[] {
	if (Array.isArray(value)) for (const v of value) refs(v, out);
	else if (value && typeof value === "object") {
		for (const [k, v] of Object.entries(value)) {
			if (k === "$ref" && typeof v === "string") out.push(v);
			else refs(v, out);
		}
	}
	return out;
}

describe("GET /openapi.json", () => {
	it("is an OpenAPI 3.1 document listing every route of the identity core", async () => {
		const doc = await document();
		expect(doc.openapi).toBe("3.1.0");
		expect(doc.info.title).toBeTruthy();
		const listed = operations(doc).map(({ method, path }) => `${method.toUpperCase()} ${path}`);
		expect(listed).toEqual(
			expect.arrayContaining([
				"GET /api",
				"GET /api/docs",
				"GET /.well-known/jwks.json",
				"POST /api/auth",
				"POST /auth/refresh-token",
				"GET /api/users/me",
				"POST /sign/login",
				"POST /sign/register",
				"GET /sign/check",
				"GET /sign/refresh",
				"GET /sign/logout",
				"POST /sign/verify",
				"POST /sign/reset",
				"POST /sign/reset/{token}",
				"GET /user/profile",
				"PUT /user/changepassword",
				"GET /dev/outbox",
				"GET /api/users/email/{email}",
				"GET /api/users/{user}",
				"POST /api/users",
				"GET /api/modules",
				"GET /api/users/{user_id}/modules",
				"GET /api/users/{user_id}/modules/{module_id}",
				"PUT /api/users/{user_id}/modules/{module_id}",
				"POST /api/users/{user_id}/magic-link",
				"GET /auth/magic-link",
				"GET /auth/token-login",
				"POST /api/integration-keys",
				"GET /api/integration-keys",
				"DELETE /api/integration-keys/{id}",
				"PUT /user/profile",
				"GET /user/profile/{userId}",
				"GET /user/profile/stream/{key}",
				"PUT /user/tutorial",
				"PATCH /user/community/join/{communityId}",
				"GET /communities",
				"POST /communities",
				"PUT /communities/{communityId}",
				"GET /user",
				"GET /user/{userId}",
				"PATCH /user/{userId}/index",
				"PUT /user/{userId}/recalculate-subscription",
				"POST /user/{userId}/subscription-periods",
				"GET /user/{userId}/subscription-periods",
			]),
		);
	});

	it("gives every operation a unique operationId, tags, security and the error envelope", async () => {
		const doc = await document();
		const ids = new Set<string>();
		for (const { path, method, op } of operations(doc)) {
			const where = `${method} ${path}`;
			expect(op.operationId, where).toMatch(/^[a-z][A-Za-z0-9]+$/);
			expect(ids.has(op.operationId as string), `duplicate ${op.operationId}`).toBe(false);
			ids.add(op.operationId as string);
			expect(op.tags?.length, where).toBeGreaterThan(0);
			expect(Array.isArray(op.security), where).toBe(true);
			for (const requirement of op.security ?? []) {
				for (const scheme of Object.keys(requirement))
					expect(doc.components.securitySchemes, where).toHaveProperty(scheme);
			}
			const error = op.responses?.["500"]?.content?.["application/json"]?.schema;
			expect(error, where).toEqual({ $ref: "#/components/schemas/Error" });
			// Authenticated operations document 401.
			if ((op.security ?? []).length > 0) expect(op.responses, where).toHaveProperty("401");
			// Path templates and declared path parameters agree.
			const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
			const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
			expect(declared.sort(), where).toEqual(templated.sort());
		}
	});

	it("has no dangling $ref", async () => {
		const doc = await document();
		for (const ref of refs(doc)) {
			const name = ref.replace("#/components/schemas/", "");
			expect(doc.components.schemas, ref).toHaveProperty(name);
		}
	});

	it("documents every route the app serves, and nothing it does not", async () => {
		const doc = await document();
		const documented = new Set(
			operations(doc).map(({ method, path }) => `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`),
		);
		const { createApp } = await import("../../src/app.ts");
		const served = createApp()
			.routes.filter((r) => r.method !== "ALL" && r.path !== "/openapi.json")
			.map((r) => `${r.method} ${r.path.replace(/\{[^/]*\}/g, "")}`); // `:userId{[0-9]+}` is `{userId}` in the document
		expect(new Set(served)).toEqual(documented);
	});

	it("leaves the development outbox out in production", async () => {
		const res = await sendWith(PRODUCTION_VARS, "/openapi.json");
		const doc = (await res.json()) as Document;
		expect(doc.paths).not.toHaveProperty("/dev/outbox");
		expect(doc.paths).toHaveProperty("/sign/login");
	});
});

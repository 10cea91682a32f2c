/**
 * Reads the app's own OpenAPI document so the generated suites cover every operation, including
 * routes added later: nothing here lists routes by hand.
 */
import { expect } from "vitest";
import { send } from "./http.ts";

export interface Schema {
	type?: string | string[];
	format?: string;
	pattern?: string;
	minLength?: number;
	maxLength?: number;
	minimum?: number;
	maximum?: number;
	exclusiveMinimum?: number;
	properties?: Record<string, Schema>;
	required?: string[];
	items?: Schema;
	enum?: unknown[];
	anyOf?: Schema[];
	$ref?: string;
	default?: unknown;
}

interface Parameter {
	name: string;
	in: "path" | "query" | "header" | "cookie";
	required?: boolean;
	schema: Schema;
}

export interface Operation {
	operationId: string;
	method: string;
	path: string;
	security: Record<string, string[]>[];
	parameters: Parameter[];
	roles?: string[];
	self?: string;
	jsonBody?: Schema;
	formBody?: Schema;
}

const METHODS = ["get", "put", "post", "delete", "patch"];

export async function loadOperations(): Promise<Operation[]> {
	const res = await send("/openapi.json");
	expect(res.status).toBe(200);
	const doc = (await res.json()) as {
		paths: Record<string, Record<string, Record<string, unknown>>>;
		components: { schemas: Record<string, Schema> };
	};
	const resolve = (schema: Schema | undefined): Schema | undefined => {
		if (!schema) return undefined;
		if (schema.$ref) return resolve(doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")]);
		return schema;
	};
	const ops: Operation[] = [];
	for (const [path, item] of Object.entries(doc.paths)) {
		for (const [method, raw] of Object.entries(item)) {
			if (!METHODS.includes(method)) continue;
			const op = raw as {
				operationId: string;
				security?: Record<string, string[]>[];
				parameters?: Parameter[];
				requestBody?: { content: Record<string, { schema: Schema }> };
				"x-roles"?: string[];
				"x-self"?: string;
			};
			ops.push({
				operationId: op.operationId,
				method: method.toUpperCase(),
				path,
				security: op.security ?? [],
				parameters: (op.parameters ?? []).map((p) => ({ ...p, schema: resolve(p.schema) ?? {} })),
				roles: op["x-roles"],
				self: op["x-self"],
				jsonBody: resolve(op.requestBody?.content["application/json"]?.schema),
				formBody: resolve(op.requestBody?.content["multipart/form-data"]?.schema),
			});
		}
	}
	return ops;
}

export const needsBearer = (op: Operation) => op.security.some((s) => "bearerAuth" in s);
export const needsIntegrationKey = (op: Operation) => op.security.some((s) => "integrationKey" in s);

export function fillPath(path: string, values: Record<string, string>): string {
	return path.replace(/\{(\w+)\}/g, (_, name: string) => {
		const value = values[name];
		if (value === undefined) throw new Error(`no value for path parameter ${name} in ${path}`);
		return value;
	});
}

const typeOf = (schema: Schema): string => {
	if (schema.anyOf) return typeOf(schema.anyOf.find((s) => s.type !== "null") ?? {});
	return Array.isArray(schema.type) ? (schema.type.find((t) => t !== "null") ?? "string") : (schema.type ?? "string");
};

export { typeOf };

let seq = 0;
/** A value the schema accepts, made unique where uniqueness matters (emails, usernames). */
export function validValue(name: string, schema: Schema): unknown {
	seq += 1;
	const type = typeOf(schema);
	if (schema.enum) return schema.enum[0];
	if (type === "integer" || type === "number") return Math.max(schema.minimum ?? 0, 1);
	if (type === "boolean") return true;
	if (type === "array") return [validValue(name, schema.items ?? {})];
	if (type === "object") return validObject(schema);
	if (schema.format === "email") return `gen${Date.now()}${seq}@example.com`;
	if (schema.format === "date-time") return new Date(Date.now() + seq * 1000).toISOString();
	if (schema.pattern) return `gen_${Date.now().toString(36)}${seq}`.slice(0, schema.maxLength ?? 32);
	if (/password/i.test(name)) return "a-valid-passphrase-123";
	return `Valid ${name} ${seq}`.slice(0, schema.maxLength ?? 100);
}

export function validObject(schema: Schema): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const [name, prop] of Object.entries(schema.properties ?? {})) {
		// Dates are generated in order, so "ends after starts" style rules hold.
		out[name] = validValue(name, prop);
	}
	return out;
}

/**
 * The request a client with a valid body sends to `op`: the path filled from `values`, the given headers (token,
 * client IP), `integrationKey` where the operation needs one, a valid JSON body or a small form where it takes one.
 */
export function validRequest(
	op: Operation,
	values: Record<string, string>,
	headers: Record<string, string>,
	integrationKey: string,
): { path: string; init: RequestInit } {
	const all = { ...headers };
	if (needsIntegrationKey(op)) all["X-Integration-Key"] = integrationKey;
	const init: RequestInit = { method: op.method, headers: all };
	if (op.jsonBody) {
		all["Content-Type"] = "application/json";
		init.body = JSON.stringify(validObject(op.jsonBody));
	} else if (op.formBody) {
		const form = new FormData();
		form.append("firstName", "Formed");
		init.body = form;
	}
	return { path: fillPath(op.path, values), init };
}

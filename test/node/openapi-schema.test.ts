import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { createApp, openApiDocument } from "../../src/app.ts";

// Runs in Node (the validator compiles JSON Schema to code, which workerd forbids): the same
// document GET /openapi.json serves, checked against the official OpenAPI 3.1 schema.
describe("OpenAPI document", () => {
	it.each([true, false])("validates against the OpenAPI 3.1 schema (development: %s)", async (isDevelopment) => {
		const document = openApiDocument(createApp(), { publicBaseUrl: "http://localhost:8787", isDevelopment });
		const validator = new Validator();
		const result = await validator.validate(JSON.parse(JSON.stringify(document)) as Record<string, unknown>);
		expect(result.errors ?? []).toEqual([]);
		expect(result.valid).toBe(true);
		expect(validator.version).toBe("3.1");
	});
});

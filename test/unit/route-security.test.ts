import { describe, expect, it } from "vitest";
import { bearerAuth, optionalBearerAuth, requireRole } from "../../src/middleware/auth.ts";
import { integrationKeyAuth } from "../../src/middleware/integration-key.ts";
import { cookieOriginGuard } from "../../src/middleware/origin-guard.ts";
import { securityOf } from "../../src/middleware/security.ts";
import { defineRoute } from "../../src/routes/shared/openapi.ts";

const responses = { 200: { description: "ok" } };

describe("a route's security is derived from the middleware that enforces it", () => {
	it("reads each scheme off its middleware and requires them together", () => {
		expect(securityOf([])).toEqual([]);
		expect(securityOf([bearerAuth(), requireRole(["Admin"])])).toEqual([{ bearerAuth: [] }]);
		expect(securityOf([bearerAuth(), integrationKeyAuth, requireRole(["API"])])).toEqual([
			{ bearerAuth: [], integrationKey: [] },
		]);
		expect(securityOf([cookieOriginGuard])).toEqual([{ refreshCookie: [] }]);
		// Logout: the Bearer token or, failing that, the cookie — alternatives, whatever else guards the route.
		expect(securityOf([cookieOriginGuard, optionalBearerAuth()])).toEqual([{ bearerAuth: [] }, { refreshCookie: [] }]);
	});

	it("defineRoute writes it (and x-roles) into the route, and refuses a route that states security itself", () => {
		const route = defineRoute({
			method: "get",
			path: "/x",
			middleware: [bearerAuth(), requireRole(["Admin", "API"])],
			responses,
		});
		expect(route.security).toEqual([{ bearerAuth: [] }]);
		expect((route as unknown as Record<string, unknown>)["x-roles"]).toEqual(["Admin", "API"]);
		expect(defineRoute({ method: "get", path: "/public", responses }).security).toEqual([]);
		expect(() =>
			defineRoute({ method: "get", path: "/twice", security: [{ bearerAuth: [] }], responses } as never),
		).toThrow(/derived from the middleware/);
	});
});

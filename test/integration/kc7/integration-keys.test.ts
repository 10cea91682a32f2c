import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { integrationKeys } from "../../../src/db/schema.ts";
import { sha256 } from "../../../src/lib/encoding.ts";
import { createIntegrationKey } from "../../../src/services/integration-keys.ts";
import { db, serviceDeps } from "../../helpers/d1.ts";
import { createUser, userWithToken } from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson } from "../../helpers/http.ts";
import { linkFor } from "../../helpers/requests.ts";

// A key made without owner or scope, as migrated keys are: unbound, scope all.
let partnerKeyId: number;
beforeAll(async () => {
	const admin = await createUser({ roles: ["Admin"] });
	const created = await createIntegrationKey(serviceDeps(), { name: "Test partner" }, admin.id);
	partnerKeyId = created.id;
});

describe("integration keys (Admin)", () => {
	it("creates a key shown once, lists it without the key, and revokes it at once", async () => {
		const { token } = await userWithToken(["Admin"]);
		const created = await sendJson("/api/integration-keys", { name: "Acme LMS" }, { headers: bearer(token) });
		expect(created.status).toBe(201);
		const key = (await created.json()) as { id: number; name: string; key: string; created_at: string };
		expect(key).toEqual({
			id: expect.any(Number),
			name: "Acme LMS",
			owner_user_id: null,
			scope: "all",
			key: expect.stringMatching(/^ik_[\w-]{43}$/),
			created_at: expect.any(String),
		});
		const row = await db().select().from(integrationKeys).where(eq(integrationKeys.id, key.id)).get();
		expect(row?.keyHash).toBe(await sha256(key.key));
		expect(JSON.stringify(row)).not.toContain(key.key);

		const list = await send("/api/integration-keys", { headers: bearer(token) });
		const text = await list.text();
		expect(text).not.toContain(key.key);
		const listed = (JSON.parse(text) as { id: number }[]).find((k) => k.id === key.id);
		expect(listed).toEqual({
			id: key.id,
			name: "Acme LMS",
			owner_user_id: null,
			scope: "all",
			created_at: key.created_at,
			last_used_at: null,
			revoked_at: null,
		});

		const target = await createUser();
		const staff = await userWithToken(["API"]);
		expect((await linkFor(target.id, staff.token, key.key)).status).toBe(200);
		const revoked = await send(`/api/integration-keys/${key.id}`, { method: "DELETE", headers: bearer(token) });
		expect(revoked.status).toBe(204);
		await expectError(await linkFor(target.id, staff.token, key.key), 401, "Unauthorized");
		const after = (
			(await (await send("/api/integration-keys", { headers: bearer(token) })).json()) as {
				id: number;
				revoked_at: string | null;
				last_used_at: string | null;
			}[]
		).find((k) => k.id === key.id);
		expect(after?.revoked_at).toMatch(/Z$/);
		expect(after?.last_used_at).toMatch(/Z$/);
	});

	it("is Admin only, validates names, and 404s unknown ids", async () => {
		for (const roles of [[], ["Manager"], ["API"]] as const) {
			const { token } = await userWithToken([...roles]);
			await expectError(await sendJson("/api/integration-keys", { name: "x" }, { headers: bearer(token) }), 403);
			await expectError(await send("/api/integration-keys", { headers: bearer(token) }), 403);
			await expectError(await send("/api/integration-keys/1", { method: "DELETE", headers: bearer(token) }), 403);
		}
		await expectError(await send("/api/integration-keys"), 401);
		const { token } = await userWithToken(["Admin"]);
		await expectError(await sendJson("/api/integration-keys", { name: "" }, { headers: bearer(token) }), 400);
		await expectError(await sendJson("/api/integration-keys", {}, { headers: bearer(token) }), 400, "Name is required");
		await expectError(await send("/api/integration-keys/999999", { method: "DELETE", headers: bearer(token) }), 404);
		await expectError(await send("/api/integration-keys/abc", { method: "DELETE", headers: bearer(token) }), 400);
	});
});

describe("bound and scoped integration keys", () => {
	const createKey = (adminToken: string, body: Record<string, unknown>) =>
		sendJson("/api/integration-keys", body, { headers: bearer(adminToken) });

	it("a key bound to an owner works only with the owner's Bearer token", async () => {
		const admin = await userWithToken(["Admin"]);
		const owner = await userWithToken(["API"]);
		const otherPartner = await userWithToken(["API"]);
		const res = await createKey(admin.token, { name: "Bound", owner_user_id: owner.user.id });
		expect(res.status).toBe(201);
		const key = (await res.json()) as { key: string; owner_user_id: number; scope: string };
		expect(key).toMatchObject({ owner_user_id: owner.user.id, scope: "all" });
		const target = await createUser();
		await expectError(await linkFor(target.id, otherPartner.token, key.key), 401, "Unauthorized");
		await expectError(await linkFor(target.id, admin.token, key.key), 401, "Unauthorized");
		expect((await linkFor(target.id, owner.token, key.key)).status).toBe(200);
	});

	it('a "provisioned" key mints links only for users its owner created with POST /api/users', async () => {
		const admin = await userWithToken(["Admin"]);
		const owner = await userWithToken(["API"]);
		const other = await userWithToken(["API"]);
		const res = await createKey(admin.token, { name: "Scoped", owner_user_id: owner.user.id, scope: "provisioned" });
		const { key } = (await res.json()) as { key: string };
		const provision = async (caller: string) => {
			const created = await sendJson(
				"/api/users",
				{ username: `p${Math.random().toString(36).slice(2, 10)}`, email: `${crypto.randomUUID()}@example.com` },
				{ headers: bearer(caller) },
			);
			expect(created.status).toBe(201);
			return ((await created.json()) as { user_id: number }).user_id;
		};
		const mine = await provision(owner.token);
		const theirs = await provision(other.token);
		const selfRegistered = await createUser();
		expect((await linkFor(mine, owner.token, key)).status).toBe(200);
		await expectError(await linkFor(theirs, owner.token, key), 403, "Unauthorized");
		await expectError(await linkFor(selfRegistered.id, owner.token, key), 403, "Unauthorized");
		// An unknown id is refused the same way: a scoped key learns nothing about other accounts.
		await expectError(await linkFor(99_999_999, owner.token, key), 403, "Unauthorized");
	});

	it("validates owner and scope: the owner must hold the API role, and a scoped key needs an owner", async () => {
		const admin = await userWithToken(["Admin"]);
		const plain = await createUser();
		const manager = await createUser({ roles: ["Manager"] });
		for (const body of [
			{ name: "x", owner_user_id: plain.id },
			{ name: "x", owner_user_id: manager.id },
			{ name: "x", owner_user_id: 99_999_999 },
			{ name: "x", scope: "provisioned" },
		]) {
			const error = await expectError(await createKey(admin.token, body), 400);
			expect(error.issues?.[0]?.path).toBe("owner_user_id");
		}
		await expectError(await createKey(admin.token, { name: "x", scope: "some" }), 400);
		await expectError(await createKey(admin.token, { name: "x", owner_user_id: "1" }), 400);
	});

	it("lists owner and scope; existing (migrated) keys are unbound with scope all", async () => {
		const admin = await userWithToken(["Admin"]);
		const owner = await createUser({ roles: ["API"] });
		const res = await createKey(admin.token, { name: "Listed", owner_user_id: owner.id, scope: "provisioned" });
		const { id } = (await res.json()) as { id: number };
		const list = (await (await send("/api/integration-keys", { headers: bearer(admin.token) })).json()) as {
			id: number;
			owner_user_id: number | null;
			scope: string;
		}[];
		expect(list.find((k) => k.id === id)).toMatchObject({ owner_user_id: owner.id, scope: "provisioned" });
		expect(list.find((k) => k.id === partnerKeyId)).toMatchObject({ owner_user_id: null, scope: "all" });
	});

	it("revoking a key closes the links it minted that are not used yet", async () => {
		const admin = await userWithToken(["Admin"]);
		const created = (await (await createKey(admin.token, { name: "Leaky" })).json()) as { id: number; key: string };
		const target = await createUser();
		const link = (await (await linkFor(target.id, admin.token, created.key)).json()) as { login_link: string };
		const token = new URL(link.login_link).searchParams.get("token");
		await send(`/api/integration-keys/${created.id}`, { method: "DELETE", headers: bearer(admin.token) });
		await expectError(await send(`/auth/token-login?token=${token}`), 401, "Invalid token");
	});
});

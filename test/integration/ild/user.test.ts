import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { communityMemberships, imageDeletions } from "../../../src/db/schema.ts";
import { purgeDueImages } from "../../../src/services/cleanup.ts";
import { issueOneTimeToken } from "../../../src/services/one-time-tokens.ts";
import { IMAGE_PREFIX, objectKeyOf } from "../../../src/services/profile-images.ts";
import { DISGUISED, IMAGES, pngOfSize } from "../../fixtures/images.ts";
import { countingD1, db, userRow } from "../../helpers/d1.ts";
import {
	community,
	createUser,
	ildLogin,
	kc7Login,
	loginLinkToken,
	NEW_PASSWORD,
	PASSWORD,
	userWithToken,
} from "../../helpers/factories.ts";
import { bearer, expectError, send, sendJson, sendWith } from "../../helpers/http.ts";
import { mailFor, tokenFromMail } from "../../helpers/mail.ts";
import { ildRefresh, join } from "../../helpers/requests.ts";
import { unique } from "../../helpers/unique.ts";

/** The signed-in user's own routes: /user/profile…, /user/changepassword, /user/tutorial, /user/community/join/…. */

type User = {
	id: number;
	profileImage: string | null;
	username: string | null;
	firstName: string;
	communities: number[];
	categories: string[];
};

function form(fields: Record<string, string | { bytes: Uint8Array; name: string; type: string }>) {
	const body = new FormData();
	for (const [key, value] of Object.entries(fields)) {
		if (typeof value === "string") body.append(key, value);
		else body.append(key, new File([value.bytes], value.name, { type: value.type }));
	}
	return body;
}

// Through sendWith, which waits for the request's deferred work (the displaced image's delete) to finish.
const putForm = (token: string, body: FormData, overrides: Partial<Env> = {}) =>
	sendWith(overrides, "/user/profile", { method: "PUT", headers: bearer(token), body });
const putJson = (token: string, body: unknown) =>
	sendJson("/user/profile", body, { method: "PUT", headers: bearer(token) });

/** The public keys of the user's objects in the bucket; every one of them must sit under the image prefix. */
async function objectsOf(userId: number): Promise<string[]> {
	const keys: string[] = [];
	let cursor: string | undefined;
	do {
		const page = await env.PROFILE_IMAGES.list({ include: ["customMetadata"], cursor });
		for (const o of page.objects) {
			if (o.customMetadata?.userId !== String(userId)) continue;
			expect(o.key.startsWith(IMAGE_PREFIX)).toBe(true);
			keys.push(o.key.slice(IMAGE_PREFIX.length));
		}
		cursor = page.truncated ? page.cursor : undefined;
	} while (cursor);
	return keys;
}

async function upload(
	token: string,
	bytes: Uint8Array,
	name = "me.bin",
	type = "application/octet-stream",
	overrides: Partial<Env> = {},
) {
	return putForm(token, form({ profileImage: { bytes, name, type } }), overrides);
}

/** The image-deletion outbox rows of these public keys. */
async function queued(...keys: string[]) {
	return db()
		.select({ key: imageDeletions.objectKey, reason: imageDeletions.reason })
		.from(imageDeletions)
		.where(inArray(imageDeletions.objectKey, keys.map(objectKeyOf)));
}

describe("GET /user/profile/:userId (public)", () => {
	it("returns only the public fields, without authentication, in one D1 round trip", async () => {
		const user = await createUser({ firstName: "Pia" });
		const { d1, counter } = countingD1(env.DB);
		const res = await sendWith({ DB: d1 }, `/user/profile/${user.id}`);
		expect(await res.json()).toEqual({ id: user.id, firstName: "Pia", lastName: "User", profileImage: null });
		expect(counter.count).toBe(1);
	});

	it("404s unknown and non-numeric ids", async () => {
		for (const id of ["999999999", "abc", "-1", "1.5", "0", "1e3", "%00", "..%2F1"]) {
			await expectError(await send(`/user/profile/${id}`), 404, "User not found");
		}
	});
});

describe("PUT /user/profile (JSON)", () => {
	it("updates names and username, and GET /user/profile (one round trip) shows them", async () => {
		const { user, token } = await userWithToken();
		const username = unique("New.Name-");
		const res = await putJson(token, { firstName: "  Zoë ", lastName: "Ng", username });
		expect(res.status).toBe(200);
		expect(await res.json()).toMatchObject({ id: user.id, firstName: "Zoë", lastName: "Ng", username });
		const { d1, counter } = countingD1(env.DB);
		const own = await sendWith({ DB: d1 }, "/user/profile", { headers: bearer(token) });
		expect(await own.json()).toMatchObject({ firstName: "Zoë", username });
		expect(counter.count).toBe(1);
	});

	it("rejects unknown and privileged fields (400 naming them) and changes nothing", async () => {
		const { user, token } = await userWithToken();
		const body = await expectError(
			await putJson(token, { firstName: "X", role: "Admin", email: "a@b.co", id: 1 }),
			400,
		);
		expect(body.issues?.map((i) => i.path).sort()).toEqual(["email", "id", "role"]);
		expect((await userRow(user.id))?.firstName).toBe("Test");
	});

	it("validates lengths and the username rules; a taken username is 409", async () => {
		const { token } = await userWithToken();
		const other = await createUser();
		await expectError(await putJson(token, { firstName: "x".repeat(101) }), 400);
		await expectError(await putJson(token, { firstName: "   " }), 400);
		await expectError(await putJson(token, { username: "12345" }), 400, "Username must not be all digits");
		await expectError(await putJson(token, { username: "me" }), 400);
		await expectError(
			await putJson(token, { username: (other.username as string).toUpperCase() }),
			409,
			"Username is already taken",
		);
	});

	it("accepts only JSON or multipart", async () => {
		const { token } = await userWithToken();
		await expectError(
			await send("/user/profile", {
				method: "PUT",
				headers: { ...bearer(token), "Content-Type": "text/plain" },
				body: "hi",
			}),
			415,
		);
		await expectError(await send("/user/profile", { method: "PUT", body: "{}" }), 401);
	});
});

describe("profile images", () => {
	it.each(Object.entries(IMAGES))("stores a %s under a fresh key with the type its bytes show", async (type, bytes) => {
		const { user, token } = await userWithToken();
		// The client's name and type are lies on purpose: the bytes decide.
		const res = await upload(token, bytes, "photo.txt", "text/plain");
		expect(res.status).toBe(200);
		const body = (await res.json()) as User;
		expect(body.profileImage).toMatch(/^[\w-]{43}$/);
		const object = await env.PROFILE_IMAGES.get(objectKeyOf(body.profileImage as string));
		expect(object?.httpMetadata?.contentType).toBe(type);
		expect(new Uint8Array(await (object as R2ObjectBody).arrayBuffer())).toEqual(bytes);
		expect(await objectsOf(user.id)).toEqual([body.profileImage]);
	});

	it.each(Object.entries(DISGUISED))("refuses %s with 415 and stores nothing", async (_, bytes) => {
		const { user, token } = await userWithToken();
		await expectError(await upload(token, bytes, "avatar.png", "image/png"), 415);
		expect(await objectsOf(user.id)).toEqual([]);
		expect((await userRow(user.id))?.profileImageKey).toBeNull();
	});

	it("refuses images over 5 MiB with 413 — by Content-Length, while streaming, and by file size — storing nothing", async () => {
		const { user, token } = await userWithToken();
		await expectError(await upload(token, pngOfSize(6 * 1024 * 1024)), 413);
		await expectError(await upload(token, pngOfSize(5 * 1024 * 1024 + 1)), 413);
		const big = await new Response(
			form({ profileImage: { bytes: pngOfSize(6 * 1024 * 1024), name: "a.png", type: "image/png" } }),
		).blob();
		const streamed = await send("/user/profile", {
			method: "PUT",
			headers: { ...bearer(token), "Content-Type": big.type },
			body: big.stream(),
			// @ts-expect-error workerd needs duplex for streaming request bodies
			duplex: "half",
		});
		await expectError(streamed, 413);
		expect(await objectsOf(user.id)).toEqual([]);
		expect((await upload(token, pngOfSize(5 * 1024 * 1024))).status).toBe(200); // exactly 5 MiB is fine
	});

	it("rejects empty files, text where the file belongs, unknown and repeated fields", async () => {
		const { token } = await userWithToken();
		await expectError(await upload(token, new Uint8Array()), 400, "Profile image is empty");
		await expectError(await putForm(token, form({ profileImage: "not a file" })), 400, /file/);
		const unknown = await expectError(await putForm(token, form({ firstName: "A", role: "Admin" })), 400);
		expect(unknown.issues?.map((i) => i.path)).toEqual(["role"]);
		const twice = new FormData();
		twice.append("firstName", "A");
		twice.append("firstName", "B");
		await expectError(await putForm(token, twice), 400, /more than once/);
	});

	it("updates text fields and the image together; replacing deletes the old object only afterwards", async () => {
		const { user, token } = await userWithToken();
		const first = (await (await upload(token, IMAGES["image/png"])).json()) as User;
		const second = (await (
			await putForm(
				token,
				form({ firstName: "Ida", profileImage: { bytes: IMAGES["image/gif"], name: "b.gif", type: "image/gif" } }),
			)
		).json()) as User;
		expect(second.firstName).toBe("Ida");
		expect(second.profileImage).not.toBe(first.profileImage);
		expect(await env.PROFILE_IMAGES.head(objectKeyOf(first.profileImage as string))).toBeNull();
		expect(await objectsOf(user.id)).toEqual([second.profileImage]);
		// Nothing left queued: the displaced object was deleted, the new one adopted.
		expect(await queued(first.profileImage as string, second.profileImage as string)).toEqual([]);
		// A text-only update leaves the image alone.
		expect(((await (await putJson(token, { lastName: "Lund" })).json()) as User).profileImage).toBe(
			second.profileImage,
		);
	});

	it("keeps the old image when the update fails (taken username): the new object is removed", async () => {
		const { user, token } = await userWithToken();
		const other = await createUser();
		const first = (await (await upload(token, IMAGES["image/png"])).json()) as User;
		const res = await putForm(
			token,
			form({
				username: other.username as string,
				profileImage: { bytes: IMAGES["image/jpeg"], name: "x.jpg", type: "image/jpeg" },
			}),
		);
		await expectError(res, 409);
		expect((await userRow(user.id))?.profileImageKey).toBe(first.profileImage);
		expect(await objectsOf(user.id)).toEqual([first.profileImage]);
		expect(await queued(first.profileImage as string)).toEqual([]);
	});

	it("answers 200 when deleting the displaced image fails after the update committed; the outbox keeps it for the cron", async () => {
		const { user, token } = await userWithToken();
		const first = (await (await upload(token, IMAGES["image/png"])).json()) as User;
		const log = vi.spyOn(console, "error").mockImplementation(() => {});
		const flaky = new Proxy(env.PROFILE_IMAGES, {
			get(target, prop) {
				if (prop === "delete") return () => Promise.reject(new Error("R2 delete failed"));
				const value = Reflect.get(target, prop);
				return typeof value === "function" ? value.bind(target) : value;
			},
		});
		const res = await upload(token, IMAGES["image/gif"], "b.gif", "image/gif", { PROFILE_IMAGES: flaky });
		log.mockRestore();
		expect(res.status).toBe(200);
		const second = (await res.json()) as User;
		expect((await userRow(user.id))?.profileImageKey).toBe(second.profileImage);
		expect(await queued(first.profileImage as string)).toEqual([
			{ key: objectKeyOf(first.profileImage as string), reason: "replaced" },
		]);
		// The daily sweep finishes the job.
		await purgeDueImages({ db: db(), env });
		expect(await objectsOf(user.id)).toEqual([second.profileImage]);
		expect(await queued(first.profileImage as string)).toEqual([]);
	});

	it("counts uploads per user (429 past the limit); updates without a file are not counted", async () => {
		const { token } = await userWithToken();
		const limits = { RATE_LIMITS: JSON.stringify({ uploadUser: { limit: 2, windowSeconds: 3600 } }) };
		for (let i = 0; i < 2; i++)
			expect((await upload(token, IMAGES["image/png"], "a.png", "image/png", limits)).status).toBe(200);
		const refused = await upload(token, IMAGES["image/png"], "a.png", "image/png", limits);
		await expectError(refused, 429);
		expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
		// Text changes, JSON or multipart without a file, still go through.
		expect(
			(
				await sendWith(limits, "/user/profile", {
					method: "PUT",
					headers: { ...bearer(token), "Content-Type": "application/json" },
					body: JSON.stringify({ firstName: "Lea" }),
				})
			).status,
		).toBe(200);
		expect((await putForm(token, form({ lastName: "Berg" }), limits)).status).toBe(200);
		// Another user has their own budget.
		const other = await userWithToken();
		expect((await upload(other.token, IMAGES["image/gif"], "a.gif", "image/gif", limits)).status).toBe(200);
	});

	it("5 concurrent uploads leave exactly one image key and exactly that one object", async () => {
		const { user, token } = await userWithToken();
		const types = Object.values(IMAGES);
		const results = await Promise.all(
			Array.from({ length: 5 }, (_, i) => upload(token, types[i % types.length] as Uint8Array)),
		);
		expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
		const key = (await userRow(user.id))?.profileImageKey;
		expect(key).toMatch(/^[\w-]{43}$/);
		expect(await objectsOf(user.id)).toEqual([key]);
		expect(await queued(key as string)).toEqual([]);
	});
});

describe("GET /user/profile/stream/:key", () => {
	it("streams the bytes with type, ETag, private caching, nosniff and inline disposition; If-None-Match gives 304", async () => {
		const { token } = await userWithToken();
		const key = ((await (await upload(token, IMAGES["image/webp"])).json()) as User).profileImage as string;
		const viewer = await userWithToken();
		const res = await send(`/user/profile/stream/${key}`, { headers: bearer(viewer.token) });
		expect(res.status).toBe(200);
		expect(new Uint8Array(await res.arrayBuffer())).toEqual(IMAGES["image/webp"]);
		expect(res.headers.get("Content-Type")).toBe("image/webp");
		expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
		expect(res.headers.get("Content-Disposition")).toBe("inline");
		expect(res.headers.get("Cache-Control")).toMatch(/^private, max-age=\d{6,}/);
		const etag = res.headers.get("ETag") as string;
		expect(etag).toMatch(/^"[0-9a-f]+"$/);
		const cached = await send(`/user/profile/stream/${key}`, {
			headers: { ...bearer(viewer.token), "If-None-Match": etag },
		});
		expect(cached.status).toBe(304);
		expect(await cached.text()).toBe("");
		expect(cached.headers.get("ETag")).toBe(etag);
		const stale = await send(`/user/profile/stream/${key}`, {
			headers: { ...bearer(viewer.token), "If-None-Match": '"nope"' },
		});
		expect(stale.status).toBe(200);
	});

	it("evaluates conditional headers itself: malformed ones are ignored, a failed If-Match is 412", async () => {
		const { token } = await userWithToken();
		const key = ((await (await upload(token, IMAGES["image/png"])).json()) as User).profileImage as string;
		const get = (headers: Record<string, string>) =>
			send(`/user/profile/stream/${key}`, { headers: { ...bearer(token), ...headers } });
		const etag = (await get({})).headers.get("ETag") as string;
		// Malformed lists (R2 would throw on these): answered as if absent.
		for (const bad of ["nope", '"unterminated', 'W/"a", *', '"a" "b"']) {
			const res = await get({ "If-None-Match": bad });
			expect(res.status, bad).toBe(200);
			expect(new Uint8Array(await res.arrayBuffer())).toEqual(IMAGES["image/png"]);
			expect((await get({ "If-Match": bad })).status, bad).toBe(200);
		}
		// Weak comparison for If-None-Match, lists and * included.
		for (const match of [etag, `W/${etag}`, `"other", ${etag}`, "*"])
			expect((await get({ "If-None-Match": match })).status, match).toBe(304);
		// Strong comparison for If-Match: a weak or different tag fails with 412 and no image bytes.
		for (const miss of ['"other"', `W/${etag}`]) {
			const res = await get({ "If-Match": miss });
			// The error carries none of the image's headers: no ETag, no year of caching, no stale length.
			expect(res.headers.get("Cache-Control"), miss).toBe("no-store");
			expect(res.headers.get("ETag"), miss).toBeNull();
			expect(res.headers.get("Content-Disposition"), miss).toBeNull();
			await expectError(res, 412, /If-Match/);
		}
		for (const hit of [etag, "*", `"other", ${etag}`]) expect((await get({ "If-Match": hit })).status, hit).toBe(200);
		// If-Match is evaluated first: a failed one wins over a matching If-None-Match.
		await expectError(await get({ "If-Match": '"other"', "If-None-Match": etag }), 412);
	});

	it("401s without a token and 404s unknown or malformed keys", async () => {
		const { token } = await userWithToken();
		const key = ((await (await upload(token, IMAGES["image/png"])).json()) as User).profileImage as string;
		await expectError(await send(`/user/profile/stream/${key}`), 401);
		await expectError(await send(`/user/profile/stream/${"A".repeat(43)}`, { headers: bearer(token) }), 404);
		await expectError(await send("/user/profile/stream/..%2F..%2Fetc", { headers: bearer(token) }), 404);
		await expectError(await send(`/user/profile/stream/${key.slice(0, 20)}`, { headers: bearer(token) }), 404);
	});
});

describe("PUT /user/tutorial", () => {
	it("marks the tutorial completed once (idempotent)", async () => {
		const { user, token } = await userWithToken();
		const first = await send("/user/tutorial", { method: "PUT", headers: bearer(token) });
		expect(await first.json()).toMatchObject({ id: user.id, tutorialCompleted: true });
		const at = (await userRow(user.id))?.tutorialCompletedAt;
		expect(at).not.toBeNull();
		await send("/user/tutorial", { method: "PUT", headers: bearer(token) });
		expect((await userRow(user.id))?.tutorialCompletedAt).toBe(at);
		await expectError(await send("/user/tutorial", { method: "PUT" }), 401);
		await expectError(await send("/user/tutorial", { headers: bearer(token) }), 405);
	});
});

describe("PUT /user/changepassword", () => {
	const change = (token: string, body: unknown) =>
		sendJson("/user/changepassword", body, { method: "PUT", headers: bearer(token) });

	it("changes the password and revokes every other session, keeping the caller's", async () => {
		const user = await createUser();
		const mine = await ildLogin(user.email);
		const other = await kc7Login(user.username as string);
		const res = await change(mine.token, { currentPassword: PASSWORD, newPassword: "a-brand-new-passphrase" });
		expect(res.status).toBe(200);
		await expectError(await ildRefresh(other.refresh), 401);
		expect((await ildRefresh(mine.refresh)).status).toBe(200);
		await expectError(await sendJson("/sign/login", { email: user.email, password: PASSWORD }), 401);
		await ildLogin(user.email, "a-brand-new-passphrase");
	});

	it('rejects a wrong current password with 400 "Current password is incorrect" and changes nothing', async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		await expectError(
			await change(token, { currentPassword: "not-my-password", newPassword: "a-brand-new-passphrase" }),
			400,
			"Current password is incorrect",
		);
		await ildLogin(user.email);
	});

	it("validates the new password (length in code points, not the email) and requires a token", async () => {
		const user = await createUser();
		const { token } = await ildLogin(user.email);
		await expectError(await change(token, { currentPassword: PASSWORD, newPassword: "short" }), 400, /at least 8/);
		await expectError(await change(token, { currentPassword: PASSWORD, newPassword: user.email }), 400, /email/);
		await expectError(await change(token, { currentPassword: PASSWORD }), 400, "New password is required");
		await expectError(await change("", { currentPassword: PASSWORD, newPassword: "a-brand-new-passphrase" }), 401);
	});
});

describe("secrets change, old doors close", () => {
	it("a password change closes the user's open reset and login-link tokens (not their email verification)", async () => {
		const user = await createUser();
		const verify = await issueOneTimeToken({ db: db(), env }, { purpose: "verify-email", userId: user.id });
		await sendJson("/sign/reset", { email: user.email });
		const resetToken = tokenFromMail((await mailFor(user.email, /reset/i)).text);
		const link = await loginLinkToken(user.id);
		const { token } = await ildLogin(user.email);
		const changed = await send("/user/changepassword", {
			method: "PUT",
			headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
			body: JSON.stringify({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
		});
		expect(changed.status).toBe(200);
		await expectError(await sendJson(`/sign/reset/${resetToken}`, { password: "yet-another-passphrase" }), 400);
		await expectError(await send(`/auth/token-login?token=${link}`), 401, "Invalid token");
		expect((await sendJson("/sign/verify", { token: verify.token })).status).toBe(200);
	});
});

describe("PATCH /user/community/join/:communityId", () => {
	it("joins idempotently and keeps categories the distinct union, in one D1 round trip", async () => {
		const a = await community(["ux", "research"]);
		const b = await community(["research", "writing"]);
		const { user, token } = await userWithToken();
		const first = (await (await join(token, a.id)).json()) as User;
		expect(first).toMatchObject({ id: user.id, communities: [a.id], categories: ["research", "ux"] });
		const { d1, counter } = countingD1(env.DB);
		const second = (await (
			await sendWith({ DB: d1 }, `/user/community/join/${b.id}`, { method: "PATCH", headers: bearer(token) })
		).json()) as User;
		expect(counter.count).toBe(1);
		expect(second.communities).toEqual([a.id, b.id].sort((x, y) => x - y));
		expect(second.categories).toEqual(["research", "ux", "writing"]);
		const again = (await (await join(token, b.id)).json()) as User;
		expect(again.communities).toEqual(second.communities);
		const rows = await db().select().from(communityMemberships).where(eq(communityMemberships.userId, user.id));
		expect(rows).toHaveLength(2);
	});

	it('404s "Community not found" for unknown and non-numeric ids; 401 without a token', async () => {
		const { token } = await userWithToken();
		for (const id of ["999999", "abc", "-1", "1.5"])
			await expectError(await join(token, id), 404, "Community not found");
		await expectError(await send("/user/community/join/1", { method: "PATCH" }), 401);
	});
});

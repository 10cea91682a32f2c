import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { changePassword as changeUserPassword } from "../../services/auth.ts";
import { joinCommunity as join } from "../../services/communities.ts";
import { depsOf } from "../../services/deps.ts";
import { IMAGE_KEY_SHAPE, MAX_IMAGE_BYTES, sniffImageType, storeImage } from "../../services/profile-images.ts";
import {
	completeTutorial as complete,
	publicProfile as findPublicProfile,
	findUserById,
	type ProfileChanges,
	toIldUser,
	updateProfile as update,
} from "../../services/users.ts";
import type { AppEnv } from "../../types.ts";
import type * as routes from "./user.routes.ts";

const NO_SUCH_USER = "Invalid or expired token"; // a valid token whose user is gone is no credential
const isId = (value: string) => /^[1-9]\d{0,14}$/.test(value);

export const ownProfile: RouteHandler<typeof routes.ownProfile, AppEnv> = async (c) => {
	const user = await findUserById(c.var.db, c.var.auth.userId);
	if (!user) throw new ApiError(401, NO_SUCH_USER);
	return c.json(toIldUser(user), 200);
};

export const changePassword: RouteHandler<typeof routes.changePassword, AppEnv> = async (c) => {
	await changeUserPassword(depsOf(c), c.var.auth, c.req.valid("json"));
	return c.json({ message: "Password changed" }, 200);
};

/** Checks an uploaded image (size, then bytes) and returns its bytes and type. */
async function acceptImage(file: File) {
	if (file.size > MAX_IMAGE_BYTES) throw new ApiError(413, "Profile image must be at most 5 MiB");
	if (file.size === 0)
		throw new ApiError(400, "Profile image is empty", {
			issues: [{ path: "profileImage", message: "Profile image is empty" }],
		});
	const bytes = new Uint8Array(await file.arrayBuffer());
	const type = sniffImageType(bytes);
	if (!type) throw new ApiError(415, "Profile image must be a JPEG, PNG, WebP or GIF image");
	return { bytes, type };
}

export const updateProfile: RouteHandler<typeof routes.updateProfile, AppEnv> = async (c) => {
	const isForm = (c.req.header("Content-Type") ?? "").toLowerCase().startsWith("multipart/form-data");
	// Only the multipart schema has the file; the JSON one has the text fields alone.
	const input: ProfileChanges & { profileImage?: File } = isForm ? c.req.valid("form") : c.req.valid("json");
	const { profileImage, ...text } = input;
	if (!profileImage && Object.keys(text).length === 0) {
		throw new ApiError(400, "Nothing to update: give firstName, lastName, username or profileImage");
	}
	const changes: ProfileChanges = { ...text };
	const bucket = c.env.PROFILE_IMAGES;
	const userId = c.var.auth.userId;

	if (profileImage) {
		const { bytes, type } = await acceptImage(profileImage);
		changes.profileImageKey = await storeImage(bucket, bytes, type, userId);
	}
	let result: Awaited<ReturnType<typeof update>>;
	let user: NonNullable<typeof result.user>;
	try {
		result = await update(c.var.db, userId, changes);
		if (!result.user) throw new ApiError(401, NO_SUCH_USER);
		user = result.user;
	} catch (error) {
		// The row does not point at the new image: the new object must not linger.
		if (changes.profileImageKey) await bucket.delete(changes.profileImageKey);
		throw error;
	}
	// Only now, with the row pointing at the new object, is the displaced one deleted.
	if (result.replacedImageKey) await bucket.delete(result.replacedImageKey);
	return c.json(toIldUser(user), 200);
};

export const publicProfile: RouteHandler<typeof routes.publicProfile, AppEnv> = async (c) => {
	const { userId } = c.req.valid("param");
	const profile = isId(userId) ? await findPublicProfile(c.var.db, Number(userId)) : null;
	if (!profile) throw new ApiError(404, "User not found");
	return c.json(profile, 200);
};

export const streamImage: RouteHandler<typeof routes.streamImage, AppEnv> = async (c) => {
	const { key } = c.req.valid("param");
	const object = IMAGE_KEY_SHAPE.test(key) ? await c.env.PROFILE_IMAGES.get(key, { onlyIf: c.req.raw.headers }) : null;
	if (!object) throw new ApiError(404, "Image not found");
	const headers = new Headers();
	object.writeHttpMetadata(headers);
	for (const [name, value] of headers) c.header(name, value);
	c.header("ETag", object.httpEtag);
	c.header("Cache-Control", "private, max-age=31536000, immutable");
	c.header("Content-Disposition", "inline");
	c.header("X-Content-Type-Options", "nosniff");
	// R2 evaluated If-None-Match itself: an object without a body means "not modified".
	if (!("body" in object)) return c.body(null, 304);
	c.header("Content-Length", String(object.size));
	return c.body((object as R2ObjectBody).body, 200);
};

export const completeTutorial: RouteHandler<typeof routes.completeTutorial, AppEnv> = async (c) => {
	const user = await complete(c.var.db, c.var.auth.userId);
	if (!user) throw new ApiError(401, NO_SUCH_USER);
	return c.json(toIldUser(user), 200);
};

export const joinCommunity: RouteHandler<typeof routes.joinCommunity, AppEnv> = async (c) => {
	const { communityId } = c.req.valid("param");
	const user = isId(communityId) ? await join(c.var.db, c.var.auth.userId, Number(communityId)) : null;
	if (!user) throw new ApiError(404, "Community not found");
	return c.json(toIldUser(user), 200);
};

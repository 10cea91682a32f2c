import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors.ts";
import { evaluatePreconditions } from "../../lib/http-cache.ts";
import { isMultipart } from "../../middleware/json-body.ts";
import { changePassword as changeUserPassword } from "../../services/auth.ts";
import { joinCommunity as join } from "../../services/communities.ts";
import { depsOf } from "../../services/deps.ts";
import { findImage, imageTypeOf, MAX_IMAGE_BYTES, type NewImage } from "../../services/profile-images.ts";
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

/** Checks an uploaded image (size, then its first bytes) and returns it with its type; the file is never copied. */
async function acceptImage(file: File): Promise<NewImage> {
	if (file.size > MAX_IMAGE_BYTES) throw new ApiError(413, "Profile image must be at most 5 MiB");
	if (file.size === 0)
		throw new ApiError(400, "Profile image is empty", {
			issues: [{ path: "profileImage", message: "Profile image is empty" }],
		});
	const type = await imageTypeOf(file);
	if (!type) throw new ApiError(415, "Profile image must be a JPEG, PNG, WebP or GIF image");
	return { body: file, type };
}

export const updateProfile: RouteHandler<typeof routes.updateProfile, AppEnv> = async (c) => {
	// Only the multipart schema has the file; the JSON one has the text fields alone.
	const input: ProfileChanges & { profileImage?: File } = isMultipart(c.req.header("Content-Type"))
		? c.req.valid("form")
		: c.req.valid("json");
	const { profileImage, ...changes } = input;
	if (!profileImage && Object.keys(changes).length === 0) {
		throw new ApiError(400, "Nothing to update: give firstName, lastName, username or profileImage");
	}
	const image = profileImage ? await acceptImage(profileImage) : undefined;
	const user = await update(depsOf(c), c.var.auth.userId, changes, image);
	if (!user) throw new ApiError(401, NO_SUCH_USER);
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
	const object = await findImage(depsOf(c), key);
	if (!object) throw new ApiError(404, "Image not found");
	const headers = new Headers();
	object.writeHttpMetadata(headers);
	for (const [name, value] of headers) c.header(name, value);
	c.header("ETag", object.httpEtag);
	c.header("Cache-Control", "private, max-age=31536000, immutable");
	c.header("Content-Disposition", "inline");
	c.header("X-Content-Type-Options", "nosniff");
	// Conditional headers are parsed here, not handed to R2: a malformed one is ignored, never a 500.
	const outcome = evaluatePreconditions(
		{ ifMatch: c.req.header("If-Match"), ifNoneMatch: c.req.header("If-None-Match") },
		object.httpEtag,
	);
	if (outcome !== 200) await object.body.cancel(); // the bytes fetched along are not sent
	if (outcome === 412) throw new ApiError(412, "The image does not match If-Match");
	if (outcome === 304) return c.body(null, 304);
	c.header("Content-Length", String(object.size));
	return c.body(object.body, 200);
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

import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import { parseId } from "../../../lib/validation.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import { isMultipart } from "../../../middleware/body-parsers.ts";
import { changePassword as changeUserPassword } from "../../../services/auth.ts";
import { joinCommunity as join } from "../../../services/communities.ts";
import { findImage, imageTypeOf, MAX_IMAGE_BYTES, type NewImage } from "../../../services/profile-images.ts";
import {
	completeTutorial as complete,
	publicProfile as findPublicProfile,
	findUserById,
	type ProfileChanges,
	updateProfile as update,
} from "../../../services/users.ts";
import type { AppEnv } from "../../../types.ts";
import { evaluatePreconditions } from "../../shared/http-cache.ts";
import { ILD } from "../messages.ts";
import { toIldUser } from "../presenters.ts";
import type * as routes from "./user.routes.ts";

// A valid token whose user is gone is no credential.
const NO_SUCH_USER = ILD.invalidOrExpiredToken;

export const ownProfile: RouteHandler<typeof routes.ownProfile, AuthEnv> = async (c) => {
	const user = await findUserById(c.get("deps"), c.get("auth").userId);
	if (!user) throw new ApiError(401, NO_SUCH_USER);
	return c.json(toIldUser(user), 200);
};

export const changePassword: RouteHandler<typeof routes.changePassword, AuthEnv> = async (c) => {
	const changed = await changeUserPassword(c.get("deps"), c.get("auth"), c.req.valid("json"));
	if (!changed.ok) throw new ApiError(401, NO_SUCH_USER);
	return c.json({ message: ILD.passwordChanged }, 200);
};

/** Checks an uploaded image (size, then its first bytes) and returns it with its type; the file is never copied. */
async function acceptImage(file: File): Promise<NewImage> {
	if (file.size > MAX_IMAGE_BYTES) throw new ApiError(413, ILD.imageTooLarge);
	if (file.size === 0)
		throw new ApiError(400, ILD.imageEmpty, { issues: [{ path: "profileImage", message: ILD.imageEmpty }] });
	const type = await imageTypeOf(file);
	if (!type) throw new ApiError(415, ILD.imageType);
	return { body: file, type };
}

export const updateProfile: RouteHandler<typeof routes.updateProfile, AuthEnv> = async (c) => {
	// Only the multipart schema has the file; the JSON one has the text fields alone.
	const input: ProfileChanges & { profileImage?: File } = isMultipart(c.req.header("Content-Type"))
		? c.req.valid("form")
		: c.req.valid("json");
	const { profileImage, ...changes } = input;
	if (!profileImage && Object.keys(changes).length === 0) {
		throw new ApiError(400, ILD.nothingToUpdateProfile);
	}
	const image = profileImage ? await acceptImage(profileImage) : undefined;
	const user = await update(c.get("deps"), c.get("auth").userId, changes, image);
	if (!user) throw new ApiError(401, NO_SUCH_USER);
	return c.json(toIldUser(user), 200);
};

export const publicProfile: RouteHandler<typeof routes.publicProfile, AppEnv> = async (c) => {
	const { userId } = c.req.valid("param");
	const id = parseId(userId);
	const profile = id === null ? null : await findPublicProfile(c.get("deps"), id);
	if (!profile) throw new ApiError(404, ILD.userNotFound);
	return c.json(profile, 200);
};

export const streamImage: RouteHandler<typeof routes.streamImage, AuthEnv> = async (c) => {
	const { key } = c.req.valid("param");
	const object = await findImage(c.get("deps"), key);
	if (!object) throw new ApiError(404, ILD.imageNotFound);
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
	if (outcome === 412) throw new ApiError(412, ILD.imageIfMatch);
	if (outcome === 304) return c.body(null, 304);
	c.header("Content-Length", String(object.size));
	return c.body(object.body, 200);
};

export const completeTutorial: RouteHandler<typeof routes.completeTutorial, AuthEnv> = async (c) => {
	const user = await complete(c.get("deps"), c.get("auth").userId);
	if (!user) throw new ApiError(401, NO_SUCH_USER);
	return c.json(toIldUser(user), 200);
};

export const joinCommunity: RouteHandler<typeof routes.joinCommunity, AuthEnv> = async (c) => {
	const { communityId } = c.req.valid("param");
	const id = parseId(communityId);
	const user = id === null ? null : await join(c.get("deps"), c.get("auth").userId, id);
	if (!user) throw new ApiError(404, ILD.communityNotFound);
	return c.json(toIldUser(user), 200);
};

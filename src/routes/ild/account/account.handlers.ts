import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError, badRequest } from "../../../lib/errors.ts";
import { iso } from "../../../lib/time.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import { cancelDeletionByLink, requestDeletion as scheduleDeletion } from "../../../services/account-deletion.ts";
import { exportAccount as collectExport } from "../../../services/account-export.ts";
import {
	confirmEmailChange as confirmChange,
	requestEmailChange as requestChange,
	undoEmailChange as undoChange,
} from "../../../services/email-change.ts";
import type { AppEnv } from "../../../types.ts";
import { ILD } from "../messages.ts";
import { toIldUser } from "../presenters.ts";
import type * as routes from "./account.routes.ts";
import { toAccountExport } from "./presenters.ts";

// A valid token whose user is gone is no credential.
const NO_SUCH_USER = ILD.invalidOrExpiredToken;

export const requestEmailChange: RouteHandler<typeof routes.requestEmailChange, AuthEnv> = async (c) => {
	const result = await requestChange(c.get("deps"), c.get("auth"), c.req.valid("json"));
	if (result.ok) return c.json({ pendingEmail: result.pendingEmail }, 202);
	if (result.reason === "no-user") throw new ApiError(401, NO_SUCH_USER);
	if (result.reason === "wrong-password")
		throw badRequest(ILD.currentPasswordIncorrect, [
			{ path: "currentPassword", message: ILD.currentPasswordIncorrect },
		]);
	throw badRequest(ILD.emailUnchanged, [{ path: "newEmail", message: ILD.emailUnchanged }]);
};

export const confirmEmailChange: RouteHandler<typeof routes.confirmEmailChange, AppEnv> = async (c) => {
	const result = await confirmChange(c.get("deps"), c.req.valid("json").token);
	if (result.ok) return c.json(toIldUser(result.user), 200);
	if (result.reason === "taken") throw new ApiError(409, ILD.emailTaken);
	throw new ApiError(400, ILD.invalidOrExpiredToken);
};

export const undoEmailChange: RouteHandler<typeof routes.undoEmailChange, AppEnv> = async (c) => {
	if (!(await undoChange(c.get("deps"), c.req.valid("json").token))) throw new ApiError(400, ILD.invalidOrExpiredToken);
	return c.json({ message: ILD.emailChangeUndone }, 200);
};

const attachmentName = (userId: number, now: number) =>
	`attachment; filename="account-${userId}-${iso(now).slice(0, 10)}.json"`;

export const exportAccount: RouteHandler<typeof routes.exportAccount, AuthEnv> = async (c) => {
	const now = Date.now();
	const data = await collectExport(c.get("deps"), c.get("auth").userId, now);
	if (!data) throw new ApiError(401, NO_SUCH_USER);
	c.header("Content-Disposition", attachmentName(data.user.id, now));
	return c.json(toAccountExport(data, { viewerId: c.get("auth").userId }, now), 200);
};

export const exportUser: RouteHandler<typeof routes.exportUser, AuthEnv> = async (c) => {
	const now = Date.now();
	const data = await collectExport(c.get("deps"), Number(c.req.valid("param").userId), now);
	if (!data) throw new ApiError(404, ILD.userNotFound);
	c.header("Content-Disposition", attachmentName(data.user.id, now));
	return c.json(toAccountExport(data, { admin: true }, now), 200);
};

export const requestDeletion: RouteHandler<typeof routes.requestDeletion, AuthEnv> = async (c) => {
	const result = await scheduleDeletion(c.get("deps"), c.get("auth"), c.req.valid("json").password);
	if (result.ok) return c.json({ deletionScheduledFor: iso(result.scheduledFor) }, 202);
	if (result.reason === "no-user") throw new ApiError(401, NO_SUCH_USER);
	throw badRequest(ILD.passwordIncorrect, [{ path: "password", message: ILD.passwordIncorrect }]);
};

export const cancelDeletion: RouteHandler<typeof routes.cancelDeletion, AppEnv> = async (c) => {
	if (!(await cancelDeletionByLink(c.get("deps"), c.req.valid("json").token)))
		throw new ApiError(400, ILD.invalidOrExpiredToken);
	return c.json({ message: ILD.deletionCancelled }, 200);
};

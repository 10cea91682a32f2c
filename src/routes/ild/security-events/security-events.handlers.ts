import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../../lib/errors.ts";
import { parseIsoUtc } from "../../../lib/time.ts";
import type { AuthEnv } from "../../../middleware/auth.ts";
import {
	listSecurityEvents,
	listUserSecurityEvents,
	type SecurityEventPage,
} from "../../../services/security-events.ts";
import { ILD } from "../messages.ts";
import { encodeCursor, paging } from "./paging.ts";
import { toIldSecurityEvent, toOwnSecurityEvent } from "./presenters.ts";
import type * as routes from "./security-events.routes.ts";

/** A page on the wire: the events in the ILD shape, the next page's cursor minted from the last event's id. */
function toWire(page: SecurityEventPage, viewerId?: number) {
	return {
		events: page.events.map((e) => (viewerId === undefined ? toIldSecurityEvent(e) : toOwnSecurityEvent(e, viewerId))),
		nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
	};
}

export const listOwn: RouteHandler<typeof routes.listOwn, AuthEnv> = async (c) => {
	const page = await listUserSecurityEvents(c.get("deps"), c.get("auth").userId, paging(c.req.valid("query")));
	// A valid token whose user is gone is no credential.
	if (!page) throw new ApiError(401, ILD.invalidOrExpiredToken);
	return c.json(toWire(page, c.get("auth").userId), 200);
};

export const listForUser: RouteHandler<typeof routes.listForUser, AuthEnv> = async (c) => {
	const query = c.req.valid("query");
	const page = await listUserSecurityEvents(c.get("deps"), Number(c.req.valid("param").userId), {
		...paging(query),
		type: query.type,
	});
	if (!page) throw new ApiError(404, ILD.userNotFound);
	return c.json(toWire(page), 200);
};

export const listAll: RouteHandler<typeof routes.listAll, AuthEnv> = async (c) => {
	const query = c.req.valid("query");
	const page = await listSecurityEvents(c.get("deps"), {
		...paging(query),
		type: query.type,
		since: query.since === undefined ? undefined : (parseIsoUtc(query.since) ?? undefined),
		until: query.until === undefined ? undefined : (parseIsoUtc(query.until) ?? undefined),
	});
	return c.json(toWire(page), 200);
};

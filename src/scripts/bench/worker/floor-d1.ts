/**
 * Floor Worker: one D1 primary-key read of a user row per request (`?id=`), on the app's database; counted by
 * instrument.ts like the app, so its 1.00 round trip per request also checks the counter.
 *
 * With `&session=<id>` (an information floor, no target): the same read folded behind the app's own session check
 * (services/session-guard.ts) into one statement, exactly as db/guarded-d1.ts folds a Bearer request's first read —
 * still one round trip. What separates it from the bare read is the cost of the check the contract requires
 * ("revoked means revoked" on the primary).
 */
import { foldedRead } from "../../../db/guarded-d1.ts";
import { sessionGuard } from "../../../services/session-guard.ts";
import { instrument } from "./instrument.ts";

const READ = "SELECT * FROM users WHERE id = ?";
const FOLDED = foldedRead(sessionGuard("", 0), READ, 1) as string;

export default {
	fetch: instrument(async (request, env: { DB: D1Database }) => {
		const params = new URL(request.url).searchParams;
		const id = Number(params.get("id"));
		const session = params.get("session");
		let found: unknown;
		if (session === null) found = (await env.DB.prepare(READ).bind(id).first())?.id;
		else {
			const guard = sessionGuard(session, id);
			const rows = await env.DB.prepare(FOLDED)
				.bind(...guard.params, id)
				.raw<unknown[]>()
				.catch(() => null);
			if (rows === null) return Response.json({ error: "Unauthorized" }, { status: 401 });
			// [guard, hit, ...the read's columns]: a null hit is the read finding nothing.
			found = rows[0]?.[1] === null ? undefined : rows[0]?.[2];
		}
		return found !== undefined ? Response.json({ id: found }) : Response.json({ error: "Not Found" }, { status: 404 });
	}),
} satisfies ExportedHandler<{ DB: D1Database }>;

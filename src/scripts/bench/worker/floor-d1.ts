/**
 * Floor Worker: one D1 primary-key read of a user row per request (`?id=`), on the app's database; counted by
 * instrument.ts like the app, so its 1.00 round trip per request also checks the counter.
 *
 * With `&session=<id>` (an information floor, no target): the same read in one batch behind the app's own session
 * check (services/session-guard.ts), as every Bearer read of the app runs — still one round trip. What separates it
 * from the bare read is the cost of the check the contract requires ("revoked means revoked" on the primary).
 */
import { sessionGuard } from "../../../services/session-guard.ts";
import { instrument } from "./instrument.ts";

const READ = "SELECT * FROM users WHERE id = ?";

export default {
	fetch: instrument(async (request, env: { DB: D1Database }) => {
		const params = new URL(request.url).searchParams;
		const id = Number(params.get("id"));
		const session = params.get("session");
		let row: Record<string, unknown> | null;
		if (session === null) row = await env.DB.prepare(READ).bind(id).first();
		else {
			const guard = sessionGuard(session, id);
			const statements = [env.DB.prepare(guard.sql).bind(...guard.params), env.DB.prepare(READ).bind(id)];
			const results = await env.DB.batch<Record<string, unknown>>(statements).catch(() => null);
			if (results === null) return Response.json({ error: "Unauthorized" }, { status: 401 });
			row = results[1]?.results[0] ?? null;
		}
		return row ? Response.json({ id: row.id }) : Response.json({ error: "Not Found" }, { status: 404 });
	}),
} satisfies ExportedHandler<{ DB: D1Database }>;

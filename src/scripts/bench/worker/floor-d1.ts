/**
 * Floor Worker: one D1 primary-key read of a user row per request (`?id=`), on the app's database; counted by
 * instrument.ts like the app, so its 1.00 round trip per request also checks the counter.
 */
import { instrument } from "./instrument.ts";

export default {
	fetch: instrument(async (request, env: { DB: D1Database }) => {
		const id = Number(new URL(request.url).searchParams.get("id"));
		const row = await env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first();
		return row ? Response.json({ id: row.id }) : Response.json({ error: "Not Found" }, { status: 404 });
	}),
} satisfies ExportedHandler<{ DB: D1Database }>;

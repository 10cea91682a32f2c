import { createApp } from "./app.ts";
import { createDb } from "./db/client.ts";
import { purgeExpiredRows, purgeOrphanImages } from "./services/cleanup.ts";

export { RateLimiter } from "./durable-objects/rate-limiter.ts";

const app = createApp();

export default {
	fetch: app.fetch,
	// Daily housekeeping (wrangler.toml [triggers]).
	async scheduled(_controller, env, ctx) {
		const db = createDb(env.DB);
		ctx.waitUntil(
			Promise.all([purgeExpiredRows(db), purgeOrphanImages(db, env.PROFILE_IMAGES)]).then(([rows, images]) =>
				console.log(JSON.stringify({ level: "info", cleanup: { ...rows, orphanImages: images } })),
			),
		);
	},
} satisfies ExportedHandler<Env>;

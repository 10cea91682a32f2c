import { createApp } from "./app.ts";
import { getConfig } from "./config.ts";
import { createDb } from "./db/client.ts";
import { describeError } from "./lib/log.ts";
import { deleteDueAccounts } from "./services/account-deletion.ts";
import { archiveAndPurgeEvents } from "./services/audit-archive.ts";
import { purgeDueImages, purgeExpiredRows } from "./services/cleanup.ts";
import { NO_REQUEST } from "./services/deps.ts";

export { RateLimiter } from "./durable-objects/rate-limiter.ts";

const app = createApp();

export default {
	fetch: app.fetch,
	// Daily housekeeping (wrangler.toml [triggers]). The jobs are independent: one failing must not stop the
	// others, and a failure is logged like a request's (no bound parameters), then rethrown so the run shows as failed.
	async scheduled(_controller, env, ctx) {
		const db = createDb(env.DB);
		// Inside the job, so an invalid AUDIT_RETENTION_DAYS fails the archive alone.
		const archive = async () => archiveAndPurgeEvents({ db, env, config: getConfig(env) });
		// Accounts whose deletion grace ended, and what deleted accounts left in R2, KV and the limiter (re-run safe).
		const accounts = () => deleteDueAccounts({ db, env, request: NO_REQUEST });
		ctx.waitUntil(
			Promise.allSettled([purgeExpiredRows({ db }), purgeDueImages({ db, env }), archive(), accounts()]).then(
				([rows, images, audit, deleted]) => {
					const all = [rows, images, audit, deleted];
					if (
						rows.status === "fulfilled" &&
						images.status === "fulfilled" &&
						audit.status === "fulfilled" &&
						deleted.status === "fulfilled"
					) {
						console.log(
							JSON.stringify({
								level: "info",
								cleanup: {
									...rows.value,
									images: images.value,
									securityEvents: audit.value,
									deletedAccounts: deleted.value,
								},
							}),
						);
						return;
					}
					const reasons = all.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
					for (const reason of reasons)
						console.error(JSON.stringify({ level: "error", cleanup: "failed", error: describeError(reason) }));
					throw reasons[0];
				},
			),
		);
	},
} satisfies ExportedHandler<Env>;

import { createApp } from "./app.ts";

export { RateLimiter } from "./durable-objects/rate-limiter.ts";

const app = createApp();

export default {
	fetch: app.fetch,
} satisfies ExportedHandler<Env>;

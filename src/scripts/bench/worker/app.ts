/**
 * The bench's build of the real Worker (src/index.ts): the same app and Durable Object, with its D1 and
 * rate-limiter bindings counted (and delayed in --far mode) by instrument.ts.
 */
import worker from "../../../index.ts";
import { instrument } from "./instrument.ts";

export { RateLimiter } from "../../../index.ts";

export default {
	...worker,
	fetch: instrument((request, env: Env, ctx) => worker.fetch(request, env, ctx)),
} satisfies ExportedHandler<Env>;

/**
 * What the deployed bundle gets for zod's `locales` (wrangler.toml `[alias]`): English only. zod's own default
 * locale is imported by zod itself from "../locales/en.js" (not aliased), so every message stays as it is; this
 * only drops the namespace `z.locales` of translations that @hono/zod-openapi's `z` would otherwise carry whole.
 */
export { default as en } from "zod/v4/locales/en.js";

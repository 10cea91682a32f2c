import { fileURLToPath } from "node:url";

/** The static assets' directory on disk (wrangler.toml `[assets] directory`), where the generators write. */
export const ASSETS_DIR = fileURLToPath(new URL("../../assets", import.meta.url).href);

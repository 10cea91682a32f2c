/**
 * Writes each hosted page's HTML from src/routes/pages/templates.ts to `assets/pages/<name>.html`, the files the
 * Worker serves from its static assets:
 *
 *   npm run build:pages
 *
 * The pages share their layout and fragments, so they are written from one source rather than edited seven times;
 * the output is committed (a fresh clone runs and deploys with no build step) and test/node/hosted-pages.test.ts
 * fails when it differs from what this script would write.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PAGE_NAMES, pageFile } from "../routes/pages/assets.ts";
import { PAGES } from "../routes/pages/templates.ts";
import { ASSETS_DIR } from "./assets-dir.ts";

/** Each page's file under the assets directory, and its HTML. */
export function renderPages(): { file: string; html: string }[] {
	return PAGE_NAMES.map((name) => {
		const html = PAGES.get(name);
		if (html === undefined) throw new Error(`templates.ts has no page "${name}"`);
		return { file: `${ASSETS_DIR}${pageFile(name)}`, html };
	});
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	for (const { file, html } of renderPages()) {
		writeFileSync(file, html);
		console.log(`wrote ${file}`);
	}
}

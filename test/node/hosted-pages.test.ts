import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PAGE_NAMES } from "../../src/routes/pages/assets.ts";
import { PAGES } from "../../src/routes/pages/templates.ts";
import { ASSETS_DIR } from "../../src/scripts/assets-dir.ts";
import { renderPages } from "../../src/scripts/hosted-pages.ts";

// Runs in Node: the pages the Worker serves are files in assets/, written from templates.ts by `npm run build:pages`.
// A template edited without running it (or a file edited by hand) would ship something nobody reviewed.
describe("assets/pages/*.html", () => {
	it("are exactly what npm run build:pages writes from templates.ts", () => {
		for (const { file, html } of renderPages()) expect(readFileSync(file, "utf8"), file).toBe(html);
	});

	it("are one per page the Worker serves, and templates.ts has no page it does not", () => {
		expect([...PAGES.keys()].sort()).toEqual([...PAGE_NAMES].sort());
		const files = readdirSync(`${ASSETS_DIR}/pages`).filter((f) => f.endsWith(".html"));
		expect(files.sort()).toEqual(PAGE_NAMES.map((name) => `${name}.html`).sort());
	});
});

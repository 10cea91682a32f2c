/**
 * Where the hosted pages and their files live. The files themselves are in `assets/` (wrangler.toml `[assets]`),
 * uploaded beside the Worker rather than inside its bundle, and read through the ASSETS binding
 * (src/lib/static-assets.ts): `assets/pages/app.js`, `app.css` and `icon.svg` are edited as they are; each page's
 * HTML is written from ./templates.ts by `npm run build:pages` (test/node/hosted-pages.test.ts holds them equal).
 */
export const PAGE_SCRIPT_PATH = "/pages/app.js";
export const PAGE_STYLE_PATH = "/pages/app.css";
export const PAGE_ICON_PATH = "/pages/icon.svg";

/** Every hosted page: served at `/<name>`, its HTML at `assets/pages/<name>.html`. */
export const PAGE_NAMES = [
	"verify-email",
	"reset-password",
	"not-me",
	"confirm-email",
	"undo-email-change",
	"cancel-deletion",
	"sign-in",
] as const;

export type PageName = (typeof PAGE_NAMES)[number];

/** A page's path (mailed links: `<DASHBOARD_URL's origin><path>?token=…`). */
export const pagePath = (name: PageName) => `/${name}`;

/** A page's file in the assets. */
export const pageFile = (name: PageName) => `/pages/${name}.html`;

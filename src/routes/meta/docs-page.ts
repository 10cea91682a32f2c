/**
 * The documentation page: `assets/docs.html`, a self-contained page that fetches /openapi.json and renders every
 * operation — its parameters, request bodies and response schemas (component `$ref`s resolved, nested objects and
 * arrays expanded), then the component schemas themselves. No third-party scripts, styles or fonts, so it works
 * offline and under the strict CSP below (inline script and style only, nothing else loaded but /openapi.json).
 * test/node/docs-page.test.ts runs its script against the real document.
 */
export const DOCS_FILE = "/docs.html";

export const DOCS_CSP =
	"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";

/**
 * A self-contained documentation page: it fetches /openapi.json and renders every operation
 * (no third-party scripts, so it works offline and under a strict CSP).
 */
export const DOCS_CSP =
	"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API documentation</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2430;background:#f7f8fa}
header{background:#1d2430;color:#fff;padding:1rem 2rem}header a{color:#9cc3ff}
main{max-width:1100px;margin:0 auto;padding:1rem 2rem}
h2{border-bottom:1px solid #d8dde6;padding-bottom:.3rem;margin-top:2rem}
details{background:#fff;border:1px solid #d8dde6;border-radius:6px;margin:.5rem 0}
summary{cursor:pointer;padding:.5rem .8rem;display:flex;gap:.8rem;align-items:baseline}
.m{font:600 12px monospace;padding:.15rem .5rem;border-radius:4px;color:#fff;min-width:4.5em;text-align:center}
.get{background:#2f7d32}.post{background:#1565c0}.put{background:#8a5a00}.patch{background:#6a1b9a}.delete{background:#b71c1c}
.p{font-family:monospace}.s{color:#5a6475}.body{padding:0 1rem 1rem}pre{background:#f0f2f5;padding:.6rem;overflow:auto;font-size:12px}
table{border-collapse:collapse}td,th{border:1px solid #d8dde6;padding:.2rem .5rem;text-align:left;vertical-align:top}
</style>
</head>
<body>
<header><strong id="title">API</strong> <span id="version"></span> · <a href="/openapi.json">openapi.json</a></header>
<main id="root"><p>Loading…</p></main>
<script>
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"})[c]);
function resolve(doc, schema) {
  if (schema && schema.$ref) return doc.components.schemas[schema.$ref.split("/").pop()];
  return schema;
}
function render(doc) {
  document.getElementById("title").textContent = doc.info.title;
  document.getElementById("version").textContent = doc.info.version;
  const byTag = {};
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      for (const tag of op.tags || ["Other"]) (byTag[tag] ||= []).push({ path, method, op });
    }
  }
  let html = "<p>" + esc(doc.info.description) + "</p>";
  for (const [tag, ops] of Object.entries(byTag)) {
    html += "<h2>" + esc(tag) + "</h2>";
    for (const { path, method, op } of ops) {
      const security = (op.security || []).map((s) => Object.keys(s).join("+")).join(" or ") || "none";
      html += '<details><summary><span class="m ' + method + '">' + method.toUpperCase() + '</span><span class="p">' + esc(path) +
        '</span><span class="s">' + esc(op.summary) + "</span></summary><div class=body>";
      if (op.description) html += "<p>" + esc(op.description) + "</p>";
      const roles = op["x-roles"] ? " · <b>roles</b> " + esc(op["x-roles"].join(", ")) + (op["x-self"] ? " (or the user in {" + esc(op["x-self"]) + "})" : "") : "";
      html += "<p><b>operationId</b> " + esc(op.operationId) + " · <b>auth</b> " + esc(security) + roles + "</p>";
      if (op.parameters && op.parameters.length) {
        html += "<table><tr><th>parameter</th><th>in</th><th>required</th></tr>";
        for (const p of op.parameters) html += "<tr><td>" + esc(p.name) + "</td><td>" + esc(p.in) + "</td><td>" + (p.required ? "yes" : "no") + "</td></tr>";
        html += "</table>";
      }
      const body = op.requestBody && op.requestBody.content;
      if (body) for (const [type, media] of Object.entries(body)) html += "<p><b>body</b> " + esc(type) + "</p><pre>" + esc(JSON.stringify(resolve(doc, media.schema), null, 2)) + "</pre>";
      html += "<table><tr><th>status</th><th>meaning</th></tr>";
      for (const [status, r] of Object.entries(op.responses || {})) html += "<tr><td>" + esc(status) + "</td><td>" + esc(r.description) + "</td></tr>";
      html += "</table></div></details>";
    }
  }
  document.getElementById("root").innerHTML = html;
}
fetch("/openapi.json").then((r) => r.json()).then(render).catch((e) => {
  document.getElementById("root").textContent = "Could not load /openapi.json: " + e;
});
</script>
</body>
</html>
`;

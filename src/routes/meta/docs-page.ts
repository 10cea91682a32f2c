/**
 * A self-contained documentation page: it fetches /openapi.json and renders every operation — its parameters,
 * request bodies and response schemas (component `$ref`s resolved, nested objects and arrays expanded), then the
 * component schemas themselves. No third-party scripts, styles or fonts, so it works offline and under the strict
 * CSP below (inline script and style only, nothing else loaded but /openapi.json).
 *
 * The script is plain JavaScript (no backslashes, backticks or template placeholders, since it lives in a
 * template literal); test/node/docs-page.test.ts runs it against the real document.
 */
export const DOCS_CSP =
	"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";

/** Indentation of nested schema fields, one class per depth (the script caps the depth at 12). */
const DEPTH_CSS = Array.from({ length: 13 }, (_, d) => `.f td.d${d}{padding-left:${0.5 + d * 1.4}em}`).join("");

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
nav{display:flex;flex-wrap:wrap;gap:.2rem .9rem}
h2{border-bottom:1px solid #d8dde6;padding-bottom:.3rem;margin-top:2rem}
h4{margin:1rem 0 .3rem}
details{background:#fff;border:1px solid #d8dde6;border-radius:6px;margin:.5rem 0}
summary{cursor:pointer;padding:.5rem .8rem;display:flex;gap:.8rem;align-items:baseline}
details details{margin:.4rem 0;background:#fbfcfd}details details summary{padding:.3rem .6rem}
.m{font:600 12px monospace;padding:.15rem .5rem;border-radius:4px;color:#fff;min-width:4.5em;text-align:center}
.get{background:#2f7d32}.post{background:#1565c0}.put{background:#8a5a00}.patch{background:#6a1b9a}.delete{background:#b71c1c}
.st{font:600 12px monospace;padding:.1rem .4rem;border-radius:4px;background:#e3e7ee}
.st2{background:#d7eed8}.st3{background:#e3ecfa}.st4{background:#fbe9d0}.st5{background:#f8d7d7}
.p{font-family:monospace}.s{color:#5a6475}.body{padding:0 1rem 1rem}.inner{padding:0 .8rem .6rem}
pre{background:#f0f2f5;padding:.6rem;overflow:auto;font-size:12px}
table{border-collapse:collapse;margin:.3rem 0;background:#fff}
td,th{border:1px solid #d8dde6;padding:.2rem .5rem;text-align:left;vertical-align:top}
.f{width:100%}.f td:first-child{white-space:nowrap}
.req{font-size:11px;color:#b71c1c;margin-left:.4rem}.nl{font-size:11px;color:#5a6475;margin-left:.4rem}
${DEPTH_CSS}
</style>
</head>
<body>
<header><strong id="title">API</strong> <span id="version"></span> · <a href="/openapi.json">openapi.json</a></header>
<main id="root"><p>Loading…</p></main>
<script>
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"})[c]);
const code = (v) => "<code>" + esc(typeof v === "string" ? v : JSON.stringify(v)) + "</code>";
const SCHEMAS = "#/components/schemas/";
const MAX_DEPTH = 12;
const slug = (s) => String(s).replace(/[^A-Za-z0-9_-]+/g, "-");
const schemaLink = (name) => '<a href="#schema-' + esc(slug(name)) + '">' + esc(name) + "</a>";

// A local JSON pointer ("#/components/schemas/User") into the document.
function pointer(doc, ref) {
  if (typeof ref !== "string" || ref.indexOf("#/") !== 0) return undefined;
  let node = doc;
  for (const part of ref.slice(2).split("/")) {
    if (node == null) return undefined;
    node = node[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return node;
}
// Follows $refs (of parameters, bodies, responses, headers and schemas) to the object they name.
function deref(doc, node) {
  let n = node, hops = 0;
  while (n && n.$ref && hops++ < 32) n = pointer(doc, n.$ref);
  return n || {};
}

// A schema, understood: the component it names (if any), its resolved body, its types and nullability.
// "anyOf/oneOf [X, null]" and "type: [X, null]" both read as a nullable X; allOf is merged.
function understand(doc, schema) {
  let name = null, s = schema || {}, nullable = false, hops = 0;
  for (;;) {
    if (s.$ref && hops++ < 32) {
      if (!name && s.$ref.indexOf(SCHEMAS) === 0) name = s.$ref.slice(SCHEMAS.length);
      s = pointer(doc, s.$ref) || {};
      continue;
    }
    const union = s.anyOf || s.oneOf;
    if (union) {
      const rest = union.filter((v) => !(v && v.type === "null"));
      if (rest.length < union.length) nullable = true;
      if (rest.length === 1 && union.length > 1) {
        const about = s.description ? { description: s.description } : {};
        s = rest[0].$ref ? Object.assign({ allOf: [rest[0]] }, about) : Object.assign({}, rest[0], about);
        continue;
      }
    }
    break;
  }
  if (s.allOf) {
    const merged = Object.assign({}, s, { properties: {}, required: [] });
    delete merged.allOf;
    for (const part of s.allOf) {
      const p = understand(doc, part);
      if (!name && s.allOf.length === 1) name = p.name;
      Object.assign(merged.properties, p.s.properties || {});
      merged.required = merged.required.concat(p.s.required || []);
      for (const [key, value] of Object.entries(p.s)) if (merged[key] === undefined) merged[key] = value;
      if (p.nullable) nullable = true;
    }
    if (!Object.keys(merged.properties).length) delete merged.properties;
    s = merged;
  }
  let types = Array.isArray(s.type) ? s.type.slice() : s.type ? [s.type] : [];
  if (types.indexOf("null") >= 0) { nullable = true; types = types.filter((t) => t !== "null"); }
  if (s.nullable === true) nullable = true;
  if (!types.length && s.properties) types = ["object"];
  const variants = (s.anyOf || s.oneOf || []).filter((v) => !(v && v.type === "null"));
  return { name, s, types, nullable, variants };
}

function typeLabel(doc, schema, depth) {
  const x = understand(doc, schema);
  const s = x.s;
  let label;
  if (x.variants.length) label = "one of: " + x.variants.map((v) => typeLabel(doc, v, (depth || 0) + 1)).join(" | ");
  else if (x.types.indexOf("array") >= 0) label = "array of " + (s.items ? typeLabel(doc, s.items, (depth || 0) + 1) : "anything");
  else if (s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties)
    label = "object (map of " + typeLabel(doc, s.additionalProperties, (depth || 0) + 1) + ")";
  else if (x.types.length) label = esc(x.types.join(" | "));
  else if (s.const !== undefined) label = "constant";
  else label = "any";
  if (s.format) label += " (" + esc(s.format) + ")";
  if (s.enum) label += " enum";
  if (x.name) label = schemaLink(x.name) + " <span class=s>" + label + "</span>";
  if (x.nullable) label += '<span class="nl">nullable</span>';
  return label;
}

// Description, allowed values, bounds, defaults and examples of one schema (and of its array items).
function facts(doc, schema, own) {
  const x = understand(doc, schema);
  const s = x.s, out = [];
  const describe = (own && own.description) || (schema && schema.description) || s.description;
  if (describe) out.push(esc(describe));
  if (s.enum) out.push("one of " + s.enum.map(code).join(", "));
  if (s.const !== undefined) out.push("always " + code(s.const));
  const bounds = [["minLength", "min length"], ["maxLength", "max length"], ["minimum", "minimum"], ["maximum", "maximum"],
    ["exclusiveMinimum", "greater than"], ["exclusiveMaximum", "less than"], ["minItems", "min items"], ["maxItems", "max items"],
    ["minProperties", "min properties"], ["maxProperties", "max properties"], ["multipleOf", "multiple of"]];
  for (const [key, text] of bounds) if (s[key] !== undefined && typeof s[key] !== "boolean") out.push(text + " " + code(s[key]));
  if (s.pattern) out.push("pattern " + code(s.pattern));
  if (s.uniqueItems) out.push("unique items");
  if (s.readOnly) out.push("read-only");
  if (s.writeOnly) out.push("write-only");
  if (s.deprecated || (own && own.deprecated)) out.push("<b>deprecated</b>");
  if (s.default !== undefined) out.push("default " + code(s.default));
  if (x.types.indexOf("array") >= 0 && s.items) {
    const items = understand(doc, s.items).s;
    if (items.enum) out.push("items one of " + items.enum.map(code).join(", "));
    if (items.pattern) out.push("items pattern " + code(items.pattern));
  }
  const example = own && own.example !== undefined ? [own.example] : s.example !== undefined ? [s.example] : s.examples;
  if (Array.isArray(example) && example.length) out.push("example" + (example.length > 1 ? "s " : " ") + example.map(code).join(", "));
  return out.join("; ");
}

// The fields inside a schema, one table row each, nested ones indented under their parent.
function fieldRows(doc, schema, depth, stack) {
  const x = understand(doc, schema);
  if (depth > MAX_DEPTH) return "";
  if (x.name && stack.indexOf(x.name) >= 0) return "";
  const st = x.name ? stack.concat(x.name) : stack;
  const s = x.s;
  const row = (field, required, sub, own) => {
    const y = understand(doc, sub);
    const recursive = y.name && st.indexOf(y.name) >= 0;
    return "<tr><td class=d" + Math.min(depth, MAX_DEPTH) + ">" + field + (required ? '<span class="req">required</span>' : "") +
      "</td><td>" + typeLabel(doc, sub) + "</td><td>" + facts(doc, sub, own) + (recursive ? " (recursive: see " + schemaLink(y.name) + ")" : "") +
      "</td></tr>" + (recursive ? "" : fieldRows(doc, sub, depth + 1, st));
  };
  let html = "";
  if (x.variants.length) {
    x.variants.forEach((v, i) => { html += row("<i>option " + (i + 1) + "</i>", false, v); });
    return html;
  }
  if (x.types.indexOf("array") >= 0 && s.items) {
    const items = understand(doc, s.items);
    if (items.s.properties || items.variants.length || items.types.indexOf("array") >= 0) return row("<i>[ item ]</i>", false, s.items);
    return "";
  }
  const required = s.required || [];
  for (const [name, prop] of Object.entries(s.properties || {})) html += row("<code>" + esc(name) + "</code>", required.indexOf(name) >= 0, prop);
  if (s.additionalProperties && typeof s.additionalProperties === "object")
    html += row("<i>{ any key }</i>", false, s.additionalProperties);
  return html;
}

function schemaBlock(doc, schema, media) {
  const rows = fieldRows(doc, schema, 0, []);
  let html = "<p>" + typeLabel(doc, schema);
  const about = facts(doc, schema);
  if (about) html += " — " + about;
  html += "</p>";
  if (rows) html += '<table class="f"><tr><th>field</th><th>type</th><th>description</th></tr>' + rows + "</table>";
  const examples = [];
  if (media && media.example !== undefined) examples.push(media.example);
  for (const e of Object.values((media && media.examples) || {})) if (deref(doc, e).value !== undefined) examples.push(deref(doc, e).value);
  for (const e of examples) html += "<p class=s>Example</p><pre>" + esc(JSON.stringify(e, null, 2)) + "</pre>";
  return html;
}

function contentBlock(doc, content) {
  let html = "";
  for (const [type, media] of Object.entries(content || {})) {
    html += "<p><b>Content type</b> " + code(type) + "</p>";
    html += media && media.schema ? schemaBlock(doc, media.schema, media) : "<p class=s>No schema.</p>";
  }
  return html;
}

function parametersBlock(doc, params) {
  if (!params.length) return "";
  let html = '<h4>Parameters</h4><table class="f"><tr><th>name</th><th>in</th><th>type</th><th>required</th><th>description</th></tr>';
  for (const raw of params) {
    const p = deref(doc, raw);
    const schema = p.schema || (p.content && Object.values(p.content)[0] && Object.values(p.content)[0].schema) || {};
    html += "<tr><td><code>" + esc(p.name) + "</code></td><td>" + esc(p.in) + "</td><td>" + typeLabel(doc, schema) +
      "</td><td>" + (p.required ? "yes" : "no") + "</td><td>" + facts(doc, schema, p) + "</td></tr>";
    const nested = fieldRows(doc, schema, 1, []);
    if (nested) html += "<tr><td colspan=5><table class=f>" + nested + "</table></td></tr>";
  }
  return html + "</table>";
}

function requestBlock(doc, raw) {
  if (!raw) return "";
  const body = deref(doc, raw);
  let html = "<h4>Request body" + (body.required ? '<span class="req">required</span>' : "") + "</h4>";
  if (body.description) html += "<p>" + esc(body.description) + "</p>";
  return html + contentBlock(doc, body.content);
}

function responsesBlock(doc, responses) {
  let html = "<h4>Responses</h4>";
  for (const [status, raw] of Object.entries(responses || {})) {
    const r = deref(doc, raw);
    const open = /^2/.test(status) ? " open" : "";
    html += "<details class=resp" + open + '><summary><span class="st st' + esc(status.charAt(0)) + '">' + esc(status) + "</span><span>" +
      esc(r.description) + "</span></summary><div class=inner>";
    const headers = Object.entries(r.headers || {});
    if (headers.length) {
      html += "<table><tr><th>header</th><th>type</th><th>description</th></tr>";
      for (const [name, h] of headers) {
        const header = deref(doc, h);
        html += "<tr><td><code>" + esc(name) + "</code></td><td>" + typeLabel(doc, header.schema) + "</td><td>" + facts(doc, header.schema, header) + "</td></tr>";
      }
      html += "</table>";
    }
    html += r.content && Object.keys(r.content).length ? contentBlock(doc, r.content) : "<p class=s>No body.</p>";
    html += "</div></details>";
  }
  return html;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

function render(doc) {
  const byTag = {};
  for (const tag of doc.tags || []) byTag[tag.name] = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (METHODS.indexOf(method) < 0) continue;
      for (const tag of op.tags || ["Other"]) (byTag[tag] ||= []).push({ path, method, op, shared: item.parameters || [] });
    }
  }
  const tagInfo = {};
  for (const tag of doc.tags || []) tagInfo[tag.name] = tag;
  const tags = Object.keys(byTag).filter((t) => byTag[t].length);
  let html = "<p>" + esc(doc.info.description) + "</p>";
  html += "<nav>" + tags.map((t) => '<a href="#tag-' + esc(slug(t)) + '">' + esc(t) + "</a>").join("") + '<a href="#schemas">Schemas</a></nav>';
  for (const tag of tags) {
    html += '<h2 id="tag-' + esc(slug(tag)) + '">' + esc(tag) + "</h2>";
    if (tagInfo[tag] && tagInfo[tag].description) html += "<p>" + esc(tagInfo[tag].description) + "</p>";
    for (const { path, method, op, shared } of byTag[tag]) {
      const security = (op.security || []).map((s) => Object.keys(s).join("+")).join(" or ") || "none";
      html += '<details class=op id="op-' + esc(slug(op.operationId || method + path)) + '"><summary><span class="m ' + method + '">' + method.toUpperCase() +
        '</span><span class="p">' + esc(path) + '</span><span class="s">' + esc(op.summary) + "</span></summary><div class=body>";
      if (op.description) html += "<p>" + esc(op.description) + "</p>";
      const roles = op["x-roles"] ? " · <b>roles</b> " + esc(op["x-roles"].join(", ")) + (op["x-self"] ? " (or the user in {" + esc(op["x-self"]) + "})" : "") : "";
      html += "<p><b>operationId</b> " + esc(op.operationId) + " · <b>auth</b> " + esc(security) + roles + "</p>";
      const own = (op.parameters || []).map((p) => deref(doc, p));
      const params = own.concat(shared.map((p) => deref(doc, p)).filter((p) => !own.some((o) => o.name === p.name && o.in === p.in)));
      html += parametersBlock(doc, params);
      html += requestBlock(doc, op.requestBody);
      html += responsesBlock(doc, op.responses);
      html += "</div></details>";
    }
  }
  const schemas = Object.keys((doc.components && doc.components.schemas) || {}).sort();
  if (schemas.length) {
    html += '<h2 id="schemas">Schemas</h2>';
    for (const name of schemas)
      html += '<details class=schema id="schema-' + esc(slug(name)) + '"><summary><span class=p>' + esc(name) + "</span></summary><div class=body>" +
        schemaBlock(doc, { $ref: SCHEMAS + name.replace(/~/g, "~0").replace(/[/]/g, "~1") }) + "</div></details>";
  }
  return html;
}

// A link to a schema or an operation opens the collapsed section it points at.
function openTarget() {
  const id = decodeURIComponent(location.hash.slice(1));
  const target = id && document.getElementById(id);
  if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
}

fetch("/openapi.json").then((r) => r.json()).then((doc) => {
  document.getElementById("title").textContent = doc.info.title;
  document.getElementById("version").textContent = doc.info.version;
  document.getElementById("root").innerHTML = render(doc);
  addEventListener("hashchange", openTarget);
  openTarget();
}).catch((e) => {
  document.getElementById("root").textContent = "Could not load /openapi.json: " + e;
});
</script>
</body>
</html>
`;

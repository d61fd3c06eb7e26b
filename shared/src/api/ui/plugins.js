// Plugins (Kestra's Plugins page): every type Baton runs — tasks, triggers,
// conditions, task runners — by plugin group, with a search box (name,
// alias or title; kept in the address as `q`); a type's page is its
// documentation: title, description, properties (type, required, default,
// dynamic), outputs and example, drawn by the flow editor's documentation
// panel from the same flow schema (GET /plugins/schemas/flow) the editor
// completes from and the validator is described by.

import { h, enc, errorBox, go } from "./app.js";
import { flowSchema, loadStyle } from "./flow-editor.js";

const KINDS = [["task", "Tasks"], ["trigger", "Triggers"], ["condition", "Conditions"], ["taskRunner", "Task runners"]];

/** The names a definition answers to: its full name, then its aliases. */
const namesOf = (name, def) => {
  const t = def.properties && def.properties.type;
  return [name, ...((t && t.enum) || []).filter((n) => n !== name)];
};

export async function render(main, parts, query) {
  const schema = await flowSchema();
  if (!schema || !schema.definitions) {
    main.append(h("h1", {}, "Plugins"), errorBox("the server answered no flow schema (GET /api/v1/plugins/schemas/flow)"));
    return;
  }
  if (parts.length) return typePage(main, schema, parts.join("/"));
  const q = (query.get("q") || "").toLowerCase();
  const search = h("input", { type: "search", name: "q", placeholder: "Search plugins", value: query.get("q") || "",
    onchange: (e) => go(`#/plugins${e.target.value.trim() ? "?q=" + enc(e.target.value.trim()) : ""}`) });
  const groups = new Map();
  let shown = 0;
  for (const [name, def] of Object.entries(schema.definitions)) {
    if (!def.$kind) continue;
    const hay = [...namesOf(name, def), def.title || ""].join(" ").toLowerCase();
    if (q && !hay.includes(q)) continue;
    const g = def.$group || "other";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push([name, def]);
    shown++;
  }
  const sections = [...groups.keys()].sort().map((g) => h("section", { class: "panel", "data-group": g },
    h("h2", {}, g),
    KINDS.map(([kind, label]) => {
      const mine = groups.get(g).filter(([, d]) => d.$kind === kind).sort(([a], [b]) => a.localeCompare(b));
      if (!mine.length) return "";
      return h("div", {}, h("h3", { class: "muted" }, label), h("ul", { class: "plugin-list" }, mine.map(([name, def]) =>
        h("li", { "data-plugin": name },
          h("a", { href: `#/plugins/${enc(name)}` }, name.slice(g.length + 1) || name),
          def.$deprecated ? h("span", { class: "muted" }, " (deprecated)") : "",
          def.title ? h("span", { class: "muted" }, ` — ${def.title}`) : ""))));
    })));
  main.append(h("h1", {}, "Plugins"),
    h("div", { class: "filters" }, search, h("span", { class: "muted", "data-testid": "plugin-count" }, `${shown} types`)),
    ...(sections.length ? sections : [h("p", { class: "muted" }, "No plugin matches.")]));
}

/** One type's documentation (a full name or an alias). */
async function typePage(main, schema, name) {
  const found = Object.entries(schema.definitions).find(([n, d]) => namesOf(n, d).includes(name));
  main.append(h("p", {}, h("a", { href: "#/plugins" }, "← Plugins")));
  if (!found) {
    main.append(errorBox(`no plugin '${name}' in Baton`));
    return;
  }
  loadStyle();
  const { showDoc } = await import("./editor.js");
  const panel = h("article", { class: "doc-panel plugin-doc", "data-testid": "plugin-doc" });
  showDoc(panel, schema, found[0]);
  main.append(panel);
}

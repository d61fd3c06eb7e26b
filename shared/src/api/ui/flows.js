// Flows: the list by namespace — search on id, namespace and description,
// a namespace filter (its children too), both kept in the address, and each
// flow's last execution (POST /executions/latest) — and one flow's page: its YAML source with
// syntax highlighting, the flow editor (flow-editor.js), save, and Execute.

import { api, h, toast, enc, go, parseHash, stateBadge, fmtDate } from "./app.js";
import { executeDialog } from "./inputs.js";
import { topologyView } from "./topology.js";
import { editor } from "./flow-editor.js";

export async function render(main, parts, query) {
  if (parts.length >= 2) return flowPage(main, parts[0], parts[1], query.get("tab") || "source");
  if (parts[0] === "new") return createPage(main, query.get("blueprint"));
  const file = h("input", { type: "file", name: "fileUpload", accept: ".yml,.yaml,.zip", style: { display: "none" }, onchange: (e) => importFile(e.target) });
  main.append(h("h1", {}, "Flows", h("span", { class: "grow" }), file,
    h("button", { onclick: () => file.click() }, "Import"),
    h("a", { class: "btn primary", href: "#/flows/new", style: { background: "var(--accent)", color: "#fff" } }, "Create")));
  const [flows, broken] = await Promise.all([api("/flows"), api("/flow-files/broken").catch(() => [])]);
  if (broken.length) {
    main.append(h("div", { class: "error-box", role: "alert", "data-testid": "broken-files" },
      h("strong", {}, `${broken.length} flow file${broken.length > 1 ? "s" : ""} define${broken.length > 1 ? "" : "s"} no flow: fix ${broken.length > 1 ? "them" : "it"} and it loads`),
      h("ul", {}, broken.map((b) => h("li", { "data-file": b.path }, h("code", {}, b.path), h("pre", { class: "source" }, b.message))))));
  }
  const q = (query.get("q") || "").toLowerCase();
  const nsFilter = query.get("namespace") || "";
  const namespaces = [...new Set(flows.map((f) => f.namespace))].sort();
  const filter = (key, value) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    const qs = next.toString();
    go(`#/flows${qs ? "?" + qs : ""}`);
  };
  main.append(h("div", { class: "filters", "data-testid": "flow-filters" },
    h("input", { type: "search", name: "q", placeholder: "Search id, namespace, description", value: query.get("q") || "", onchange: (e) => filter("q", e.target.value.trim()) }),
    h("select", { name: "namespace", onchange: (e) => filter("namespace", e.target.value) },
      h("option", { value: "" }, "All namespaces"), namespaces.map((n) => h("option", { value: n, selected: n === nsFilter }, n)))));
  // a namespace shows its children too, as Kestra's filter does
  const shown = flows.filter((f) => (!nsFilter || f.namespace === nsFilter || f.namespace.startsWith(nsFilter + "."))
    && (!q || [f.id, f.namespace, f.description || ""].some((t) => t.toLowerCase().includes(q))));
  const byNs = new Map();
  for (const f of shown) byNs.set(f.namespace, [...(byNs.get(f.namespace) || []), f]);
  if (!flows.length) main.append(h("p", { class: "muted" }, "No flows yet: put YAML files in the flows folder or POST /api/v1/flows/import."));
  else if (!shown.length) main.append(h("p", { class: "muted", "data-testid": "no-match" }, "No flow matches these filters."));
  const rows = [];
  const last = new Map();
  for (const [ns, list] of [...byNs].sort()) {
    for (const f of list) {
      const cell = h("td", { "data-last": `${ns}.${f.id}` });
      last.set(`${ns}\u0000${f.id}`, cell);
      rows.push(
        h("tr", { "data-flow": `${ns}.${f.id}` },
          h("td", {}, h("a", { href: `#/flows/${enc(ns)}/${enc(f.id)}` }, f.id)),
          h("td", { class: "ns" }, ns),
          h("td", {}, (f.labels || []).map((l) => `${l.key}:${l.value}`).join(", ")),
          h("td", {}, (f.triggers || []).map((t) => t.id).join(", ")),
          cell,
          h("td", {}, f.disabled ? "disabled" : ""),
          h("td", {}, h("button", { class: "primary", onclick: () => executeDialog(f) }, "Execute")),
        ),
      );
    }
  }
  if (rows.length) main.append(h("table", { "data-testid": "flows" }, h("thead", {}, h("tr", {}, ["Id", "Namespace", "Labels", "Triggers", "Last execution", "", ""].map((t) => h("th", {}, t)))), h("tbody", {}, rows)));
  lastExecutions(shown, last);
}

/** The newest execution of each flow shown (POST /executions/latest, at most LATEST_BOUND flows a call). */
const LATEST_BOUND = 1000;
async function lastExecutions(flows, cells) {
  for (let i = 0; i < flows.length; i += LATEST_BOUND) {
    const asked = flows.slice(i, i + LATEST_BOUND).map((f) => ({ namespace: f.namespace, id: f.id }));
    try {
      for (const x of await api("/executions/latest", { method: "POST", json: asked })) {
        const cell = cells.get(`${x.namespace}\u0000${x.flowId}`);
        if (cell) cell.replaceChildren(h("a", { href: `#/executions/${enc(x.id)}`, title: fmtDate(x.startDate) }, stateBadge(x.status)), " ", h("span", { class: "muted" }, fmtDate(x.startDate)));
      }
    } catch (e) {
      toast(`last executions: ${e.message}`, true);
      return;
    }
  }
}

async function flowPage(main, ns, id, tab) {
  const flow = await api(`/flows/${enc(ns)}/${enc(id)}?source=true`);
  const box = h("div");
  const here = `#/flows/${enc(ns)}/${enc(id)}`;
  const query = parseHash().query;
  main.append(
    h("h1", { class: "flow-title" }, h("span", { class: "title-text", title: `${ns}.${id}` }, h("span", { class: "ns" }, ns + "."), id),
      flow.disabled ? h("span", { class: "chip", "data-testid": "flow-disabled" }, "disabled") : "",
      h("span", { class: "grow" }), ...flowActions(flow),
      h("button", { class: "primary", onclick: () => executeDialog(flow) }, "Execute")),
    flow.exception ? brokenBanner(flow.exception) : "",
    flow.description ? h("p", { class: "muted" }, flow.description) : "",
    h("div", { class: "tabs" },
      FLOW_TABS.map(([t, label]) => h("a", { href: t === "source" ? here : `${here}?tab=${t}`, class: tab === t ? "active" : "", "data-tab": t }, label))),
    box,
  );
  if (tab === "topology") return box.append(topologyView(await api(`/flows/${enc(ns)}/${enc(id)}/graph`), null));
  if (tab !== "source") return (await import("./flow_tabs.js")).render(tab, box, flow, query);
  let source = flow.source || "";
  const view = (errors = new Map()) => {
    box.replaceChildren(
      h("div", { class: "filters" }, h("button", { onclick: edit }, "Edit")),
      h("pre", { class: "source", "data-testid": "source" }, highlighted(source, errors)),
    );
  };
  const edit = () =>
    editor(box, source, async (text) => {
      await api(`/flows/${enc(ns)}/${enc(id)}`, { method: "PUT", body: text, headers: { "Content-Type": "application/x-yaml" } });
      source = text;
      toast("Flow saved");
      view();
    }, () => view(), { topology: true });
  view();
}

const FLOW_TABS = [["source", "Source"], ["topology", "Topology"], ["executions", "Executions"], ["triggers", "Triggers"], ["revisions", "Revisions"], ["dependencies", "Dependencies"], ["metrics", "Metrics"], ["tests", "Tests"]];

/** The banner of a flow whose file is broken: what runs is its last valid version. */
function brokenBanner(exception) {
  return h("div", { class: "error-box broken", role: "alert", "data-testid": "flow-broken" },
    h("strong", {}, "This flow's file is broken: it runs at its last valid version, shown here. "), "\n", exception);
}

/** Disable/Enable and Delete of a flow (flow_tabs.js). */
function flowActions(flow) {
  const act = (label, attrs, fn) => h("button", { ...attrs, onclick: async () => (await import("./flow_tabs.js"))[fn](flow) }, label);
  return [act(flow.disabled ? "Enable" : "Disable", { "data-action": "toggle" }, "toggleFlow"), act("Delete", { class: "danger", "data-action": "delete" }, "deleteFlow")];
}

const TEMPLATE = "id: hello\nnamespace: company.team\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: Hello World! 🚀\n";

/** `#/flows/new`: a new flow from the editor (a blueprint's source with `?blueprint=ID`), created with POST /flows. */
async function createPage(main, blueprint) {
  const box = h("div");
  const source = blueprint
    ? await (await api(`/blueprints/community/flow/${enc(blueprint)}/source`, { raw: true })).text()
    : TEMPLATE;
  main.append(h("h1", {}, blueprint ? "Create a flow from a blueprint" : "Create a flow"), box);
  return editor(box, source, async (text) => {
    const f = await api("/flows", { method: "POST", body: text, headers: { "Content-Type": "application/x-yaml" } });
    toast(`Flow ${f.namespace}.${f.id} created`);
    go(`#/flows/${enc(f.namespace)}/${enc(f.id)}`);
  }, () => go("#/flows"), { topology: true });
}

/** Imports YAML (one or more documents) or a ZIP with POST /flows/import. */
async function importFile(input) {
  const f = input.files[0];
  if (!f) return;
  const data = new FormData();
  data.append("fileUpload", f);
  try {
    const failed = await api("/flows/import?failOnError=true", { method: "POST", body: data });
    if (Array.isArray(failed) && failed.length) toast(`not imported: ${failed.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(", ")}`, true);
    else toast(`${f.name} imported`);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } catch (e) {
    toast(e.message, true);
  }
}

/** Validation results → {line: [messages]}; messages without a line go on line 1. */
export function errorsByLine(results) {
  const map = new Map();
  for (const r of results || []) {
    if (!r.constraints) continue;
    for (const msg of r.constraints.split("\n")) {
      const m = /^document \d+:(\d+)/.exec(msg);
      const line = m ? Number(m[1]) : 1;
      map.set(line, [...(map.get(line) || []), msg]);
    }
  }
  return map;
}

const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** One line of YAML as highlighted HTML (keys, strings, numbers, comments, {{ }}). */
function highlightLine(line) {
  const m = /^(\s*)(- )?([A-Za-z0-9_.@/-]+)(:)(\s|$)(.*)$/.exec(line);
  let head = "";
  let rest = line;
  if (m) {
    head = esc(m[1]) + (m[2] ? `<span class="y-dash">- </span>` : "") + `<span class="y-key">${esc(m[3])}</span>:` + m[5];
    rest = m[6];
  } else {
    const d = /^(\s*)(- )(.*)$/.exec(line);
    if (d) {
      head = esc(d[1]) + `<span class="y-dash">- </span>`;
      rest = d[3];
    }
  }
  let body;
  const c = /(^|\s)#.*$/.exec(rest);
  const comment = c && !/["']/.test(rest.slice(0, c.index)) ? rest.slice(c.index) : "";
  const value = comment ? rest.slice(0, c.index) : rest;
  if (m && m[3] === "type") body = `<span class="y-type">${esc(value)}</span>`;
  else if (/^\s*-?\d+(\.\d+)?\s*$/.test(value) || /^\s*(true|false|null)\s*$/.test(value)) body = `<span class="y-num">${esc(value)}</span>`;
  else if (value.trim()) body = `<span class="y-str">${esc(value).replace(/\{\{.*?\}\}/g, (x) => `<span class="y-expr">${x}</span>`)}</span>`;
  else body = esc(value);
  return head + body + (comment ? `<span class="y-com">${esc(comment)}</span>` : "");
}

/** The source as numbered, highlighted lines, with errors under their line. */
export function highlighted(source, errors = new Map()) {
  const frag = document.createDocumentFragment();
  source.split("\n").forEach((line, i) => {
    const errs = errors.get(i + 1);
    frag.append(h("span", { class: "line" + (errs ? " err" : ""), "data-line": i + 1, html: highlightLine(line) || " " }));
    for (const e of errs || []) frag.append(h("span", { class: "msg", "data-error-line": i + 1 }, e));
  });
  return frag;
}

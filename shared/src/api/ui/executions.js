// Executions: the list (GET /executions/search) with Kestra's filters —
// namespace, flow, state — and paging; `#/executions/{id}` is one
// execution (execution.js).

import { api, h, stateBadge, fmtDate, fmtMs, span, enc, go, namespaces } from "./app.js";

const STATES = ["CREATED", "QUEUED", "RUNNING", "PAUSED", "SUCCESS", "WARNING", "FAILED", "KILLING", "KILLED", "RETRYING", "CANCELLED"];
const SIZE = 25;

export async function render(main, parts, query) {
  if (parts.length) return (await import("./execution.js")).render(main, parts[0], query);
  const page = Math.max(1, Number(query.get("page") || 1));
  const q = new URLSearchParams({ page, size: SIZE, sort: "state.startDate:desc" });
  for (const k of ["namespace", "flowId", "state", "timeRange", "labels"]) if (query.get(k)) q.set(k, query.get(k));
  const table = h("tbody");
  const total = h("span", { class: "muted" });
  const setFilter = (k, v) => {
    const next = new URLSearchParams(query);
    if (v) next.set(k, v);
    else next.delete(k);
    next.delete("page");
    go(`#/executions?${next}`);
  };
  const nsSelect = h("select", { name: "namespace", onchange: (e) => setFilter("namespace", e.target.value) }, h("option", { value: "" }, "All namespaces"));
  const flowInput = h("input", { name: "flowId", placeholder: "Flow id", value: query.get("flowId") || "", onchange: (e) => setFilter("flowId", e.target.value.trim()) });
  const stateSelect = h("select", { name: "state", onchange: (e) => setFilter("state", e.target.value) }, h("option", { value: "" }, "All states"),
    STATES.map((s) => h("option", { value: s, selected: query.get("state") === s }, s)));
  const RANGES = [["", "Any time"], ["PT1H", "Last hour"], ["P1D", "Last 24 hours"], ["P7D", "Last 7 days"], ["P30D", "Last 30 days"]];
  const rangeSelect = h("select", { name: "timeRange", onchange: (e) => setFilter("timeRange", e.target.value) },
    RANGES.map(([v, t]) => h("option", { value: v, selected: (query.get("timeRange") || "") === v }, t)));
  const labelInput = h("input", { name: "labels", placeholder: "Label key:value", value: query.get("labels") || "", onchange: (e) => setFilter("labels", e.target.value.trim()) });
  const pager = h("div", { class: "pager" });
  main.append(
    h("h1", {}, "Executions"),
    h("div", { class: "filters" }, nsSelect, flowInput, stateSelect, rangeSelect, labelInput, total),
    h("table", { "data-testid": "executions" },
      h("thead", {}, h("tr", {}, ["Id", "Start date", "Duration", "Namespace", "Flow", "Labels", "State"].map((t) => h("th", {}, t)))),
      table),
    pager,
  );
  const res = await api(`/executions/search?${q}`);
  table.replaceChildren(...res.results.map(row));
  if (!res.results.length) table.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No executions.")));
  total.textContent = `${res.total} executions`;
  const last = Math.max(1, Math.ceil(res.total / SIZE));
  const to = (p) => {
    const next = new URLSearchParams(query);
    next.set("page", p);
    go(`#/executions?${next}`);
  };
  pager.append(h("button", { disabled: page <= 1, onclick: () => to(page - 1) }, "‹ Previous"), h("span", { class: "muted" }, `Page ${page} of ${last}`), h("button", { disabled: page >= last, onclick: () => to(page + 1) }, "Next ›"));
  namespaces().then((list) => nsSelect.append(...list.map((n) => h("option", { value: n, selected: query.get("namespace") === n }, n)))).catch(() => {});
  // while some are running, refresh the list
  if (res.results.some((e) => !["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"].includes(e.state.current))) {
    const here = location.hash;
    let inner = null;
    const t = setTimeout(async () => {
      if (location.hash !== here) return;
      main.replaceChildren();
      inner = await render(main, parts, query);
    }, 2000);
    return () => {
      clearTimeout(t);
      if (inner) inner();
    };
  }
}

function row(e) {
  const s = span(e.state);
  return h("tr", { "data-execution": e.id },
    h("td", {}, h("a", { href: `#/executions/${enc(e.id)}` }, e.id.slice(0, 8))),
    h("td", {}, fmtDate(e.state.startDate || (e.state.histories[0] || {}).date)),
    h("td", {}, fmtMs(s.ms)),
    h("td", { class: "ns" }, e.namespace),
    h("td", {}, h("a", { href: `#/flows/${enc(e.namespace)}/${enc(e.flowId)}` }, e.flowId)),
    // system labels (system.correlationId…) are shown on the execution's page only, as in Kestra
    h("td", {}, (e.labels || []).filter((l) => !l.key.startsWith("system.")).map((l) => h("span", { class: "chip" }, `${l.key}:${l.value}`))),
    h("td", {}, stateBadge(e.state.current)));
}

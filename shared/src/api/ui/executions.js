// Executions: the list (GET /executions/search) with Kestra's filters —
// namespace, flow, state, time range, labels — paging, sortable columns
// (the search's `sort`), and a selection for bulk Kill / Delete / Replay
// (the bulk routes; replay one by one). `#/executions/{id}` is one
// execution (execution.js). The same list is a flow's Executions tab
// (`list` with the flow fixed and its own address).

import { api, h, stateBadge, fmtDate, fmtMs, span, enc, go, namespaces, toast, TERMINAL, current, shortId } from "./app.js";

const STATES = ["CREATED", "QUEUED", "RUNNING", "PAUSED", "SUCCESS", "WARNING", "FAILED", "KILLING", "KILLED", "RETRYING", "CANCELLED"];
const SIZE = 25;
/** Columns: [title, sort field of the search, or null]. */
const COLUMNS = [["Id", "id"], ["Start date", "state.startDate"], ["End date", "state.endDate"], ["Duration", "state.duration"], ["Namespace", "namespace"], ["Flow", "flowId"], ["Labels", null], ["State", "state.current"]];

export async function render(main, parts, query) {
  if (parts.length) return (await import("./execution.js")).render(main, parts[0], query);
  const title = h("h1", {}, "Executions");
  main.append(title);
  return list(main, query, { base: "#/executions", title });
}

/**
 * The executions list in `main`: `query` holds its filters, page and sort;
 * `opts.base` is the address it lives at (filters change its query);
 * `opts.fixed` ({namespace, flowId}) filters that cannot be changed.
 */
export async function list(main, query, opts) {
  const fixed = opts.fixed || {};
  const page = Math.max(1, Number(query.get("page") || 1));
  const sort = query.get("sort") || "state.startDate:desc";
  const q = new URLSearchParams({ page, size: SIZE, sort });
  for (const k of ["namespace", "flowId", "state", "timeRange", "labels"]) if (query.get(k)) q.set(k, query.get(k));
  for (const [k, v] of Object.entries(fixed)) q.set(k, v);
  const to = (changes) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    const s = next.toString();
    go(opts.base + (s ? (opts.base.includes("?") ? "&" : "?") + s : ""));
  };
  const setFilter = (k, v) => to({ [k]: v, page: "" });
  const table = h("tbody");
  const total = h("span", { class: "muted", "data-testid": "total" });
  const nsSelect = h("select", { name: "namespace", onchange: (e) => setFilter("namespace", e.target.value) }, h("option", { value: "" }, "All namespaces"));
  const flowInput = h("input", { name: "flowId", placeholder: "Flow id", value: query.get("flowId") || "", onchange: (e) => setFilter("flowId", e.target.value.trim()) });
  const stateSelect = h("select", { name: "state", onchange: (e) => setFilter("state", e.target.value) }, h("option", { value: "" }, "All states"),
    STATES.map((s) => h("option", { value: s, selected: query.get("state") === s }, s)));
  const RANGES = [["", "Any time"], ["PT1H", "Last hour"], ["P1D", "Last 24 hours"], ["P7D", "Last 7 days"], ["P30D", "Last 30 days"]];
  const rangeSelect = h("select", { name: "timeRange", onchange: (e) => setFilter("timeRange", e.target.value) },
    RANGES.map(([v, t]) => h("option", { value: v, selected: (query.get("timeRange") || "") === v }, t)));
  const labelInput = h("input", { name: "labels", placeholder: "Label key:value", value: query.get("labels") || "", onchange: (e) => setFilter("labels", e.target.value.trim()) });
  const pager = h("div", { class: "pager" });
  // the selection, and the bar of bulk actions shown while it is not empty
  const selected = new Set();
  const count = h("span", { "data-testid": "selected" });
  const all = h("input", { type: "checkbox", name: "select-all", title: "Select the page", onchange: (e) => {
    for (const box of table.querySelectorAll("input[data-select]")) {
      box.checked = e.target.checked;
      if (box.checked) selected.add(box.dataset.select);
      else selected.delete(box.dataset.select);
    }
    sync();
  } });
  const bulk = h("div", { class: "bulk", "data-testid": "bulk", hidden: true }, count,
    h("button", { "data-bulk": "kill", class: "danger", onclick: () => bulkAction("kill") }, "Kill"),
    h("button", { "data-bulk": "delete", class: "danger", onclick: () => bulkAction("delete") }, "Delete"),
    h("button", { "data-bulk": "replay", onclick: () => bulkAction("replay") }, "Replay"));
  const sync = () => {
    bulk.hidden = selected.size === 0;
    count.textContent = `${selected.size} selected`;
  };
  const bulkAction = async (what) => {
    const ids = [...selected];
    if (!confirm(`${what[0].toUpperCase() + what.slice(1)} ${ids.length} execution${ids.length > 1 ? "s" : ""}?`)) return;
    try {
      if (what === "kill") {
        const r = await api("/executions/kill/by-ids", { method: "DELETE", json: ids });
        toast(`${r.count} killed`);
      } else if (what === "delete") {
        const r = await api("/executions/by-ids?includeNonTerminated=false", { method: "DELETE", json: ids });
        toast(`${r.count} deleted`);
      } else {
        for (const id of ids) await api(`/executions/${enc(id)}/replay`, { method: "POST" });
        toast(`${ids.length} replayed`);
      }
    } catch (e) {
      toast(e.message, true);
    }
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  };
  const [field, dir] = sort.split(":");
  const head = COLUMNS.map(([title, key]) => {
    if (!key) return h("th", {}, title);
    const active = key === field;
    const next = active && dir === "desc" ? "asc" : "desc";
    return h("th", { class: "sortable" + (active ? " sorted" : ""), "data-sort": key, "aria-sort": active ? (dir === "asc" ? "ascending" : "descending") : "none", onclick: () => to({ sort: `${key}:${next}`, page: "" }) },
      title, active ? (dir === "asc" ? " ▲" : " ▼") : "");
  });
  main.append(
    h("div", { class: "filters" }, fixed.namespace ? "" : nsSelect, fixed.flowId ? "" : flowInput, stateSelect, rangeSelect, labelInput, total),
    bulk,
    h("div", { class: "table-wrap" }, h("table", { "data-testid": "executions" },
      h("thead", {}, h("tr", {}, h("th", { class: "check" }, all), head)),
      table)),
    pager,
  );
  const res = await api(`/executions/search?${q}`);
  table.replaceChildren(...res.results.map((e) => row(e, selected, sync)));
  if (!res.results.length) table.append(h("tr", {}, h("td", { colspan: COLUMNS.length + 1, class: "muted" }, "No executions.")));
  total.textContent = `${res.total} executions`;
  const last = Math.max(1, Math.ceil(res.total / SIZE));
  pager.append(h("button", { disabled: page <= 1, onclick: () => to({ page: page - 1 }) }, "‹ Previous"), h("span", { class: "muted" }, `Page ${page} of ${last}`), h("button", { disabled: page >= last, onclick: () => to({ page: page + 1 }) }, "Next ›"));
  if (!fixed.namespace) namespaces().then((l) => nsSelect.append(...l.map((n) => h("option", { value: n, selected: query.get("namespace") === n }, n)))).catch(() => {});
  // while some are running (and nothing is selected), refresh the list
  if (res.results.some((e) => !TERMINAL.includes(e.state.current))) {
    const here = current();
    let inner = null;
    const t = setInterval(async () => {
      if (current() !== here || selected.size) return;
      clearInterval(t);
      main.replaceChildren();
      if (opts.title) main.append(opts.title);
      inner = await list(main, query, opts);
    }, 2000);
    return () => {
      clearInterval(t);
      if (inner) inner();
    };
  }
}

function row(e, selected, sync) {
  const s = span(e.state);
  const done = TERMINAL.includes(e.state.current);
  return h("tr", { "data-execution": e.id, "data-state": e.state.current },
    h("td", { class: "check" }, h("input", { type: "checkbox", "data-select": e.id, onchange: (ev) => {
      if (ev.target.checked) selected.add(e.id);
      else selected.delete(e.id);
      sync();
    } })),
    h("td", {}, h("a", { href: `#/executions/${enc(e.id)}` }, shortId(e.id))),
    h("td", { class: "nowrap" }, fmtDate(e.state.startDate || (e.state.histories[0] || {}).date)),
    h("td", { class: "nowrap" }, done ? fmtDate(e.state.endDate) : ""),
    h("td", { class: "nowrap" }, fmtMs(s.ms)),
    h("td", { class: "ns" }, e.namespace),
    h("td", {}, h("a", { href: `#/flows/${enc(e.namespace)}/${enc(e.flowId)}` }, e.flowId)),
    // system labels (system.correlationId…) are shown on the execution's page only, as in Kestra
    h("td", {}, (e.labels || []).filter((l) => !l.key.startsWith("system.")).map((l) => h("span", { class: "chip" }, `${l.key}:${l.value}`))),
    h("td", {}, stateBadge(e.state.current)));
}

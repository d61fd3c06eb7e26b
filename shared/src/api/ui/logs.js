// Logs: every execution's log lines, newest first (GET /logs/search), with
// Kestra's filters — namespace (and its children), flow, minimum level,
// text — kept in the address; each line links to its execution's logs.

import { api, h, fmtDate, enc, go, errorBox } from "./app.js";

const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
const SIZE = 100;

export async function render(main, parts, query) {
  const f = { namespace: query.get("namespace") || "", flowId: query.get("flowId") || "", minLevel: query.get("minLevel") || "INFO", q: query.get("q") || "" };
  const page = Math.max(1, Number(query.get("page")) || 1);
  const to = (over) => {
    const p = new URLSearchParams(Object.entries({ ...f, page: "1", ...over }).filter(([, v]) => v));
    go(`#/logs?${p}`);
  };
  const input = (name, placeholder) => h("input", { name, placeholder, value: f[name], onchange: (e) => to({ [name]: e.target.value.trim() }) });
  main.append(h("h1", {}, "Logs"),
    h("div", { class: "filters", "data-testid": "log-filters" },
      input("namespace", "namespace"), input("flowId", "flow"), input("q", "text"),
      h("select", { name: "minLevel", onchange: (e) => to({ minLevel: e.target.value }) }, LEVELS.map((l) => h("option", { value: l, selected: l === f.minLevel }, l)))));
  const p = new URLSearchParams({ page: String(page), size: String(SIZE), sort: "timestamp:desc", minLevel: f.minLevel });
  for (const k of ["namespace", "flowId", "q"]) if (f[k]) p.set(k, f[k]);
  let res;
  try {
    res = await api(`/logs/search?${p}`);
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  const rows = res.results.map((l) => h("tr", { "data-level": l.level },
    h("td", { class: "nowrap" }, fmtDate(l.timestamp)),
    h("td", {}, h("span", { class: `lvl lvl-${l.level}` }, l.level)),
    h("td", {}, h("a", { href: `#/flows/${enc(l.namespace)}/${enc(l.flowId)}` }, `${l.namespace}.${l.flowId}`)),
    h("td", {}, h("a", { href: `#/executions/${enc(l.executionId)}?tab=logs${l.taskId ? "&taskId=" + enc(l.taskId) : ""}` }, l.taskId || l.executionId)),
    h("td", { class: "log-message" }, l.message)));
  const last = Math.max(1, Math.ceil(res.total / SIZE));
  main.append(
    h("table", { "data-testid": "all-logs" }, h("thead", {}, h("tr", {}, ["Date", "Level", "Flow", "Task", "Message"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No logs.")))),
    h("div", { class: "pager" },
      h("button", { disabled: page <= 1, onclick: () => to({ page: String(page - 1) }) }, "‹ Previous"),
      h("span", { class: "muted" }, `Page ${page} of ${last} · ${res.total} lines`),
      h("button", { disabled: page >= last, onclick: () => to({ page: String(page + 1) }) }, "Next ›")));
}

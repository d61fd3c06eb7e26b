// Task metrics: the Metrics tab of an execution (GET /metrics/{id}: name,
// type, value, tags and task of each, filterable by task, paged) and of a
// flow (a metric of the flow, or of one task, aggregated per time bucket
// with GET /metrics/aggregates/…: a bar chart and its table).

import { api, h, enc, fmtDate, errorBox, go } from "./app.js";

const PAGE = 100;

/** A timer's milliseconds as a duration; a counter as counted. */
export function metricValue(m) {
  if (m.type !== "timer") return String(Number.isInteger(m.value) ? m.value : +m.value.toFixed(3));
  const ms = m.value;
  if (ms < 1000) return `${+ms.toFixed(3)} ms`;
  if (ms < 60000) return `${+(ms / 1000).toFixed(3)} s`;
  return `${Math.floor(ms / 60000)} min ${+((ms % 60000) / 1000).toFixed(1)} s`;
}

function tags(t) {
  const entries = Object.entries(t || {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return entries.map(([k, v]) => h("span", { class: "state", style: { background: "var(--panel2)", color: "var(--text)", marginRight: "4px" } }, `${k}:${v}`));
}

/** The Metrics tab of an execution. */
export async function executionMetrics(e, taskId, page, change) {
  const q = new URLSearchParams({ page: String(page), size: String(PAGE), sort: "timestamp:asc" });
  if (taskId) q.set("taskId", taskId);
  const r = await api(`/metrics/${enc(e.id)}?${q}`);
  const tasks = [...new Set(e.taskRunList.map((t) => t.taskId))];
  const taskSel = h("select", { name: "taskId", onchange: (ev) => change(ev.target.value, 1) }, h("option", { value: "" }, "All tasks"), tasks.map((t) => h("option", { value: t, selected: t === taskId }, t)));
  const runs = new Map(e.taskRunList.map((t) => [t.id, t]));
  const rows = r.results.map((m) => {
    const tr = runs.get(m.taskRunId);
    return h("tr", { "data-metric": m.name },
      h("td", {}, m.taskId + (tr && tr.value ? ` (${tr.value})` : "")),
      h("td", {}, h("code", {}, m.name)),
      h("td", {}, m.type),
      h("td", { "data-testid": "metric-value" }, metricValue(m)),
      h("td", {}, tags(m.tags)),
      h("td", { class: "muted" }, fmtDate(m.timestamp)));
  });
  const pages = Math.max(1, Math.ceil(r.total / PAGE));
  return h("div", {},
    h("div", { class: "filters" }, taskSel, h("span", { class: "muted" }, `${r.total} metric${r.total === 1 ? "" : "s"}`),
      pages > 1 ? [
        h("button", { disabled: page <= 1, onclick: () => change(taskId, page - 1) }, "Previous"),
        h("span", { class: "muted" }, `page ${page} of ${pages}`),
        h("button", { disabled: page >= pages, onclick: () => change(taskId, page + 1) }, "Next"),
      ] : ""),
    rows.length
      ? h("table", { "data-testid": "metrics" }, h("thead", {}, h("tr", {}, ["Task", "Name", "Type", "Value", "Tags", "Recorded"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No metrics."));
}

/** The Metrics tab of a flow: pick a task and a metric, see it aggregated over the last 30 days (or the range picked). */
export async function flowMetrics(box, ns, id, query) {
  const tasks = await api(`/metrics/tasks/${enc(ns)}/${enc(id)}`);
  const taskId = query.get("metricTask") || "";
  const names = await api(taskId ? `/metrics/names/${enc(ns)}/${enc(id)}/${enc(taskId)}` : `/metrics/names/${enc(ns)}/${enc(id)}`);
  const metric = names.includes(query.get("metric")) ? query.get("metric") : names[0] || "";
  const aggregation = query.get("aggregation") || "sum";
  const days = Number(query.get("days")) || 30;
  const base = `#/flows/${enc(ns)}/${enc(id)}?tab=metrics`;
  const goTo = (over) => {
    const p = new URLSearchParams({ metricTask: taskId, metric, aggregation, days: String(days), ...over });
    go(`${base}&${p}`);
  };
  const sel = (name, values, current, label) => h("select", { name, onchange: (ev) => goTo({ [name]: ev.target.value }) },
    values.map(([v, text]) => h("option", { value: v, selected: v === current }, text || label(v))));
  box.append(h("div", { class: "filters" },
    sel("metricTask", [["", "All tasks"], ...tasks.map((t) => [t])], taskId, (t) => t),
    names.length ? sel("metric", names.map((n) => [n]), metric, (n) => n) : "",
    sel("aggregation", ["sum", "avg", "min", "max"].map((a) => [a]), aggregation, (a) => a),
    sel("days", [["1", "last day"], ["7", "last 7 days"], ["30", "last 30 days"], ["365", "last year"]], String(days), (d) => d)));
  if (!metric) return box.append(h("p", { class: "muted", "data-testid": "flow-metrics" }, "No metrics for this flow yet."));
  const end = new Date();
  const start = new Date(end.getTime() - days * 86400000);
  const p = new URLSearchParams({ startDate: start.toISOString(), endDate: end.toISOString(), aggregation });
  const path = taskId ? `${enc(ns)}/${enc(id)}/${enc(taskId)}/${enc(metric)}` : `${enc(ns)}/${enc(id)}/${enc(metric)}`;
  let r;
  try {
    r = await api(`/metrics/aggregates/${path}?${p}`);
  } catch (e) {
    return box.append(errorBox(e));
  }
  const filled = r.aggregations.filter((a) => a.name);
  box.append(h("div", { class: "panel", "data-testid": "flow-metrics" },
    h("p", { class: "muted" }, `${aggregation} of ${metric} per ${r.groupBy}`),
    chart(r.aggregations),
    filled.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Period", aggregation].map((t) => h("th", {}, t)))),
        h("tbody", {}, filled.map((a) => h("tr", {}, h("td", {}, fmtDate(a.date)), h("td", { "data-testid": "aggregate-value" }, String(+a.value.toFixed(3)))))))
      : h("p", { class: "muted" }, "Nothing recorded in this range.")));
}

/** Bars of the buckets' values (SVG, no library). */
function chart(aggs) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 600;
  const height = 120;
  const max = Math.max(...aggs.map((a) => a.value), 0) || 1;
  const bw = width / Math.max(1, aggs.length);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "metric-chart");
  svg.setAttribute("width", "100%");
  svg.setAttribute("height", String(height));
  aggs.forEach((a, i) => {
    const bh = (a.value / max) * (height - 10);
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", String(i * bw + bw * 0.1));
    r.setAttribute("y", String(height - bh));
    r.setAttribute("width", String(Math.max(1, bw * 0.8)));
    r.setAttribute("height", String(bh));
    r.setAttribute("fill", "var(--SUCCESS, #2a9d4b)");
    const t = document.createElementNS(ns, "title");
    t.textContent = `${new Date(a.date).toISOString()}: ${a.value}`;
    r.append(t);
    svg.append(r);
  });
  return svg;
}

// The home page (the UI opens on it): executions of the last 30 days per
// day, stacked by state (an inline SVG drawn from GET
// /stats/executions/daily), the totals per state, the average duration
// per day, and the latest failed executions.

import { api, h, stateBadge, fmtDate, fmtMs, enc, shortId } from "./app.js";

const NS = "http://www.w3.org/2000/svg";
const ORDER = ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RUNNING", "PAUSED", "QUEUED", "CREATED", "RETRYING", "KILLING", "RESTARTED", "SKIPPED", "RETRIED"];

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Stacked bars of `days` ({startDate, executionCounts}) in a W x H box. */
export function stackedBars(days, width = 900, height = 220) {
  const pad = { l: 36, r: 8, t: 10, b: 26 };
  const totals = days.map((d) => Object.values(d.executionCounts).reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const bw = (width - pad.l - pad.r) / days.length;
  const y = (n) => pad.t + (height - pad.t - pad.b) * (1 - n / max);
  const chart = svg("svg", { width: "100%", viewBox: `0 0 ${width} ${height}`, "data-testid": "executions-chart", role: "img", "aria-label": "Executions per day by state" });
  for (const f of [0, 0.5, 1]) {
    const v = Math.round(max * f);
    chart.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: "grid" }), svg("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end", class: "svg-muted", "font-size": 10 }, v));
  }
  days.forEach((d, i) => {
    let acc = 0;
    const x = pad.l + i * bw + bw * 0.15;
    for (const state of ORDER) {
      const n = d.executionCounts[state] || 0;
      if (!n) continue;
      chart.append(svg("rect", { x, y: y(acc + n), width: Math.max(1, bw * 0.7), height: y(acc) - y(acc + n), style: `fill: var(--${state}, var(--CREATED))`, "data-day": d.startDate, "data-state": state, "data-count": n },
        svg("title", {}, `${d.startDate}: ${n} ${state}`)));
      acc += n;
    }
    if (i % Math.ceil(days.length / 10) === 0) chart.append(svg("text", { x: x + bw * 0.35, y: height - 8, "text-anchor": "middle", class: "svg-muted", "font-size": 10 }, d.startDate.slice(5)));
  });
  return chart;
}

/** A line of the average duration per day. */
function durations(days, width = 900, height = 140) {
  const pad = { l: 52, r: 8, t: 10, b: 22 };
  const max = Math.max(1, ...days.map((d) => d.duration.avg));
  const bw = (width - pad.l - pad.r) / days.length;
  const pts = days.map((d, i) => [pad.l + i * bw + bw / 2, pad.t + (height - pad.t - pad.b) * (1 - d.duration.avg / max), d]).filter(([, , d]) => d.duration.count);
  const chart = svg("svg", { width: "100%", viewBox: `0 0 ${width} ${height}`, "data-testid": "durations-chart", role: "img", "aria-label": "Average duration per day" });
  chart.append(svg("text", { x: pad.l - 6, y: pad.t + 8, "text-anchor": "end", class: "svg-muted", "font-size": 10 }, fmtMs(max)), svg("line", { x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b, class: "grid" }));
  if (pts.length) chart.append(svg("polyline", { points: pts.map(([x, y]) => `${x},${y}`).join(" "), fill: "none", style: "stroke: var(--accent2)", "stroke-width": 2 }));
  for (const [x, y, d] of pts) chart.append(svg("circle", { cx: x, cy: y, r: 3, style: "fill: var(--accent2)" }, svg("title", {}, `${d.startDate}: ${fmtMs(d.duration.avg)} average over ${d.duration.count}, max ${fmtMs(d.duration.max)}`)));
  return chart;
}

export async function render(main) {
  main.append(h("h1", {}, "Overview", h("span", { class: "grow" }), h("span", { class: "muted", style: { fontSize: "13px", fontWeight: 400 } }, "Last 30 days")));
  const [days, failed] = await Promise.all([
    api("/stats/executions/daily?days=30"),
    api("/executions/search?page=1&size=10&state=FAILED&sort=state.startDate:desc"),
  ]);
  const totals = {};
  for (const d of days) for (const [s, n] of Object.entries(d.executionCounts)) totals[s] = (totals[s] || 0) + n;
  const all = Object.values(totals).reduce((a, b) => a + b, 0);
  const ended = days.reduce((a, d) => a + d.duration.count, 0);
  const avg = ended ? days.reduce((a, d) => a + d.duration.sum, 0) / ended : null;
  main.append(
    h("div", { class: "cards", "data-testid": "totals" },
      h("div", { class: "card" }, h("div", { class: "big" }, all), h("div", { class: "muted" }, "executions")),
      ...ORDER.filter((s) => totals[s]).map((s) => h("div", { class: "card", "data-state": s }, h("div", { class: "big", style: { color: `var(--${s})` } }, totals[s]), h("div", { class: "muted" }, s.toLowerCase()))),
      h("div", { class: "card" }, h("div", { class: "big" }, avg === null ? "–" : fmtMs(avg)), h("div", { class: "muted" }, "average duration"))),
    h("div", { class: "panel" }, h("h2", {}, "Executions per day"), stackedBars(days)),
    h("div", { class: "panel" }, h("h2", {}, "Average duration per day"), durations(days)),
    h("div", { class: "panel" }, h("h2", {}, "Recent failures"),
      failed.results.length
        ? h("table", { "data-testid": "failures" }, h("thead", {}, h("tr", {}, ["Id", "Flow", "Start date", "Duration", "State"].map((t) => h("th", {}, t)))),
          h("tbody", {}, failed.results.map((e) => h("tr", { "data-execution": e.id },
            h("td", {}, h("a", { href: `#/executions/${enc(e.id)}` }, shortId(e.id))),
            h("td", {}, h("span", { class: "ns" }, e.namespace + "."), h("a", { href: `#/flows/${enc(e.namespace)}/${enc(e.flowId)}` }, e.flowId)),
            h("td", {}, fmtDate(e.state.startDate)),
            h("td", {}, e.state.endDate ? fmtMs(Date.parse(e.state.endDate) - Date.parse(e.state.startDate)) : ""),
            h("td", {}, stateBadge(e.state.current))))))
        : h("p", { class: "muted", "data-testid": "failures" }, "No failed execution.")));
}

// A flow's Dependencies tab (GET /flows/{ns}/{id}/dependencies?expandAll):
// the flows it calls or triggers to its right, those that call or trigger
// it to its left, in columns by their distance from it, as an SVG; each
// node opens its flow, each edge says how (subflow call or Flow trigger).

import { api, h, enc, go } from "./app.js";

const NS = "http://www.w3.org/2000/svg";
const W = 220;
const H = 50;
const GX = 90;
const GY = 18;

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Column of each node: 0 for the flow, +n downstream, -n upstream (breadth first). */
function columns(graph, self) {
  const col = new Map([[self, 0]]);
  const queue = [self];
  while (queue.length) {
    const u = queue.shift();
    for (const e of graph.edges) {
      if (e.source === u && !col.has(e.target)) {
        col.set(e.target, col.get(u) + 1);
        queue.push(e.target);
      } else if (e.target === u && !col.has(e.source)) {
        col.set(e.source, col.get(u) - 1);
        queue.push(e.source);
      }
    }
  }
  return col;
}

export async function dependenciesTab(box, ns, id, query) {
  const expand = query.get("expandAll") === "true";
  const graph = await api(`/flows/${enc(ns)}/${enc(id)}/dependencies?expandAll=${expand}`);
  const self = `main_${ns}_${id}`;
  const nodes = new Map(graph.nodes.map((n) => [n.uid, n]));
  if (!nodes.has(self)) nodes.set(self, { uid: self, namespace: ns, id });
  const col = columns(graph, self);
  const byCol = new Map();
  for (const uid of nodes.keys()) {
    const c = col.has(uid) ? col.get(uid) : 0;
    byCol.set(c, [...(byCol.get(c) || []), uid]);
  }
  const cols = [...byCol.keys()].sort((a, b) => a - b);
  const tallest = Math.max(...[...byCol.values()].map((l) => l.length));
  const height = tallest * (H + GY) + 30;
  const pos = new Map();
  cols.forEach((c, i) => {
    const list = byCol.get(c).sort();
    const top = (height - list.length * (H + GY)) / 2;
    list.forEach((uid, k) => pos.set(uid, { x: 20 + i * (W + GX), y: top + k * (H + GY) }));
  });
  const width = cols.length * (W + GX) - GX + 40;
  const g = svg("g", {});
  for (const e of graph.edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    if (!a || !b) continue;
    const [x1, y1, x2, y2] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
    const mx = (x1 + x2) / 2;
    const trig = e.relation === "FLOW_TRIGGER";
    g.append(svg("path", { d: `M${x1} ${y1} C${mx} ${y1} ${mx} ${y2} ${x2} ${y2}`, fill: "none", style: `stroke: ${trig ? "var(--SUCCESS)" : "var(--accent2)"}`, "stroke-width": 1.6, "stroke-dasharray": trig ? "5 3" : "", "marker-end": "url(#dep-arrow)", "data-edge": `${e.source}>${e.target}`, "data-relation": e.relation }),
      svg("text", { x: mx, y: (y1 + y2) / 2 - 5, "text-anchor": "middle", class: "svg-muted", "font-size": 10 }, trig ? "Flow trigger" : "Subflow"));
  }
  for (const [uid, p] of pos) {
    const n = nodes.get(uid);
    const me = uid === self;
    const card = svg("g", { "data-node": `${n.namespace}.${n.id}`, style: "cursor:pointer" },
      svg("rect", { x: p.x, y: p.y, width: W, height: H, rx: 8, class: "svg-card", style: `stroke: ${me ? "var(--accent)" : "var(--border)"}`, "stroke-width": me ? 2.5 : 1.2 }),
      svg("text", { x: p.x + 12, y: p.y + 21, class: "svg-text", "font-size": 13, "font-weight": 600 }, n.id.length > 26 ? n.id.slice(0, 25) + "…" : n.id),
      svg("text", { x: p.x + 12, y: p.y + 38, class: "svg-muted", "font-size": 11 }, n.namespace.length > 32 ? n.namespace.slice(0, 31) + "…" : n.namespace),
      svg("title", {}, `${n.namespace}.${n.id}`));
    if (!me) card.addEventListener("click", () => go(`#/flows/${enc(n.namespace)}/${enc(n.id)}?tab=dependencies`));
    g.append(card);
  }
  const here = `#/flows/${enc(ns)}/${enc(id)}?tab=dependencies`;
  box.append(
    h("div", { class: "filters" },
      h("label", {}, h("input", { type: "checkbox", name: "expandAll", checked: expand, onchange: (e) => go(here + (e.target.checked ? "&expandAll=true" : "")) }), " Expand all (transitive)"),
      h("span", { class: "muted", "data-testid": "dependencies-count" }, `${graph.edges.length} dependenc${graph.edges.length === 1 ? "y" : "ies"}`)),
    graph.edges.length
      ? h("div", { class: "topology" }, svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, "data-testid": "dependencies" },
        svg("defs", {}, svg("marker", { id: "dep-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" }, svg("path", { d: "M0 0 L10 5 L0 10 z", class: "svg-muted" }))), g))
      : h("p", { class: "muted", "data-testid": "dependencies" }, "No flow calls or triggers this one, and it calls or triggers none."));
}

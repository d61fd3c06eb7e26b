// The flow's topology as SVG, drawn from Kestra's flow graph (GET
// /flows/{ns}/{id}/graph, or /executions/{id}/graph for an execution):
// top to bottom by default, left to right at the panel's toggle (the choice
// is kept in localStorage), each cluster (a flowable task: ForEach,
// Parallel, If, Switch…; the triggers; an expanded subflow) a box laid out
// on its own, its items in layers by the graph's edges; task and trigger
// nodes as cards, cluster starts and ends as dots. `topologyView` is the
// panel (zoom, pan, fit, the direction toggle) every page uses.
// With an execution, each task node is coloured by the state of its task
// run (the latest of the task's runs when the graph has none yet).

import { TERMINAL } from "./app.js";

/** Where the direction chosen at the toggle is kept. */
const DIRECTION_KEY = "baton.topology.direction";

/** "TB" (top to bottom, the default) or "LR". */
export function direction() {
  return localStorage.getItem(DIRECTION_KEY) === "LR" ? "LR" : "TB";
}

/** A card's width: wider top to bottom, where width is cheap, so long task ids stay whole. */
const CARD_W = { TB: 240, LR: 170 };
const H = 54;
const DOT = 12;
const GX = 36;
const GY = 22;
const PAD = 14;
const LABEL = 20;
const NS = "http://www.w3.org/2000/svg";
const ERROR_COLOR = "#f04b58";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const kind = (n) => String(n.type || "").split(".").pop();
const isDot = (n) => ["GraphClusterRoot", "GraphClusterEnd", "GraphClusterFinally", "GraphClusterAfterExecution"].includes(kind(n));

/** The state shown for a task: the latest of its runs (RUNNING wins). */
function stateOf(exec, id) {
  if (!exec) return null;
  const runs = exec.taskRunList.filter((t) => t.taskId === id);
  if (!runs.length) return null;
  const running = runs.find((t) => !TERMINAL.includes(t.state.current));
  if (running) return running.state.current;
  if (runs.some((t) => t.state.current === "FAILED")) return "FAILED";
  return runs[runs.length - 1].state.current;
}

/** A node's state: its task run's as the execution now has it. */
function nodeState(n, exec) {
  if (!exec || !n.task) return null;
  if (n.taskRun) return ((exec.taskRunList || []).find((t) => t.id === n.taskRun.id) || n.taskRun).state.current;
  return n.values && n.values.length ? null : stateOf(exec, n.task.id);
}

/** The cluster tree: each cluster's direct items (node uids and cluster uids). */
function tree(graph) {
  const clusters = new Map(graph.clusters.map((c) => [c.cluster.uid, c]));
  const inCluster = new Set(graph.clusters.flatMap((c) => c.nodes));
  const owner = new Map(); // node uid -> the cluster whose start/end it is
  for (const c of graph.clusters) owner.set(c.start, c.cluster.uid).set(c.end, c.cluster.uid);
  const items = new Map();
  const direct = (uid, members) =>
    members.filter((m) => clusters.has(m) ? clusters.get(m).parents.slice(-1)[0] === uid || (uid === "" && !clusters.get(m).parents.length) : !owner.has(m) || owner.get(m) === uid);
  items.set("", direct("", graph.nodes.map((n) => n.uid).filter((u) => !inCluster.has(u)).concat(graph.clusters.filter((c) => !c.parents.length).map((c) => c.cluster.uid))));
  for (const c of graph.clusters) items.set(c.cluster.uid, direct(c.cluster.uid, c.nodes));
  return { clusters, items };
}

/** Lays out cluster `cuid` ("" for the flow): sizes, then positions relative to it. */
function measure(cuid, t, nodes, edges, boxes) {
  const members = t.items.get(cuid) || [];
  const sizes = new Map();
  for (const m of members) {
    if (t.clusters.has(m)) sizes.set(m, measure(m, t, nodes, edges, boxes));
    else sizes.set(m, isDot(nodes.get(m)) ? { w: DOT, h: DOT } : { w: t.cw, h: H });
  }
  // which item of this cluster holds a node uid
  const itemOf = (uid) => {
    if (sizes.has(uid)) return uid;
    for (const m of members) if (t.clusters.has(m) && boxes.get(m).has(uid)) return m;
    return null;
  };
  const contained = new Set(members);
  for (const m of members) if (t.clusters.has(m)) for (const u of boxes.get(m)) contained.add(u);
  boxes.set(cuid, contained);
  // layers: longest path over this cluster's edges between its items
  const next = new Map(members.map((m) => [m, []]));
  const indeg = new Map(members.map((m) => [m, 0]));
  for (const e of edges) {
    const a = itemOf(e.source);
    const b = itemOf(e.target);
    if (a && b && a !== b && !next.get(a).includes(b)) {
      next.get(a).push(b);
      indeg.set(b, indeg.get(b) + 1);
    }
  }
  const layer = new Map(members.map((m) => [m, 0]));
  const queue = members.filter((m) => indeg.get(m) === 0);
  while (queue.length) {
    const m = queue.shift();
    for (const n of next.get(m)) {
      layer.set(n, Math.max(layer.get(n), layer.get(m) + 1));
      indeg.set(n, indeg.get(n) - 1);
      if (indeg.get(n) === 0) queue.push(n);
    }
  }
  const layers = [];
  for (const m of members) (layers[layer.get(m)] ||= []).push(m);
  // along: the axis the layers follow (x left to right, y top to bottom); across: the other
  const tb = t.direction === "TB";
  const along = (s) => (tb ? s.h : s.w);
  const across = (s) => (tb ? s.w : s.h);
  const gapAlong = tb ? GY + 8 : GX;
  const gapAcross = tb ? GX / 2 : GY;
  const top = cuid ? PAD + LABEL : 0;
  const left = cuid ? PAD : 0;
  const spans = layers.map((l = []) => l.reduce((s, m) => s + across(sizes.get(m)), 0) + gapAcross * Math.max(0, l.length - 1));
  const span = Math.max(tb ? t.cw : H, ...spans);
  const place = new Map();
  let a = 0;
  layers.forEach((l = [], i) => {
    const depth = Math.max(0, ...l.map((m) => along(sizes.get(m))));
    let c = (span - spans[i]) / 2;
    for (const m of l) {
      const s = sizes.get(m);
      const pa = a + (depth - along(s)) / 2;
      place.set(m, tb ? { x: left + c, y: top + pa } : { x: left + pa, y: top + c });
      c += across(s) + gapAcross;
    }
    a += depth + gapAlong;
  });
  const length = Math.max(0, a - gapAlong);
  const [w, h] = tb ? [span, length] : [length, span];
  const size = { w: Math.max(w + 2 * left, cuid ? 120 : 0), h: h + top + (cuid ? PAD : 0), place };
  t.sizes.set(cuid, size);
  return size;
}

/** Absolute positions of every node and cluster box. */
function position(cuid, size, x, y, t, out) {
  if (cuid) out.boxes.push({ uid: cuid, x, y, w: size.w, h: size.h });
  for (const [m, p] of size.place) {
    if (t.clusters.has(m)) position(m, t.sizes.get(m), x + p.x, y + p.y, t, out);
    else out.nodes.set(m, { x: x + p.x, y: y + p.y });
  }
}

function card(n, p, exec, W) {
  const trigger = kind(n) === "GraphTrigger";
  const decl = trigger ? n.triggerDeclaration || {} : n.task || {};
  const id = decl.id || n.uid;
  const state = trigger ? null : nodeState(n, exec);
  const branch = n.branchType === "ERROR";
  const color = state ? `var(--${state}, #9ea3b5)` : branch ? ERROR_COLOR : trigger ? "#5dc9a1" : "#3a3f4f";
  const label = (n.values && n.values.length ? `${id} (${n.values.join(", ")})` : id);
  const max = Math.floor((W - 22) / 8); // characters of 13 px bold text that fit
  const attrs = trigger ? { "data-trigger": id } : { "data-task": id, "data-state": state || "", "data-uid": n.uid };
  const g = svg("g", attrs,
    svg("rect", { x: p.x, y: p.y, width: W, height: H, rx: 8, class: "svg-card", style: `stroke: ${color}`, "stroke-width": state ? 2.5 : 1.5, "stroke-dasharray": trigger ? "5 3" : "" }),
    svg("rect", { x: p.x, y: p.y, width: 6, height: H, rx: 3, style: `fill: ${color}` }),
    svg("text", { x: p.x + 14, y: p.y + 22, class: "svg-text", "font-size": 13, "font-weight": 600 }, label.length > max ? label.slice(0, max - 1) + "…" : label),
    svg("text", { x: p.x + 14, y: p.y + 40, class: "svg-muted", "font-size": 11 }, (state ? state + " · " : "") + String(decl.type || "").split(".").pop()));
  g.append(svg("title", {}, `${label}\n${decl.type || ""}${state ? "\n" + state : ""}${n.branchType ? "\n" + n.branchType.toLowerCase() : ""}`));
  return g;
}

/** The SVG of a flow graph, coloured by `exec`'s task runs when given; `dir` "TB" or "LR". */
export function topology(graph, exec, dir = direction()) {
  const nodes = new Map(graph.nodes.map((n) => [n.uid, n]));
  const t = tree(graph);
  t.sizes = new Map();
  t.direction = dir;
  t.cw = CARD_W[dir];
  const size = measure("", t, nodes, graph.edges, new Map());
  const out = { boxes: [], nodes: new Map() };
  position("", size, 20, 20, t, out);
  const g = svg("g", {});
  for (const b of out.boxes) {
    const c = t.clusters.get(b.uid).cluster;
    const task = c.taskNode && c.taskNode.task;
    const name = b.uid.replace(/^cluster_/, "").split(".").pop();
    const color = c.branchType === "ERROR" ? ERROR_COLOR : c.type.endsWith("SubflowGraphCluster") ? "#8405ff" : name === "Triggers" ? "#5dc9a1" : "#6b7086";
    g.append(svg("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 10, fill: "rgba(255,255,255,0.02)", stroke: color, "stroke-dasharray": "4 3", "data-cluster": b.uid }),
      svg("text", { x: b.x + 10, y: b.y + 16, class: "svg-muted", "font-size": 11 }, task ? `${name} · ${String(task.type || "").split(".").pop()}` : name));
  }
  const at = (uid, side) => {
    const p = out.nodes.get(uid);
    if (!p) return null;
    const n = nodes.get(uid);
    const [w, hh] = isDot(n) ? [DOT, DOT] : [t.cw, H];
    if (dir === "TB") return { x: p.x + w / 2, y: side === "out" ? p.y + hh : p.y };
    return { x: side === "out" ? p.x + w : p.x, y: p.y + hh / 2 };
  };
  for (const e of graph.edges) {
    const a = at(e.source, "out");
    const b = at(e.target, "in");
    if (!a || !b) continue;
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2;
    const rel = e.relation && e.relation.relationType;
    g.append(svg("path", {
      d: dir === "TB" ? `M${a.x} ${a.y} C${a.x} ${my} ${b.x} ${my} ${b.x} ${b.y}` : `M${a.x} ${a.y} C${mx} ${a.y} ${mx} ${b.y} ${b.x} ${b.y}`, fill: "none",
      stroke: rel === "ERROR" ? ERROR_COLOR : "#6b7086", "stroke-width": 1.4, "marker-end": "url(#arrow)",
      "stroke-dasharray": nodes.get(e.source) && kind(nodes.get(e.source)) === "GraphTrigger" ? "4 3" : "",
    }));
    if (e.relation && e.relation.value && rel === "CHOICE") g.append(svg("text", { x: mx + (dir === "TB" ? 6 : 0), y: my - 4, fill: "#9ea3b5", "font-size": 10, "text-anchor": dir === "TB" ? "start" : "middle" }, e.relation.value));
  }
  for (const [uid, p] of out.nodes) {
    const n = nodes.get(uid);
    if (isDot(n)) g.append(svg("circle", { cx: p.x + DOT / 2, cy: p.y + DOT / 2, r: DOT / 2 - 1, class: "svg-card", stroke: "#6b7086", "stroke-width": 1.5 }));
    else g.append(card(n, p, exec, t.cw));
  }
  const width = size.w + 40;
  const height = size.h + 40;
  return svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, "data-testid": "topology", "data-direction": dir, "data-width": width, "data-height": height },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" }, svg("path", { d: "M0 0 L10 5 L0 10 z", fill: "#6b7086" }))),
    g);
}

/**
 * The topology panel of `graph` (coloured by `exec` when given): top to
 * bottom, or left to right once toggled (the choice kept for every page).
 */
export function topologyView(graph, exec) {
  const dir = direction();
  const flip = document.createElement("button");
  flip.type = "button";
  flip.className = "small";
  flip.dataset.testid = "topology-direction";
  flip.textContent = dir === "TB" ? "⇄ Horizontal" : "⇅ Vertical";
  flip.title = "Lay the graph out " + (dir === "TB" ? "left to right" : "top to bottom");
  const wrap = zoomable(topology(graph, exec, dir), [flip]);
  flip.addEventListener("click", () => {
    localStorage.setItem(DIRECTION_KEY, dir === "TB" ? "LR" : "TB");
    const next = topologyView(graph, exec);
    wrap.replaceWith(next);
    next.dispatchEvent(new CustomEvent("baton:redrawn", { bubbles: true }));
  });
  return wrap;
}

/**
 * `graph` (an SVG from [`topology`]) in a panel that zooms (wheel, +/-
 * buttons), pans (drag) and fits: a graph wider than the panel opens fitted
 * to it, a small one at 100%. The panel's `data-scale` is the current zoom.
 */
export function zoomable(graph, extra = []) {
  const W = Number(graph.getAttribute("width"));
  const H = Number(graph.getAttribute("height"));
  const view = document.createElement("div");
  view.className = "topo-view";
  view.dataset.testid = "topology-view";
  graph.setAttribute("width", "100%");
  graph.setAttribute("height", "100%");
  graph.setAttribute("preserveAspectRatio", "xMinYMin meet");
  let scale = 1;
  let x = 0;
  let y = 0;
  const apply = () => {
    const pw = view.clientWidth || 1;
    const ph = view.clientHeight || 1;
    graph.setAttribute("viewBox", `${x} ${y} ${pw / scale} ${ph / scale}`);
    view.dataset.scale = scale.toFixed(4);
    label.textContent = `${Math.round(scale * 100)}%`;
  };
  const fitScale = () => Math.min(1, (view.clientWidth || W) / W, (view.clientHeight || H) / H);
  const fit = () => {
    scale = fitScale();
    x = 0;
    y = 0;
    apply();
  };
  /** Zooms by `f` keeping the point under (cx, cy) of the panel in place. */
  const zoom = (f, cx = view.clientWidth / 2, cy = view.clientHeight / 2) => {
    const next = Math.min(4, Math.max(0.05, scale * f));
    x += cx / scale - cx / next;
    y += cy / scale - cy / next;
    scale = next;
    apply();
  };
  view.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = view.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  let drag = null;
  view.addEventListener("pointerdown", (e) => {
    if (e.target.closest && e.target.closest("g[data-task]")) return; // a node is clicked, not dragged
    drag = { px: e.clientX, py: e.clientY, x, y };
    view.classList.add("panning");
    view.setPointerCapture(e.pointerId);
  });
  view.addEventListener("pointermove", (e) => {
    if (!drag) return;
    x = drag.x - (e.clientX - drag.px) / scale;
    y = drag.y - (e.clientY - drag.py) / scale;
    apply();
  });
  const stop = () => {
    drag = null;
    view.classList.remove("panning");
  };
  view.addEventListener("pointerup", stop);
  view.addEventListener("pointercancel", stop);
  const button = (text, title, fn, name) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small";
    b.textContent = text;
    b.title = title;
    b.dataset.zoom = name;
    b.addEventListener("click", fn);
    return b;
  };
  const label = document.createElement("span");
  label.className = "muted";
  const tools = document.createElement("div");
  tools.className = "topo-tools";
  tools.append(button("−", "Zoom out", () => zoom(1 / 1.25), "out"), button("+", "Zoom in", () => zoom(1.25), "in"),
    button("Fit", "Fit to the panel", fit, "fit"), button("100%", "Actual size", () => { scale = 1; x = 0; y = 0; apply(); }, "reset"), label, ...extra);
  view.append(graph);
  const wrap = document.createElement("div");
  wrap.className = "topology";
  wrap.append(tools, view);
  // once in the page: the panel's height follows the fitted graph, and a wide graph opens fitted
  requestAnimationFrame(() => {
    const pw = view.clientWidth || W;
    const fitted = Math.min(1, pw / W);
    view.style.height = `${Math.max(200, Math.min(H * fitted + 4, window.innerHeight * 0.7))}px`;
    if (W > pw) fit();
    else {
      x = -(pw - W) / 2; // a narrow graph (top to bottom) is centred
      apply();
    }
  });
  return wrap;
}

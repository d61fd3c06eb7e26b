// The flow's topology as SVG, drawn from its tasks (the flow JSON): tasks
// in sequence left to right, a flowable task's children (tasks, then, else,
// cases, errors, finally) in a row under it; each node coloured by the
// state of its task runs in the execution, when one is given.

import { TERMINAL } from "./app.js";

const W = 170;
const H = 54;
const GX = 40;
const GY = 30;
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A task's children, by branch name. */
function branches(task) {
  const out = [];
  for (const k of ["tasks", "then", "else", "errors", "finally"]) if (Array.isArray(task[k]) && task[k].length) out.push([k, task[k]]);
  if (task.cases && typeof task.cases === "object") for (const [c, list] of Object.entries(task.cases)) if (Array.isArray(list)) out.push([`case ${c}`, list]);
  if (Array.isArray(task.defaults)) out.push(["defaults", task.defaults]);
  return out;
}

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

/** Lays out `tasks` at (x, y); returns {width, height} in cells, and draws into `g`. */
function layout(g, tasks, x, y, exec, label) {
  let cx = x;
  let maxH = 1;
  let prev = null;
  if (label) g.append(svg("text", { x: x * (W + GX) + 4, y: y * (H + GY) - 6, class: "branch", fill: "#9ea3b5", "font-size": 11 }, label));
  for (const t of tasks) {
    const px = cx * (W + GX);
    const py = y * (H + GY);
    const state = stateOf(exec, t.id);
    const color = state ? `var(--${state}, #9ea3b5)` : "#3a3f4f";
    const node = svg("g", { "data-task": t.id, "data-state": state || "" },
      svg("rect", { x: px, y: py, width: W, height: H, rx: 8, fill: "#21242e", stroke: color, "stroke-width": state ? 2.5 : 1.5 }),
      svg("rect", { x: px, y: py, width: 6, height: H, rx: 3, fill: color }),
      svg("text", { x: px + 14, y: py + 22, fill: "#e8e9ee", "font-size": 13, "font-weight": 600 }, t.id.length > 20 ? t.id.slice(0, 19) + "…" : t.id),
      svg("text", { x: px + 14, y: py + 40, fill: "#9ea3b5", "font-size": 11 }, (state ? state + " · " : "") + String(t.type || "").split(".").pop()));
    node.append(svg("title", {}, `${t.id}\n${t.type || ""}${state ? "\n" + state : ""}`));
    g.append(node);
    if (prev) g.append(svg("line", { x1: prev.x + W, y1: prev.y + H / 2, x2: px, y2: py + H / 2, stroke: "#6b7086", "stroke-width": 1.5, "marker-end": "url(#arrow)" }));
    prev = { x: px, y: py };
    let width = 1;
    let row = y + 1;
    for (const [name, children] of branches(t)) {
      g.append(svg("path", { d: `M${px + 20} ${py + H} V${row * (H + GY) + H / 2} H${cx * (W + GX) + (children.length ? 0 : 0)}`, stroke: "#6b7086", fill: "none", "stroke-dasharray": "4 3" }));
      const size = layout(g, children, cx, row, exec, name);
      width = Math.max(width, size.width);
      row += size.height;
    }
    maxH = Math.max(maxH, row - y);
    cx += width;
  }
  return { width: Math.max(1, cx - x), height: maxH };
}

/** The SVG of `flow`'s tasks, coloured by `exec`'s task runs. */
export function topology(flow, exec) {
  const g = svg("g", { transform: "translate(20 24)" });
  const size = layout(g, flow.tasks || [], 0, 0, exec, "");
  if (Array.isArray(flow.errors) && flow.errors.length) {
    const s = layout(g, flow.errors, 0, size.height, exec, "errors");
    size.height += s.height;
    size.width = Math.max(size.width, s.width);
  }
  const width = size.width * (W + GX) + 20;
  const height = size.height * (H + GY) + 30;
  return svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, "data-testid": "topology" },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" }, svg("path", { d: "M0 0 L10 5 L0 10 z", fill: "#6b7086" }))),
    g);
}

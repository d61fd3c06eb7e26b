// An execution's Gantt: one row per task run, placed on the execution's
// time span, nested under the task run that made it (a ForEach's
// iterations under the ForEach, indented), a retried task run drawn as one
// bar per attempt in its own state (the gap between them the retry's
// wait), and each row opening in place to its task run's logs
// (GET /logs/{id}?taskRunId=…).

import { api, h, stateBadge, fmtMs, span, enc, errorBox, TERMINAL } from "./app.js";

/** The task runs in tree order (each after its parent, children in their order), with their depth. */
export function treeOrder(runs) {
  const ids = new Set(runs.map((t) => t.id));
  const children = new Map();
  for (const t of runs) {
    const p = t.parentTaskRunId && ids.has(t.parentTaskRunId) ? t.parentTaskRunId : "";
    children.set(p, [...(children.get(p) || []), t]);
  }
  const out = [];
  const seen = new Set();
  const walk = (parent, depth) => {
    for (const t of children.get(parent) || []) {
      if (seen.has(t.id)) continue; // a malformed parent chain is drawn once
      seen.add(t.id);
      out.push([t, depth]);
      walk(t.id, depth + 1);
    }
  };
  walk("", 0);
  for (const t of runs) if (!seen.has(t.id)) out.push([t, 0]);
  return out;
}

/**
 * The Gantt of `e`; `expanded` (task-run ids) says which rows show their
 * logs and is updated by the rows' toggles; `replayFrom(e, tr)` makes a
 * row's Replay button.
 */
export function gantt(e, expanded, replayFrom) {
  const all = span(e.state);
  const total = Math.max(1, all.end - all.start);
  const bar = (s, state, title, attempt) => {
    const left = Math.max(0, ((s.start - all.start) / total) * 100);
    const width = Math.max(0.5, Math.min(100 - left, (s.ms / total) * 100));
    return h("div", { class: "bar", title, "data-attempt": attempt, style: { left: left + "%", width: width + "%", background: `var(--${state}, var(--CREATED))` } });
  };
  const rows = treeOrder(e.taskRunList).map(([tr, depth]) => {
    const s = span(tr.state);
    const attempts = (tr.attempts || []).filter((a) => a && a.state && (a.state.startDate || (a.state.histories || []).length));
    const bars = attempts.length > 1
      ? attempts.map((a, i) => {
        const as = span(a.state);
        return bar(as, a.state.current, `attempt ${i + 1}: ${a.state.current}, ${fmtMs(as.ms)}`, i + 1);
      })
      : [bar(s, tr.state.current, tr.state.current, 1)];
    const logs = h("div", { class: "gantt-logs logs", "data-logs-of": tr.id, hidden: !expanded.has(tr.id) });
    const load = () => runLogs(e, tr, logs);
    if (expanded.has(tr.id)) load();
    const toggle = h("button", { class: "small toggle", "data-expand": tr.taskId + (tr.value ? `:${tr.value}` : ""), "aria-expanded": String(expanded.has(tr.id)), title: "Show this task run's logs", onclick: () => {
      const open = !expanded.has(tr.id);
      if (open) expanded.add(tr.id);
      else expanded.delete(tr.id);
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = open ? "▾" : "▸";
      logs.hidden = !open;
      if (open) load();
    } }, expanded.has(tr.id) ? "▾" : "▸");
    return [
      h("span", { class: "name", style: { paddingLeft: `${depth * 14}px` }, "data-depth": depth }, toggle, " ",
        h("a", { href: `#/executions/${enc(e.id)}?tab=logs&taskId=${enc(tr.taskId)}`, title: tr.taskId }, tr.taskId + (tr.value ? ` (${tr.value})` : ""))),
      h("div", { class: "bar-wrap", "data-task": tr.taskId, "data-attempts": attempts.length }, bars),
      h("span", {}, fmtMs(s.ms), " ", stateBadge(tr.state.current), attempts.length > 1 ? h("span", { class: "muted", "data-testid": "attempts" }, ` ${attempts.length} attempts`) : "",
        // Kestra's "Replay" of a task run: a new execution keeping what ran before it
        TERMINAL.includes(e.state.current) ? [" ", replayFrom(e, tr)] : ""),
      logs,
    ];
  });
  if (!rows.length) return h("p", { class: "muted" }, "No task runs yet.");
  return h("div", { class: "panel gantt", "data-testid": "gantt" }, h("strong", {}, "Task"), h("span", { class: "muted" }, `${fmtMs(total)} in all`), h("strong", {}, "Duration"), rows.flat());
}

/** Fills `box` with task run `tr`'s log lines (all levels). */
async function runLogs(e, tr, box) {
  try {
    const lines = await api(`/logs/${enc(e.id)}?taskRunId=${enc(tr.id)}&minLevel=TRACE`);
    box.replaceChildren(...(lines.length
      ? lines.map((l) => h("div", { class: "row" }, h("span", { class: "muted" }, new Date(l.timestamp).toISOString().slice(11, 23), " "), h("span", { class: `lvl lvl-${l.level}` }, l.level), " ", l.message))
      : [h("span", { class: "muted" }, "No logs.")]));
  } catch (err) {
    box.replaceChildren(errorBox(err));
  }
}

// One execution: overview (state, inputs, labels, trigger), the Gantt of its
// task runs (gantt.js), per-task logs, the topology coloured by task-run state,
// outputs and output files (preview, download) with the debug-expression
// box, task metrics (metrics.js), and Kill / Restart /
// Replay (of the whole execution, or from a task run in the Gantt), Set
// labels, Change state and Previous / Next (execution_actions.js), and
// Resume of a PAUSED one (with its Pause's onResume inputs). While it runs it follows GET /executions/{id}/follow (server-sent
// events), polling every second if the stream breaks.

import { api, h, stateBadge, fmtDate, fmtMs, span, enc, go, errorBox, toast, TERMINAL, canonicalExecution } from "./app.js";
import { topologyView } from "./topology.js";
import { resumeDialog } from "./inputs.js";
import { endedActions, evalBox, neighbours } from "./execution_actions.js";
import { gantt } from "./gantt.js";

const TABS = ["overview", "gantt", "logs", "topology", "outputs", "metrics"];

export async function render(main, id, query) {
  const tab = TABS.includes(query.get("tab")) ? query.get("tab") : "overview";
  let exec = await api(`/executions/${enc(id)}`);
  canonicalExecution(exec);
  const header = h("div");
  const body = h("div", { "data-testid": "tab-" + tab });
  main.append(header, neighbours(exec),
    h("div", { class: "tabs" }, TABS.map((t) => h("a", { href: `#/executions/${enc(id)}?tab=${t}`, class: t === tab ? "active" : "" }, t[0].toUpperCase() + t.slice(1)))),
    body);
  let logFilter = query.get("taskId") || "";
  let logLevel = query.get("minLevel") || "INFO";
  let metricTask = query.get("taskId") || "";
  let metricPage = Number(query.get("page")) || 1;
  const expanded = new Set(); // the Gantt rows opened to their logs, kept across live redraws
  const draw = async () => {
    drawHeader(header, exec);
    if (tab === "overview") body.replaceChildren(overview(exec));
    else if (tab === "gantt") body.replaceChildren(gantt(exec, expanded, replayFrom));
    else if (tab === "logs") body.replaceChildren(await logs(exec, logFilter, logLevel, (t, l) => { logFilter = t; logLevel = l; draw(); }));
    else if (tab === "topology") {
      const graph = await api(`/executions/${enc(exec.id)}/graph`).catch((e) => e);
      body.replaceChildren(graph instanceof Error ? errorBox(graph) : topologyView(graph, exec));
      // a node opens that task's logs (one listener, whichever direction the graph is drawn in)
      if (!body.dataset.nodeClicks) {
        body.dataset.nodeClicks = "1";
        body.addEventListener("click", (ev) => {
          const g = ev.target instanceof Element ? ev.target.closest("[data-testid=topology] g[data-task]") : null;
          if (g) go(`#/executions/${enc(id)}?tab=logs&taskId=${enc(g.dataset.task)}`);
        });
      }
    } else if (tab === "metrics") {
      const { executionMetrics } = await import("./metrics.js");
      body.replaceChildren(await executionMetrics(exec, metricTask, metricPage, (t, p) => { metricTask = t; metricPage = p; draw(); }));
    } else {
      // the debug-expression box keeps what is typed in it as the execution moves on
      const box = body.querySelector("[data-testid=eval-box]");
      if (!box) body.replaceChildren(outputs(exec), evalBox(exec));
      else {
        body.firstChild.replaceWith(outputs(exec));
        box.update(exec);
      }
    }
  };
  await draw();
  if (TERMINAL.includes(exec.state.current)) return;
  // live updates: server-sent events, polling when the stream fails
  let closed = false;
  let timer = null;
  const update = async (next) => {
    exec = next;
    await draw().catch((e) => body.replaceChildren(errorBox(e)));
  };
  const poll = async () => {
    if (closed) return;
    try {
      await update(await api(`/executions/${enc(id)}`));
    } catch (e) {
      toast(e.message, true);
    }
    if (!TERMINAL.includes(exec.state.current)) timer = setTimeout(poll, 1000);
  };
  const events = new EventSource(`/api/v1/executions/${enc(id)}/follow`);
  events.onmessage = (m) => update(JSON.parse(m.data));
  events.onerror = () => {
    events.close();
    if (!closed && !TERMINAL.includes(exec.state.current)) poll();
  };
  return () => {
    closed = true;
    events.close();
    clearTimeout(timer);
  };
}

/** A button calling `/executions/{id}/{path}`; opens the execution it answers (a replay's new one). */
function action(e, label, path, method, attrs = {}, ask = null) {
  return h("button", { ...attrs, onclick: async () => {
    if (ask && !confirm(ask)) return;
    try {
      const r = await api(`/executions/${enc(e.id)}/${path}`, { method });
      toast(`${label}: done`);
      if (r && r.id && r.id !== e.id) go(`#/executions/${enc(r.id)}`);
      else window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (err) {
      toast(err.message, true);
    }
  } }, label);
}

/** Kestra's "Replay" of a task run: a new execution keeping what ran before it. */
function replayFrom(e, tr) {
  const name = tr.taskId + (tr.value ? ` (${tr.value})` : "");
  const b = action(e, "Replay from here", `replay?taskRunId=${enc(tr.id)}`, "POST",
    { class: "small", "data-replay": tr.taskId + (tr.value ? `:${tr.value}` : ""), title: "Replay the execution from this task run: a new execution keeps what ran before it and runs this task and what follows again" },
    `Replay from task ${name}? A new execution keeps what ran before it and runs it and what follows again.`);
  // inside a log group's header: a click replays, it does not fold the group
  b.addEventListener("click", (ev) => ev.preventDefault());
  return b;
}

function drawHeader(header, e) {
  const running = !TERMINAL.includes(e.state.current);
  const act = (label, path, method, cls) => action(e, label, path, method, { class: cls || "" });
  header.replaceChildren(h("h1", {},
    h("span", { class: "ns" }, `${e.namespace}.`), h("a", { href: `#/flows/${enc(e.namespace)}/${enc(e.flowId)}` }, e.flowId),
    h("span", { class: "muted" }, e.id), h("span", { "data-testid": "execution-state" }, stateBadge(e.state.current)),
    h("span", { class: "grow" }),
    e.state.current === "PAUSED" ? resumeButton(e) : "",
    running ? act("Kill", "kill", "DELETE", "danger") : "",
    !running && e.state.current !== "SUCCESS" ? act("Restart", "restart", "POST") : "",
    !running ? act("Replay", "replay", "POST") : "",
    endedActions(e),
    !running ? deleteButton(e) : ""));
}

/** Kestra's Resume of a PAUSED execution: a dialog with its onResume inputs, then the page follows it on. */
function resumeButton(e) {
  return h("button", { class: "primary", "data-testid": "resume", onclick: async () => {
    try {
      await resumeDialog(e, () => {
        toast("Resume: done");
        window.dispatchEvent(new HashChangeEvent("hashchange"));
      });
    } catch (err) {
      toast(err.message, true);
    }
  } }, "Resume");
}

/** Kestra's Delete of an ended execution: with its logs and files, then back to the list. */
function deleteButton(e) {
  return h("button", { class: "danger", onclick: async () => {
    if (!confirm(`Delete execution ${e.id} with its logs and files?`)) return;
    try {
      await api(`/executions/${enc(e.id)}`, { method: "DELETE" });
      toast("Delete: done");
      go("#/executions");
    } catch (err) {
      toast(err.message, true);
    }
  } }, "Delete");
}

function overview(e) {
  const s = span(e.state);
  // a row without a value (no original execution) is left out
  const dl = (pairs) => h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  return h("div", {},
    h("div", { class: "panel" }, dl([
      ["State", stateBadge(e.state.current)],
      ["Namespace", e.namespace],
      ["Flow", `${e.flowId} (revision ${e.flowRevision})`],
      ["Created", fmtDate((e.state.histories[0] || {}).date)],
      ["Duration", fmtMs(s.ms)],
      ["Labels", h("span", { "data-testid": "labels" }, (e.labels || []).map((l) => h("span", { class: "state", style: { background: "var(--panel2)", color: "var(--text)", marginRight: "4px" } }, `${l.key}:${l.value}`)))],
      ["Trigger", e.trigger ? `${e.trigger.id} (${e.trigger.type})` : "manual"],
      ["Original execution", e.originalId && e.originalId !== e.id ? h("a", { href: `#/executions/${enc(e.originalId)}` }, e.originalId) : ""],
    ])),
    e.error ? h("div", { class: "error-box" }, e.error) : "",
    h("h2", {}, "Inputs"),
    Object.keys(e.inputs || {}).length
      ? h("table", { "data-testid": "inputs" }, h("tbody", {}, Object.entries(e.inputs).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, valueView(e, v))))))
      : h("p", { class: "muted" }, "No inputs."),
    h("h2", {}, "States"),
    h("table", {}, h("tbody", {}, e.state.histories.map((x) => h("tr", {}, h("td", {}, stateBadge(x.state)), h("td", {}, fmtDate(x.date)))))));
}

async function logs(e, taskId, minLevel, change) {
  const q = new URLSearchParams({ minLevel });
  if (taskId) q.set("taskId", taskId);
  const lines = await api(`/logs/${enc(e.id)}?${q}`);
  const tasks = [...new Set(e.taskRunList.map((t) => t.taskId))];
  const taskSel = h("select", { name: "taskId", onchange: (ev) => change(ev.target.value, minLevel) }, h("option", { value: "" }, "All tasks"), tasks.map((t) => h("option", { value: t, selected: t === taskId }, t)));
  const lvlSel = h("select", { name: "minLevel", onchange: (ev) => change(taskId, ev.target.value) }, ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].map((l) => h("option", { value: l, selected: l === minLevel }, l)));
  return h("div", {},
    h("div", { class: "filters" }, taskSel, lvlSel, h("a", { class: "btn", href: `/api/v1/logs/${enc(e.id)}/download`, download: `${e.id}.log` }, "Download")),
    logFiles(e, taskId),
    h("div", { class: "logs", "data-testid": "logs" }, lines.length ? grouped(e, lines) : h("span", { class: "muted" }, "No logs.")));
}

/** Links to the attempts' log files (lines past the task's log volume bound, or all with logToFile). */
function logFiles(e, taskId) {
  const files = e.taskRunList.filter((t) => !taskId || t.taskId === taskId).flatMap((t) =>
    (t.attempts || []).map((a, i) => a.logFile && h("a", { class: "btn", "data-testid": "log-file", href: `/api/v1/executions/${enc(e.id)}/file?path=${enc(a.logFile)}`, download: "" }, `${t.taskId} attempt ${i + 1} log file`)).filter(Boolean));
  return files.length ? h("div", { class: "filters" }, h("span", { class: "muted" }, "Log files:"), files) : "";
}

function logRow(l) {
  return h("div", { class: "row" }, h("span", { class: "muted" }, new Date(l.timestamp).toISOString().slice(11, 23), " "), h("span", { class: `lvl lvl-${l.level}` }, l.level), l.message);
}

/** Log lines under their task run (as Kestra groups them): a header with the task, its value, state and duration. */
function grouped(e, lines) {
  const byRun = new Map();
  for (const l of lines) byRun.set(l.taskRunId || "", [...(byRun.get(l.taskRunId || "") || []), l]);
  const out = [];
  if (byRun.has("")) out.push(h("div", { class: "log-group", "data-task-run": "execution" }, h("div", { class: "log-head" }, h("strong", {}, "Execution")), byRun.get("").map(logRow)));
  for (const tr of e.taskRunList) {
    const mine = byRun.get(tr.id);
    if (!mine) continue;
    out.push(h("details", { class: "log-group", open: true, "data-task": tr.taskId },
      h("summary", { class: "log-head" }, h("strong", {}, tr.taskId), tr.value ? h("span", { class: "muted" }, ` ${tr.value}`) : "", " ", stateBadge(tr.state.current), h("span", { class: "muted" }, ` ${fmtMs(span(tr.state).ms)} · ${mine.length} lines`),
        TERMINAL.includes(e.state.current) ? [" ", replayFrom(e, tr)] : ""),
      mine.map(logRow)));
  }
  return out;
}

/** A value, with kestra:// files as preview and download links. */
function valueView(e, v) {
  if (typeof v === "string" && v.startsWith("kestra://")) {
    const path = `/executions/${enc(e.id)}/file?path=${enc(v)}`;
    const out = h("div");
    return h("span", { class: "file" },
      h("code", {}, v.split("/").pop()), " ",
      h("a", { class: "btn", href: "/api/v1" + path, download: v.split("/").pop() }, "Download"), " ",
      h("button", { onclick: async () => {
        try {
          const p = await api(`/executions/${enc(e.id)}/file/preview?path=${enc(v)}`);
          out.replaceChildren(h("pre", { "data-testid": "preview" }, p.content), p.truncated ? h("p", { class: "muted" }, "(truncated)") : "");
        } catch (err) {
          out.replaceChildren(errorBox(err));
        }
      } }, "Preview"), out);
  }
  if (v !== null && typeof v === "object") return h("pre", {}, JSON.stringify(v, null, 2));
  return h("code", {}, String(v));
}

function outputs(e) {
  const rows = [];
  for (const tr of e.taskRunList) for (const [k, v] of Object.entries(tr.outputs || {})) rows.push(h("tr", {}, h("td", {}, tr.taskId + (tr.value ? ` (${tr.value})` : "")), h("td", {}, k), h("td", {}, valueView(e, v))));
  for (const [k, v] of Object.entries(e.outputs || {})) rows.push(h("tr", {}, h("td", {}, h("em", {}, "flow")), h("td", {}, k), h("td", {}, valueView(e, v))));
  if (!rows.length) return h("p", { class: "muted" }, "No outputs.");
  return h("table", { "data-testid": "outputs" }, h("thead", {}, h("tr", {}, ["Task", "Output", "Value"].map((t) => h("th", {}, t)))), h("tbody", {}, rows));
}

// The execution page's Kestra actions beyond Kill/Restart/Replay: Set
// labels (POST /executions/{id}/labels) and Change state (POST
// /executions/{id}/change-status) of an ended execution, each in a dialog
// that shows the server's refusal in place; and the debug-expression box of
// the Outputs tab, which renders an expression in the execution's context
// or a task run's (POST /executions/{id}/eval[/{taskRunId}]), as Kestra's
// "Debug outputs" does; Previous / Next: the flow's executions started
// just before and just after this one.

import { api, h, dialog, errorBox, enc, toast, TERMINAL } from "./app.js";

/** The end states an execution can be moved to (the server's rule: any end state; KILLED ones stay). */
const END_STATES = ["SUCCESS", "WARNING", "FAILED", "CANCELLED", "SKIPPED", "KILLED"];

const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

/** The header's actions for an ended execution: Set labels, and Change state unless it was killed. */
export function endedActions(e) {
  if (!TERMINAL.includes(e.state.current)) return [];
  return [
    h("button", { "data-testid": "set-labels", onclick: () => labelsDialog(e) }, "Set labels"),
    e.state.current !== "KILLED" ? h("button", { "data-testid": "change-state", onclick: () => stateDialog(e) }, "Change state") : "",
  ];
}

/**
 * Kestra's Set labels: one row per label (key, value, a remove button) and
 * "Add a label". Saving sends the whole list, so a removed row removes the
 * label (Kestra since 0.22); system labels (system.*) are not shown and stay.
 */
function labelsDialog(e) {
  const rows = h("div", { class: "label-rows", "data-testid": "label-rows" });
  const addRow = (key = "", value = "") => {
    const row = h("div", { class: "row label-row" },
      h("input", { name: "key", placeholder: "key", value: key, "aria-label": "label key" }),
      h("input", { name: "value", placeholder: "value", value: value, "aria-label": "label value" }),
      h("button", { type: "button", class: "remove-label", title: "Remove this label", onclick: () => row.remove() }, "Remove"));
    rows.append(row);
    return row;
  };
  for (const l of (e.labels || []).filter((l) => !l.key.startsWith("system."))) addRow(l.key, l.value);
  const out = h("div");
  const submit = async (ev) => {
    ev.preventDefault();
    const labels = [...rows.querySelectorAll(".label-row")]
      .map((r) => ({ key: r.querySelector("[name=key]").value.trim(), value: r.querySelector("[name=value]").value }))
      .filter((l) => l.key || l.value);
    const bad = labels.find((l) => !l.key);
    if (bad) {
      out.replaceChildren(errorBox(`the label with value '${bad.value}' needs a key`));
      return;
    }
    try {
      await api(`/executions/${enc(e.id)}/labels`, { method: "POST", json: labels });
      d.close();
      toast("Set labels: done");
      reload();
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
  };
  const body = h("form", { class: "form", onsubmit: submit, "data-testid": "labels-form" },
    h("p", { class: "muted" }, "The execution's labels: remove a row to remove its label. System labels (system.*) are Baton's own and stay."),
    rows,
    h("div", { class: "row" }, h("button", { type: "button", "data-testid": "add-label", onclick: () => addRow().querySelector("input").focus() }, "Add a label")),
    out,
    h("div", { class: "row" }, h("button", { type: "button", onclick: () => d.close() }, "Cancel"), h("button", { class: "primary", type: "submit" }, "Save")));
  if (!rows.children.length) addRow();
  const d = dialog(`Set labels of ${e.id}`, body);
  return d;
}

/** Kestra's Change state: an ended execution said to have ended in another end state. */
function stateDialog(e) {
  const select = h("select", { name: "status" }, END_STATES.filter((s) => s !== e.state.current).map((s) => h("option", { value: s }, s)));
  const out = h("div");
  const submit = async (ev) => {
    ev.preventDefault();
    try {
      await api(`/executions/${enc(e.id)}/change-status?status=${enc(select.value)}`, { method: "POST" });
      d.close();
      toast(`Change state: ${select.value}`);
      reload();
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
  };
  const body = h("form", { class: "form", onsubmit: submit, "data-testid": "state-form" },
    h("p", { class: "muted" }, `The execution ended ${e.state.current}. Flow triggers listening for the new state start.`),
    h("label", {}, h("span", {}, "New state"), select),
    out,
    h("div", { class: "row" }, h("button", { type: "button", onclick: () => d.close() }, "Cancel"), h("button", { class: "primary", type: "submit" }, "Change")));
  const d = dialog(`Change the state of ${e.id}`, body);
  return d;
}

/**
 * The debug-expression box: an expression rendered in the execution's
 * context, or in one task run's (`taskrun`, `parents`…); the answer is the
 * result, or the renderer's error, as the server says it. `update(e)`
 * refreshes its list of task runs.
 */
export function evalBox(e) {
  const where = h("select", { name: "taskRunId" });
  const options = (x) => {
    const chosen = where.value;
    where.replaceChildren(h("option", { value: "" }, "Execution"),
      ...x.taskRunList.map((tr) => h("option", { value: tr.id, selected: tr.id === chosen }, tr.taskId + (tr.value ? ` (${tr.value})` : ""))));
  };
  options(e);
  const expr = h("textarea", { name: "expression", rows: 2, placeholder: "{{ outputs.first.value }}", spellcheck: "false" });
  const out = h("div", { "data-testid": "eval-result" });
  const submit = async (ev) => {
    ev.preventDefault();
    const path = `/executions/${enc(e.id)}/eval${where.value ? "/" + enc(where.value) : ""}`;
    try {
      const r = await api(path, { method: "POST", body: expr.value, headers: { "Content-Type": "text/plain" } });
      if (r && r.error !== undefined && r.error !== null) out.replaceChildren(h("div", { class: "error-box", "data-eval": "error" }, r.error));
      else {
        const v = r ? r.result : null;
        out.replaceChildren(h("pre", { "data-eval": "result" }, typeof v === "string" ? v : JSON.stringify(v, null, 2)));
      }
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
  };
  const form = h("form", { class: "panel form", onsubmit: submit, "data-testid": "eval-box" },
    h("h2", {}, "Debug expression"),
    h("div", { class: "filters" }, h("span", { class: "muted" }, "Render in the context of"), where),
    expr,
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Render")),
    out);
  // a running execution's new task runs join the list; what is typed stays
  form.update = options;
  return form;
}

/**
 * Previous / Next: links to the executions of the same flow (its namespace
 * exactly) started just before and just after this one, found with two
 * searches of at most 3 results each; a missing one is shown disabled.
 */
export function neighbours(e) {
  const box = h("div", { class: "filters", "data-testid": "neighbours" });
  const start = e.state.startDate || ((e.state.histories || [])[0] || {}).date;
  if (!start) return box;
  const find = async (op, dir) => {
    const q = new URLSearchParams({ "filters[namespace][EQUALS]": e.namespace, "filters[flowId][EQUALS]": e.flowId, [`filters[startDate][${op}]`]: start, sort: `state.startDate:${dir}`, size: "3" });
    const page = await api(`/executions/search?${q}`);
    return ((page && page.results) || []).find((x) => x.id !== e.id) || null;
  };
  const link = (x, testid, label) => x
    ? h("a", { class: "btn", href: `#/executions/${enc(x.id)}`, "data-testid": testid, title: `${x.id} (${x.state.current})` }, label)
    : h("span", { class: "btn muted", "aria-disabled": "true", "data-testid": testid + "-none" }, label);
  Promise.all([find("LESS_THAN_OR_EQUAL_TO", "desc"), find("GREATER_THAN_OR_EQUAL_TO", "asc")])
    .then(([before, after]) => box.replaceChildren(link(before, "previous", "← Previous"), link(after, "next", "Next →")))
    .catch((err) => box.replaceChildren(errorBox(err)));
  return box;
}

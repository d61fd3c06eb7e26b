// Triggers: every flow trigger (GET /triggers/search) with its schedule
// state, enable/disable, and the backfill dialog (start, end, inputs,
// labels) that sends Kestra's PUT /triggers; a running backfill's progress
// is shown and refreshed, with pause/resume.

import { api, h, fmtDate, toast, dialog, errorBox, enc } from "./app.js";
import { inputsForm, labelLines } from "./inputs.js";

export async function render(main) {
  main.append(h("h1", {}, "Triggers"));
  return list(main, null);
}

/** The triggers table in `main`; only flow `only` ({namespace, flowId}) when given. */
export async function list(main, only) {
  const body = h("tbody");
  main.append(
    h("table", { "data-testid": "triggers" },
      h("thead", {}, h("tr", {}, ["Id", "Flow", "Type", "Last date", "Next execution", "Backfill", "", ""].map((t) => h("th", {}, t)))),
      body));
  let timer = null;
  const load = async () => {
    const res = await api("/triggers/search?page=1&size=200");
    if (only) res.results = res.results.filter((r) => r.triggerContext.namespace === only.namespace && r.triggerContext.flowId === only.flowId);
    body.replaceChildren(...res.results.map((r) => row(r, load)));
    if (!res.results.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No triggers.")));
    const running = res.results.some((r) => r.triggerContext.backfill && r.triggerContext.backfill.state === "RUNNING");
    clearTimeout(timer);
    if (running) timer = setTimeout(() => load().catch((e) => toast(e.message, true)), 1000);
  };
  await load();
  return () => clearTimeout(timer);
}

function row(r, reload) {
  const t = r.abstractTrigger;
  const c = r.triggerContext;
  const key = { namespace: c.namespace, flowId: c.flowId, triggerId: c.triggerId };
  const act = (label, fn) => h("button", { onclick: async () => {
    try {
      await fn();
      await reload();
    } catch (e) {
      toast(e.message, true);
    }
  } }, label);
  const b = c.backfill;
  let backfill = "";
  if (b) {
    const p = b.progress || {};
    const done = (p.succeeded || 0) + (p.failed || 0) + (p.skipped || 0);
    const pct = p.total ? Math.round((done / p.total) * 100) : 0;
    backfill = h("div", { "data-testid": "backfill", "data-state": b.state },
      h("div", { class: "progress", title: `${pct}%` }, h("div", { style: { width: pct + "%" } })),
      h("span", { class: "muted" }, `${b.state} · ${p.launched || 0} launched, ${done}/${p.total || 0} done${p.failed ? `, ${p.failed} failed` : ""}`),
      b.state === "RUNNING" ? act("Pause", () => api("/triggers/backfill/pause", { method: "PUT", json: key })) : "",
      b.state === "PAUSED" ? act("Resume", () => api("/triggers/backfill/unpause", { method: "PUT", json: key })) : "",
      b.error ? h("div", { class: "error", "data-testid": "backfill-error" }, b.error) : "");
  }
  const schedule = /Schedule$/.test(t.type || "");
  return h("tr", { "data-trigger": `${c.namespace}.${c.flowId}.${c.triggerId}`, "data-disabled": c.disabled ? "true" : "false" },
    h("td", {}, c.triggerId, c.disabled ? h("span", { class: "muted", "data-testid": "trigger-disabled" }, " (disabled)") : ""),
    h("td", {}, h("span", { class: "ns" }, c.namespace + "."), h("a", { href: `#/flows/${enc(c.namespace)}/${enc(c.flowId)}` }, c.flowId)),
    h("td", {}, String(t.type || "").split(".").pop(), t.cron ? h("code", {}, ` ${t.cron}`) : ""),
    h("td", {}, fmtDate(c.date)),
    h("td", {}, fmtDate(c.nextExecutionDate)),
    h("td", {}, backfill),
    h("td", {}, schedule ? h("button", { class: "primary", onclick: () => backfillDialog(c, reload) }, "Backfill executions") : ""),
    h("td", {}, act(c.disabled ? "Enable" : "Disable", () => api("/triggers", { method: "PUT", json: { ...key, disabled: !c.disabled } }))));
}

async function backfillDialog(c, reload) {
  const flow = await api(`/flows/${enc(c.namespace)}/${enc(c.flowId)}`);
  const form = inputsForm(flow.inputs, false);
  const start = h("input", { type: "datetime-local", name: "start", step: "1", required: true });
  const end = h("input", { type: "datetime-local", name: "end", step: "1" });
  const labels = h("textarea", { name: "labels", rows: 2, placeholder: "key:value, one per line" });
  const out = h("div");
  const submit = async (ev) => {
    ev.preventDefault();
    const iso = (el) => (el.value ? new Date(el.value).toISOString() : null);
    const backfill = {
      start: iso(start),
      end: iso(end),
      inputs: form.values(),
      labels: labelLines(labels.value).map((l) => ({ key: l.slice(0, l.indexOf(":")), value: l.slice(l.indexOf(":") + 1) })),
    };
    try {
      await api("/triggers", { method: "PUT", json: { namespace: c.namespace, flowId: c.flowId, triggerId: c.triggerId, backfill } });
      d.close();
      toast("Backfill started");
      await reload();
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  const d = dialog(`Backfill ${c.flowId} · ${c.triggerId}`, h("form", { class: "form", onsubmit: submit, "data-testid": "backfill-form" },
    h("label", {}, h("span", { class: "req" }, "Start date"), start),
    h("label", {}, h("span", {}, "End date"), end, h("span", { class: "hint" }, "empty: until now")),
    form.elements.length ? [h("h2", {}, "Inputs"), ...form.elements] : "",
    h("label", {}, h("span", {}, "Labels"), labels),
    out,
    h("div", { class: "row" }, h("button", { type: "button", onclick: () => d.close() }, "Cancel"), h("button", { class: "primary", type: "submit" }, "Execute backfill"))));
}

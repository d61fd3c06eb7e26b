// The tabs of a flow's page besides Source and Topology: its Executions
// and Triggers (the global lists, filtered to the flow and kept on its
// page), Revisions (revisions.js), Dependencies (dependencies.js) and
// Metrics (metrics.js), Tests (tests.js); and
// the flow's Disable/Enable and Delete.

import { api, h, toast, enc, go } from "./app.js";

export async function render(tab, box, flow, query) {
  const ns = flow.namespace;
  const id = flow.id;
  if (tab === "executions") {
    // the list's own parameters; `tab` is in its address already
    const own = new URLSearchParams(query);
    own.delete("tab");
    return (await import("./executions.js")).list(box, own, { base: `#/flows/${enc(ns)}/${enc(id)}?tab=executions`, fixed: { namespace: ns, flowId: id } });
  }
  if (tab === "triggers") return (await import("./triggers.js")).list(box, { namespace: ns, flowId: id });
  if (tab === "revisions") return (await import("./revisions.js")).revisionsTab(box, ns, id, query);
  if (tab === "dependencies") return (await import("./dependencies.js")).dependenciesTab(box, ns, id, query);
  if (tab === "metrics") return (await import("./metrics.js")).flowMetrics(box, ns, id, query);
  if (tab === "tests") return (await import("./tests.js")).testsTab(box, ns, id);
  box.append(h("p", { class: "muted" }, `no tab '${tab}'`));
}

/** The source with its top-level `disabled:` set to `value` (added when absent). */
export function withDisabled(source, value) {
  const line = /^disabled:.*$/m;
  if (line.test(source)) return source.replace(line, `disabled: ${value}`);
  return source.replace(/\n*$/, "\n") + `disabled: ${value}\n`;
}

/** Disables or enables the flow: its source saved with `disabled:` flipped, as Kestra's UI does. */
export async function toggleFlow(flow) {
  const next = !flow.disabled;
  try {
    await api(`/flows/${enc(flow.namespace)}/${enc(flow.id)}`, { method: "PUT", body: withDisabled(flow.source, next), headers: { "Content-Type": "application/x-yaml" } });
    toast(`${flow.namespace}.${flow.id} ${next ? "disabled" : "enabled"}`);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } catch (e) {
    toast(e.message, true);
  }
}

/** Deletes the flow (DELETE /flows/{ns}/{id}) after a confirmation; back to the flows list. */
export async function deleteFlow(flow) {
  if (!confirm(`Delete flow ${flow.namespace}.${flow.id}? Its executions are kept.`)) return;
  try {
    await api(`/flows/${enc(flow.namespace)}/${enc(flow.id)}`, { method: "DELETE" });
    toast(`${flow.namespace}.${flow.id} deleted`);
    go("#/flows");
  } catch (e) {
    toast(e.message, true);
  }
}

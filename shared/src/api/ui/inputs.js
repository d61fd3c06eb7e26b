// Typed input forms generated from a flow's `inputs` (STRING, INT, FLOAT,
// BOOLEAN, SELECT, MULTISELECT, ARRAY, DATE, DATETIME, TIME, JSON, FILE…),
// the Execute dialog that sends them as Kestra's multipart form to
// POST /executions/{namespace}/{id}, and the Resume dialog of a paused
// execution (its Pause's `onResume` inputs, to POST /executions/{id}/resume).

import { api, h, dialog, errorBox, enc, go } from "./app.js";

const text = (v) => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v));

/** One input's field; `read()` gives its value (undefined when empty). */
function field(input, withFiles) {
  const type = (input.type || "STRING").toUpperCase();
  const name = input.id;
  // `prefill` starts the field as `defaults` would, but is only the form's
  const def = input.defaults ?? input.prefill;
  let el;
  let read = () => (el.value === "" ? undefined : el.value);
  switch (type) {
    case "INT":
    case "INTEGER":
    case "FLOAT":
      el = h("input", { type: "number", name, step: type === "FLOAT" ? "any" : "1", value: text(def), min: input.min, max: input.max });
      break;
    case "BOOLEAN":
    case "BOOL":
      el = h("select", { name }, ["", "true", "false"].map((v) => h("option", { value: v, selected: text(def) === v }, v || "—")));
      break;
    case "SELECT":
    case "ENUM":
      el = h("select", { name }, h("option", { value: "" }, "—"), (input.values || []).map((v) => h("option", { value: v, selected: text(def) === v }, v)));
      break;
    case "MULTISELECT":
      el = h("select", { name, multiple: true, size: Math.min(6, (input.values || []).length || 1) },
        (input.values || []).map((v) => h("option", { value: v, selected: Array.isArray(def) && def.includes(v) }, v)));
      read = () => {
        const v = [...el.selectedOptions].map((o) => o.value);
        return v.length ? JSON.stringify(v) : undefined;
      };
      break;
    case "ARRAY":
      el = h("textarea", { name, rows: 3, placeholder: "one item per line" }, Array.isArray(def) ? def.join("\n") : text(def));
      read = () => {
        const items = el.value.split("\n").map((s) => s.trim()).filter(Boolean);
        return items.length ? JSON.stringify(items) : undefined;
      };
      break;
    case "DATE":
      el = h("input", { type: "date", name, value: text(def) });
      break;
    case "TIME":
      el = h("input", { type: "time", name, step: "1", value: text(def) });
      break;
    case "DATETIME":
      el = h("input", { type: "datetime-local", name, step: "1", value: text(def).replace(/Z$/, "").slice(0, 19) });
      read = () => (el.value ? new Date(el.value).toISOString() : undefined);
      break;
    case "JSON":
    case "YAML":
      el = h("textarea", { name, rows: 4 }, text(def));
      break;
    case "FILE":
      el = h("input", { type: "file", name, disabled: !withFiles });
      read = () => (el.files && el.files[0]) || undefined;
      break;
    default:
      el = h("input", { type: type === "SECRET" ? "password" : "text", name, value: text(def) });
  }
  const required = input.required !== false && (def === undefined || def === null);
  const label = h("label", { "data-input": name },
    h("span", { class: required ? "req" : "" }, input.displayName || name, h("span", { class: "muted" }, `  ${type}${input.itemType ? ` of ${input.itemType}` : ""}`)),
    el,
    input.description ? h("span", { class: "hint" }, input.description) : "",
    type === "FILE" && !withFiles ? h("span", { class: "hint" }, "files cannot be given here") : "");
  // a dynamic input's rendered values (`expression`), kept selected where they still are
  const setValues = (values) => {
    if (el.tagName !== "SELECT" || type === "BOOLEAN" || type === "BOOL") return;
    const chosen = new Set([...el.selectedOptions].map((o) => o.value));
    const opts = (values || []).map((v) => h("option", { value: v, selected: chosen.has(v) }, v));
    if (type === "MULTISELECT") el.replaceChildren(...opts);
    else el.replaceChildren(h("option", { value: "" }, "—"), ...opts);
  };
  return { name, label, read, setValues };
}

/** True when the form must ask the server (dependsOn, a SELECT's expression). */
const isDynamic = (inputs) => (inputs || []).some((i) => i.dependsOn || i.expression || i.autoSelectFirst);

/** A form for `inputs`; `values()` gives {name: value} of the filled ones. */
export function inputsForm(inputs, withFiles = true) {
  const fields = (inputs || []).map((i) => field(i, withFiles));
  return {
    elements: fields.map((f) => f.label),
    /** Applies Kestra's validate answer: rendered values, disabled inputs hidden. */
    apply(answer) {
      for (const r of (answer && answer.inputs) || []) {
        const f = fields.find((x) => x.name === (r.input && r.input.id));
        if (!f) continue;
        if (r.input.expression) f.setValues(r.input.values);
        // (an inline style: the form's CSS gives labels a display that beats `hidden`)
        f.label.hidden = r.enabled === false;
        f.label.style.display = r.enabled === false ? "none" : "";
      }
    },
    values() {
      const out = {};
      for (const f of fields) {
        if (f.label.hidden) continue;
        const v = f.read();
        if (v !== undefined) out[f.name] = v;
      }
      return out;
    },
  };
}

/** `key:value` lines → Kestra's `labels` query parameters. */
export function labelLines(textValue) {
  return textValue.split("\n").map((s) => s.trim()).filter((s) => s.includes(":"));
}

/** The Execute dialog of a flow: typed inputs and labels, then the new execution's page. */
export function executeDialog(flow) {
  const form = inputsForm(flow.inputs);
  const labels = h("textarea", { name: "labels", rows: 2, placeholder: "key:value, one per line" });
  const out = h("div");
  const submit = async (ev) => {
    ev.preventDefault();
    const data = new FormData();
    for (const [k, v] of Object.entries(form.values())) data.append(k, v);
    const q = labelLines(labels.value).map((l) => `labels=${enc(l)}`).join("&");
    try {
      const e = await api(`/executions/${enc(flow.namespace)}/${enc(flow.id)}${q ? "?" + q : ""}`, { method: "POST", body: data });
      d.close();
      go(`#/executions/${enc(e.id)}`);
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  const body = h("form", { class: "form", onsubmit: submit, "data-testid": "execute-form" },
    form.elements.length ? form.elements : h("p", { class: "muted" }, "This flow has no inputs."),
    h("label", {}, h("span", {}, "Labels"), labels),
    out,
    h("div", { class: "row" }, h("button", { type: "button", onclick: () => d.close() }, "Cancel"), h("button", { class: "primary", type: "submit" }, "Execute")));
  const d = dialog(`Execute ${flow.namespace}.${flow.id}`, body);
  if (isDynamic(flow.inputs)) {
    // Kestra's execute form: the server renders dependsOn and expressions as the values change.
    // Answers can come back out of order (an expression may run a subflow): only the answer to
    // the latest change is applied, so an older one never redraws the form over a newer one.
    let asked = 0;
    const refresh = async () => {
      const mine = ++asked;
      try {
        const answer = await api(`/executions/${enc(flow.namespace)}/${enc(flow.id)}/validate`, { method: "POST", json: form.values() });
        if (mine === asked) form.apply(answer);
      } catch (e) {
        if (mine === asked) out.replaceChildren(errorBox(e));
      }
    };
    body.addEventListener("change", refresh);
    refresh();
  }
  return d;
}

/**
 * The Resume dialog of a PAUSED execution: the paused Pause task's
 * `onResume` inputs (read from POST /executions/{id}/resume/validate, which
 * answers their definitions), sent as Kestra's multipart form to
 * POST /executions/{id}/resume. A refusal (an input that does not fit, an
 * execution no longer paused) is shown in the dialog; `done()` runs once
 * the resume is accepted.
 */
export async function resumeDialog(execution, done) {
  const check = await api(`/executions/${enc(execution.id)}/resume/validate`, { method: "POST", json: {} });
  const defs = (check.inputs || []).map((i) => i.input);
  const form = inputsForm(defs);
  const out = h("div");
  const submit = async (ev) => {
    ev.preventDefault();
    const data = new FormData();
    for (const [k, v] of Object.entries(form.values())) data.append(k, v);
    try {
      await api(`/executions/${enc(execution.id)}/resume`, { method: "POST", body: data });
      d.close();
      done();
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  const body = h("form", { class: "form", onsubmit: submit, "data-testid": "resume-form" },
    form.elements.length ? form.elements : h("p", { class: "muted" }, "The paused task asks for no inputs."),
    out,
    h("div", { class: "row" }, h("button", { type: "button", onclick: () => d.close() }, "Cancel"), h("button", { class: "primary", type: "submit" }, "Resume")));
  const d = dialog(`Resume ${execution.namespace}.${execution.flowId} ${execution.id}`, body);
  return d;
}

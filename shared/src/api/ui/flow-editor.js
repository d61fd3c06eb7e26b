// The flow editor on the flow page and the new-flow page: the CodeMirror
// bundle (editor.js, built from ui/editor/ by scripts/build-editor.sh) with
// completion, hover and a documentation panel from the flow schema
// (GET /plugins/schemas/flow), validation as you type by the server's own
// POST /flows/validate, Ctrl/Cmd-S to save, and the Validate / Save /
// Cancel buttons. Falls back to a plain text box if the bundle fails. The
// test editor (tests.js) is the same editor with the test file's schema
// and validator (`schema`, `validate` options). With `topology`, the panel
// beside the editor switches between the documentation and the flow's live
// topology (live_topology.js).

import { api, h, errorBox } from "./app.js";
import { errorsByLine, highlighted } from "./flows.js";

let schemaPromise = null;

/** The flow schema, fetched once per page load (null when the server has none). */
export function flowSchema() {
  if (!schemaPromise) schemaPromise = api("/plugins/schemas/flow").catch(() => null);
  return schemaPromise;
}

let styled = false;

/** Adds the editor's stylesheet (editor.css) to the page once. */
export function loadStyle() {
  if (styled) return;
  styled = true;
  document.head.append(h("link", { rel: "stylesheet", href: "/ui/editor.css" }));
}

const validateFlow = (text) => api("/flows/validate", { method: "POST", body: text, headers: { "Content-Type": "application/x-yaml" } });

/**
 * A YAML editor in `box`: Validate shows errors at their line, Save (or
 * Ctrl/Cmd-S) validates then calls `save(text)`. `opts.schema` (a schema or
 * its promise) and `opts.validate(text)` (answering as POST /flows/validate)
 * replace the flow's.
 */
export async function editor(box, source, save, cancel, opts = {}) {
  const validateText = opts.validate || validateFlow;
  const schema = opts.schema || flowSchema();
  const out = h("div");
  const host = h("div", { class: "editor-host", "data-testid": "editor" });
  const docs = h("aside", { class: "doc-panel", "data-testid": "doc-panel", "aria-label": "Plugin documentation" });
  let text = () => source;
  const validate = async () => {
    const value = text();
    const errors = errorsByLine(await validateText(value));
    out.replaceChildren(
      errors.size
        ? h("pre", { class: "source", "data-testid": "validation" }, highlighted(value, errors))
        : h("p", { class: "muted", "data-testid": "validation" }, "Valid."),
    );
    return errors.size === 0;
  };
  let saving = false;
  const onSave = async () => {
    if (saving) return;
    saving = true;
    try {
      if (await validate()) await save(text());
    } catch (e) {
      out.replaceChildren(errorBox(e));
    } finally {
      saving = false;
    }
  };
  // beside the editor: the plugin documentation or, for a flow, its live topology
  let side = docs;
  let live = null;
  if (opts.topology) {
    const { liveTopology } = await import("./live_topology.js");
    live = liveTopology(() => text(), () => !live.pane.hidden);
    live.pane.hidden = true;
    const tab = (label, name, pane) => h("button", { type: "button", class: "small", "data-side": name, onclick: () => {
      docs.hidden = pane !== docs;
      live.pane.hidden = pane !== live.pane;
      for (const b of switcher.querySelectorAll("button")) b.classList.toggle("primary", b.dataset.side === name);
      live.now();
    } }, label);
    const switcher = h("div", { class: "side-switch" }, tab("Documentation", "docs", docs), tab("Topology", "topology", live.pane));
    switcher.firstChild.classList.add("primary");
    side = h("div", { class: "editor-side" }, switcher, docs, live.pane);
  }
  box.replaceChildren(
    h("div", { class: "flow-editor" }, host, side),
    h("div", { class: "filters", style: { marginTop: "10px" } },
      h("button", { onclick: () => validate().catch((e) => out.replaceChildren(errorBox(e))) }, "Validate"),
      h("button", { class: "primary", onclick: onSave }, "Save"),
      h("button", { onclick: cancel }, "Cancel"),
      h("span", { class: "muted" }, "Ctrl-Space completes, Ctrl/Cmd-S saves, Tab indents")),
    out,
  );
  try {
    loadStyle();
    const { createEditor } = await import("./editor.js");
    // the live topology redraws from the editor's own change callback
    const onChange = live ? () => live.changed() : undefined;
    const ed = createEditor(host, { doc: source, schema, validate: validateText, onSave, onChange, docPanel: docs });
    text = ed.text;
    host.batonEditor = ed; // for tests and the console: text(), setText(), view
    ed.focus();
    return () => {
      if (live) live.stop();
      ed.destroy();
    };
  } catch (e) {
    const area = h("textarea", { name: "source", rows: Math.max(12, source.split("\n").length + 2), style: { width: "100%" }, spellcheck: "false" }, source);
    if (live) area.addEventListener("input", () => live.changed());
    host.replaceChildren(area);
    docs.replaceChildren(errorBox(`the editor could not load: ${e.message || e}`));
    text = () => area.value;
    return live ? () => live.stop() : null;
  }
}

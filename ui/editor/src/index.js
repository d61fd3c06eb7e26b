//! Baton's flow editor: CodeMirror 6 with YAML, driven by the flow schema
//! (`GET /api/v1/plugins/schemas/flow`) and the server's own validator
//! (`POST /api/v1/flows/validate`). Bundled by scripts/build-editor.sh
//! (npm ci + esbuild) into one ES module, shared/src/api/ui/editor.js, and
//! one stylesheet, editor.css, embedded in the binary.
//!
//! Why CodeMirror 6 and not Monaco: it is modular (only the YAML,
//! autocomplete, lint, search and history pieces are bundled: a few hundred
//! kB against Monaco's several MB), it needs no web workers (Monaco's YAML
//! service runs in one, which a strict `script-src 'self'` CSP and one
//! embedded file make awkward), it works with touch and screen readers, and
//! it is maintained (releases every few weeks). Monaco-yaml's JSON-schema
//! completion is the one thing it would give for free; the schema here is
//! Baton's own shape (types picked by `type:`, aliases, `$outputs`), which
//! schema.js walks in ~200 lines, so nothing is lost.
//!
//! `createEditor(parent, options)` is the whole interface (see its doc).

import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection, hoverTooltip } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { indentUnit, indentService, bracketMatching, foldGutter, foldKeymap } from "@codemirror/language";
import { autocompletion, completionKeymap, startCompletion, acceptCompletion, completionStatus, closeCompletion, selectedCompletionIndex } from "@codemirror/autocomplete";
import { linter, lintGutter, lintKeymap, forceLinting } from "@codemirror/lint";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { yaml } from "@codemirror/lang-yaml";

import { contextAt, wordAt, indentAfter } from "./yamlpath.js";
import { completions, hoverAt, definitionOf } from "./schema.js";
import { expressionAt, expressionCompletions, flowFacts } from "./expressions.js";
import { showDoc } from "./docpanel.js";
import { diagnosticsOf } from "./diagnostics.js";
import { look } from "./theme.js";

export { contextAt, wordAt, completions, diagnosticsOf, expressionAt, expressionCompletions, flowFacts, indentAfter, showDoc };

/** The plugin type of the block around `offset`: the innermost mapping with a `type:` the schema knows. */
export function blockTypeAt(schema, text, offset) {
  if (!schema) return null;
  const ctx = contextAt(text, offset);
  const candidates = [ctx.keys, ...[...ctx.path].reverse().map((s) => s.keys)];
  for (const keys of candidates) {
    const t = keys && keys.get("type");
    const d = t && definitionOf(schema, t);
    if (d) return d.name;
  }
  return null;
}

function completionSource(getSchema) {
  return (context) => {
    const schema = getSchema();
    if (!schema) return null;
    const text = context.state.doc.toString();
    // inside `{{ … }}`: variables, the flow's names, functions and filters
    const expr = expressionCompletions(schema, text, context.pos);
    if (expr) {
      if (!expr.items.length) return null;
      return {
        from: expr.from,
        validFor: /^\w*$/,
        options: expr.items.map((c) => ({ label: c.label, detail: c.detail, info: c.info, type: c.type, boost: c.boost, apply: c.dotless ? applyBracket(c.label) : c.apply })),
      };
    }
    const ctx = contextAt(text, context.pos);
    if (ctx.kind === "none" && ctx.reason && context.explicit) {
      // asked for (Ctrl-Space) where the editor cannot read the context: say why
      return { from: context.pos, options: [{ label: "no completion here", detail: ctx.reason, type: "text", apply: "" }] };
    }
    if (ctx.kind === "none") return null;
    if (!context.explicit && ctx.prefix === "" && ctx.kind === "value") return null;
    const items = completions(schema, ctx);
    if (!items.length) return null;
    return {
      from: ctx.from,
      validFor: /^[\w.@$-]*$/,
      options: items.map((c) => ({
        label: c.label,
        detail: c.detail,
        info: c.info,
        type: c.type,
        boost: c.boost,
        required: c.required,
        apply: ctx.kind === "key" ? applyKey(c) : c.apply,
      })),
    };
  };
}

/** The red `*` after a required property's name in the completion list (as the doc panel marks it). */
function requiredMark(completion) {
  if (!completion.required) return null;
  const mark = document.createElement("span");
  mark.className = "cm-baton-required";
  mark.title = "required";
  mark.textContent = "*";
  return mark;
}

/** A name that is not an identifier (`my-task`) as `['my-task']`, replacing the dot before it. */
function applyBracket(label) {
  return (view, _completion, from, to) => {
    const start = view.state.sliceDoc(from - 1, from) === "." ? from - 1 : from;
    const insert = `['${label}']`;
    view.dispatch({ changes: { from: start, to, insert }, selection: { anchor: start + insert.length }, userEvent: "input.complete" });
  };
}

/** The indentation after a line that opens a block (`key:`), from yamlpath.indentAfter. */
const indentAfterKey = indentService.of((cx, pos) => {
  const line = cx.lineAt(pos, -1);
  let before = line.text.slice(0, pos - line.from);
  if (line.from === pos) {
    if (pos === 0) return undefined;
    before = cx.lineAt(pos - 1, -1).text;
  }
  const n = indentAfter(before);
  return n === null ? undefined : n;
});

/** Inserts `key: ` (or a block opener) and opens the value's completions right away. */
function applyKey(c) {
  return (view, _completion, from, to) => {
    const insert = c.apply || `${c.label}: `;
    view.dispatch({ changes: { from, to, insert }, selection: { anchor: from + insert.length }, userEvent: "input.complete" });
    setTimeout(() => startCompletion(view), 0);
  };
}

function hover(getSchema) {
  return hoverTooltip((view, pos) => {
    const schema = getSchema();
    const text = view.state.doc.toString();
    const word = wordAt(text, pos);
    if (!schema || !word) return null;
    const ctx = contextAt(text, word.what === "key" ? word.to : text.lastIndexOf("\n", word.from - 1) + 1 + word.col + word.key.length);
    const doc = hoverAt(schema, ctx.path, ctx.root, ctx.keys, word);
    if (!doc) return null;
    return {
      pos: word.from,
      end: word.to,
      above: true,
      create() {
        const dom = document.createElement("div");
        dom.className = "cm-baton-hover";
        const t = document.createElement("div");
        t.className = "cm-baton-hover-title";
        t.textContent = doc.title;
        const s = document.createElement("div");
        s.className = "cm-baton-hover-sub";
        s.textContent = doc.subtitle;
        const b = document.createElement("div");
        b.className = "cm-baton-hover-body";
        b.textContent = doc.body;
        dom.append(t, s, b);
        return { dom };
      },
    };
  });
}

/**
 * Creates the editor in `parent`. Options:
 * - `doc`: the initial YAML;
 * - `schema`: the flow schema, or a promise of it (completion, hover and
 *   the doc panel start when it resolves);
 * - `validate(text)`: resolves to the answer of POST /flows/validate;
 * - `onSave(text)`: called on Ctrl/Cmd-S;
 * - `docPanel`: an element to fill with the documentation of the block
 *   under the cursor.
 * Returns `{ view, text(), setText(s), focus(), validateNow(), destroy() }`.
 */
export function createEditor(parent, options = {}) {
  let schema = null;
  const getSchema = () => schema;
  const panel = options.docPanel || null;
  let docTimer = null;
  const refreshDoc = (view) => {
    if (!panel) return;
    clearTimeout(docTimer);
    docTimer = setTimeout(() => {
      const name = blockTypeAt(schema, view.state.doc.toString(), view.state.selection.main.head);
      if (panel.dataset.type !== (name || "")) showDoc(panel, schema, name);
    }, 60);
  };
  const lint = options.validate
    ? linter(
        async (view) => {
          const text = view.state.doc.toString();
          try {
            const answer = await options.validate(text);
            if (view.state.doc.toString() !== text) return [];
            return diagnosticsOf(view.state.doc, answer);
          } catch (e) {
            return [{ from: 0, to: 0, severity: "warning", message: `could not validate: ${e && e.message ? e.message : e}` }];
          }
        },
        { delay: 300 },
      )
    : [];
  const save = (view) => {
    if (options.onSave) options.onSave(view.state.doc.toString());
    return true;
  };
  // Tab with a list open accepts its highlighted option (and never indents,
  // even in the first 75 ms when CodeMirror does not accept yet)
  const tab = (view) => (completionStatus(view.state) === "active" ? acceptCompletion(view) || true : false);
  // Enter breaks the line while typing; it accepts a suggestion only when
  // one was chosen with the arrows (Tab accepts the highlighted one)
  const enter = (view) => {
    const status = completionStatus(view.state);
    if (!status) return false;
    if (status === "active" && (selectedCompletionIndex(view.state) || 0) > 0) return acceptCompletion(view);
    // also a query still pending: its list must not open after the break
    closeCompletion(view);
    return false;
  };
  const completionKeys = completionKeymap.filter((b) => b.key !== "Enter");
  const extensions = [
    lineNumbers(),
    highlightActiveLineGutter(),
    foldGutter(),
    history(),
    drawSelection(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    bracketMatching(),
    look,
    yaml(),
    indentUnit.of("  "),
    EditorState.tabSize.of(2),
    indentAfterKey,
    autocompletion({ override: [completionSource(getSchema)], activateOnTyping: true, icons: false, maxRenderedOptions: 200, defaultKeymap: false, addToOptions: [{ render: requiredMark, position: 60 }] }),
    hover(getSchema),
    lint,
    lintGutter(),
    keymap.of([{ key: "Mod-s", run: save, preventDefault: true }, { key: "Tab", run: tab }, { key: "Enter", run: enter }, ...completionKeys, indentWithTab, ...defaultKeymap, ...historyKeymap, ...foldKeymap, ...searchKeymap, ...lintKeymap]),
    EditorView.updateListener.of((u) => {
      if (u.selectionSet || u.docChanged) refreshDoc(u.view);
      if (u.docChanged && options.onChange) options.onChange(u.state.doc.toString());
    }),
    EditorView.contentAttributes.of({ "aria-label": "Flow YAML", "data-testid": "editor-content" }),
  ];
  const view = new EditorView({ parent, state: EditorState.create({ doc: options.doc || "", extensions }) });
  Promise.resolve(options.schema)
    .then((s) => {
      schema = s || null;
      if (panel) showDoc(panel, schema, blockTypeAt(schema, view.state.doc.toString(), view.state.selection.main.head));
    })
    .catch(() => {
      if (panel) panel.textContent = "The plugin documentation could not be loaded.";
    });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText: (s) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: s } }),
    focus: () => view.focus(),
    validateNow: () => forceLinting(view),
    destroy: () => {
      clearTimeout(docTimer);
      view.destroy();
    },
  };
}

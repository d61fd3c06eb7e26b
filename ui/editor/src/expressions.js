//! Completion inside `{{ … }}` (and `{% … %}`): the context's variables,
//! the renderer's functions and filters — all from the flow schema's
//! `$expressions`, which the server builds from the renderer and the
//! context it renders with (template::Renderer::vocabulary,
//! executor::context::ROOTS), so nothing here is a list of its own — and
//! the flow's own names read from the text being edited: input ids after
//! `inputs.`, task ids after `outputs.`, a task type's declared outputs
//! (`$outputs`) after `outputs.<taskId>.`, variable keys after `vars.`, the
//! triggers' outputs after `trigger.` (never the task being written nor a
//! flowable holding it: their outputs do not exist yet where the cursor
//! is). Works on any line, block scalars (`script: |`) and quoted strings
//! included, and an expression opened on an earlier line of the same
//! scalar is read from its `{{` (see `scalarStart`). Pure: no DOM.

import { readLines, pathTo, mappingAt } from "./yamlpath.js";
import { definitionOf } from "./schema.js";

const TASK_LISTS = new Set(["tasks", "errors", "finally", "afterExecution"]);
const unquote = (v) => (v || "").replace(/^(["'])(.*)\1$/, "$2");

/**
 * The expression being typed at `offset`, or null outside `{{ }}`:
 * `{ kind: "root" | "member" | "filter", path, prefix, from }` where `path`
 * is the member chain before the last dot (`outputs.x[taskrun.value].` →
 * `["outputs", "x", "[]"]`) and `prefix` the word typed so far.
 */
export function expressionAt(text, offset) {
  const head = text.slice(scalarStart(text, offset), offset);
  const open = Math.max(head.lastIndexOf("{{"), head.lastIndexOf("{%"));
  if (open < 0) return null;
  const expr = head.slice(open + 2);
  if (/\}\}|%\}/.test(expr)) return null;
  // inside a string literal of the expression: nothing to complete
  const strings = [];
  const bare = expr.replace(/'[^']*'|"[^"]*"/g, (q) => `\u0000${strings.push(q.slice(1, -1)) - 1}\u0000`);
  if (/['"]/.test(bare)) return null;
  let m = /\|\s*([A-Za-z_]\w*)?$/.exec(bare);
  if (m) return { kind: "filter", path: [], prefix: m[1] || "", from: offset - (m[1] || "").length };
  m = /([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^[\]]*\])*)\.([A-Za-z_]\w*)?$/.exec(bare);
  if (m) {
    const path = [];
    for (const seg of m[1].match(/[A-Za-z_]\w*|\[[^[\]]*\]/g)) {
      const quoted = /^\[\s*\u0000(\d+)\u0000\s*\]$/.exec(seg);
      path.push(seg.startsWith("[") ? (quoted ? strings[Number(quoted[1])] : "[]") : seg);
    }
    return { kind: "member", path, prefix: m[2] || "", from: offset - (m[2] || "").length };
  }
  m = /(?:^|[^\w.\]])([A-Za-z_]\w*)?$/.exec(bare);
  if (m) return { kind: "root", path: [], prefix: m[1] || "", from: offset - (m[1] || "").length };
  return null;
}

/** The most lines an expression is read back over (a `{{` opened higher up is not looked for). */
export const MAX_EXPRESSION_LINES = 50;

/**
 * Where the scalar holding `offset` starts, for an expression opened on an
 * earlier line: the first body line of a block scalar (`message: |`), or
 * the key line of a quoted or plain scalar continued on lines without a
 * key; else the start of the cursor's line. At most
 * [`MAX_EXPRESSION_LINES`] lines back.
 */
function scalarStart(text, offset) {
  const all = text.slice(0, offset).split("\n");
  const lines = readLines(all);
  const last = lines.length - 1;
  const stop = Math.max(0, last - MAX_EXPRESSION_LINES);
  let pos = offset - all[last].length;
  const cur = lines[last];
  if (cur.scalar) {
    // a block scalar's body: back to its first line
    for (let i = last - 1; i >= stop && lines[i].scalar; i--) pos -= all[i].length + 1;
    return pos;
  }
  if (cur.blank || cur.key || cur.dash) return pos;
  // a continuation line (no key): back to the key line the scalar starts on
  const lineStart = pos;
  for (let i = last - 1; i >= stop; i--) {
    pos -= all[i].length + 1;
    const l = lines[i];
    if (l.scalar) return lineStart;
    if (l.key || l.dash) return pos;
  }
  return lineStart;
}

/**
 * The names a flow declares, read from its YAML by indentation (works on
 * half-typed text): `{ inputs: [{id, type}], tasks: [{id, type}],
 * triggers: [{id, type}], vars: [key] }`. Tasks nested in flowables count.
 */
export function flowFacts(text) {
  const all = text.split("\n");
  const lines = readLines(all);
  const facts = { inputs: [], tasks: [], triggers: [], vars: [] };
  lines.forEach((l, i) => {
    if (l.blank || l.key !== "id" || !l.value) return;
    const { segs } = pathTo(lines, i, l.keyCol);
    const top = segs[0] && segs[0].key;
    const last = segs[segs.length - 1];
    const keys = last && (last.keys || (segs.length > 1 && segs[segs.length - 2].keys));
    const item = { id: unquote(l.value), type: keys && keys.get("type") ? unquote(keys.get("type")) : "" };
    if (top === "inputs" && segs.length === 2) facts.inputs.push(item);
    else if (top === "triggers" && segs.length === 2) facts.triggers.push(item);
    else if (TASK_LISTS.has(top) && item.type) facts.tasks.push(item);
  });
  // the keys of the root `variables:` mapping
  const at = lines.findIndex((l) => !l.blank && l.lead === 0 && l.key === "variables");
  if (at >= 0) {
    let col = -1;
    for (let i = at + 1; i < lines.length; i++) {
      const l = lines[i];
      if (l.blank) continue;
      if (l.lead === 0) break;
      if (col < 0) col = l.lead;
      if (l.lead === col && !l.dash && l.key) facts.vars.push(l.key);
    }
  }
  return facts;
}

/**
 * The ids of the mappings around `offset` (the task being written and the
 * flowables holding it): its line is read from the key line that owns it
 * (the `key: |` of a block scalar, the key line of a continued scalar).
 */
export function enclosingIds(text, offset) {
  const all = text.split("\n");
  const lines = readLines(all);
  let at = text.slice(0, offset).split("\n").length - 1;
  while (at > 0 && (lines[at].blank || (!lines[at].key && !lines[at].dash))) at--;
  const l = lines[at];
  const ids = new Set();
  if (!l || l.blank) return ids;
  const { segs } = pathTo(lines, at, l.keyCol);
  const own = mappingAt(lines, at, l.keyCol).keys;
  for (const keys of [own, ...segs.map((x) => x.keys)]) {
    const id = keys && keys.get("id");
    if (id) ids.add(unquote(id));
  }
  return ids;
}

const item = (label, type, detail, info, boost = 0) => ({ label, type, detail, info, boost });

/** The outputs a type declares (`$outputs` of its definition). */
function outputsOf(schema, type) {
  const d = type && definitionOf(schema, type);
  return d && d.def.$outputs ? Object.entries(d.def.$outputs) : [];
}

/** Completions for the expression at `offset`: `{ from, items }`, or null outside `{{ }}`. */
export function expressionCompletions(schema, text, offset) {
  const e = expressionAt(text, offset);
  if (!e) return null;
  const vocab = (schema && schema.$expressions) || { roots: [], functions: [], filters: [] };
  const items = [];
  if (e.kind === "filter") {
    for (const f of vocab.filters) items.push(item(f, "method", "filter"));
  } else if (e.kind === "root") {
    for (const r of vocab.roots) items.push(item(r.name, "variable", "variable", r.description, 10));
    for (const f of vocab.functions) items.push({ ...item(f, "function", "function"), apply: `${f}(` });
  } else {
    const facts = flowFacts(text);
    const [root, ...rest] = e.path;
    if (root === "inputs" && rest.length === 0) {
      for (const i of facts.inputs) items.push(item(i.id, "property", i.type ? `input · ${i.type}` : "input"));
    } else if (root === "outputs" && rest.length === 0) {
      const own = enclosingIds(text, offset);
      for (const t of facts.tasks.filter((x) => !own.has(x.id))) {
        items.push({ ...item(t.id, "property", `task · ${t.type.split(".").pop()}`, t.type), dotless: !/^[A-Za-z_]\w*$/.test(t.id) });
      }
    } else if (root === "outputs" && rest.length >= 1 && rest.slice(1).every((s) => s === "[]" || /^\d+$/.test(s))) {
      // `outputs.x.` or, in a ForEach, `outputs.x[taskrun.value].`
      const task = facts.tasks.find((t) => t.id === rest[0]);
      for (const [name, o] of outputsOf(schema, task && task.type)) items.push(item(name, "property", `output · ${o.type || ""}`, o.description));
    } else if (root === "vars" && rest.length === 0) {
      for (const v of facts.vars) items.push(item(v, "property", "variable"));
    } else if (root === "trigger" && rest.length === 0) {
      const seen = new Set(["id", "type"]);
      items.push(item("id", "property", "trigger"), item("type", "property", "trigger"));
      for (const t of facts.triggers) {
        for (const [name, o] of outputsOf(schema, t.type)) {
          if (seen.has(name)) continue;
          seen.add(name);
          items.push(item(name, "property", `${t.id} · ${o.type || ""}`, o.description));
        }
      }
    } else if (rest.length === 0) {
      const r = vocab.roots.find((x) => x.name === root);
      for (const f of (r && r.fields) || []) items.push(item(f, "property", root));
    }
  }
  return { from: e.from, prefix: e.prefix, items };
}

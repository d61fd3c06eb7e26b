//! The documentation panel beside the editor: for the plugin block under
//! the cursor, its type, title, description, a properties table (name,
//! type, required, default, description), its outputs and its example,
//! all read from the flow schema's definition. Markdown is rendered by a
//! small safe subset (paragraphs, fenced code, `code`, **bold**, lists)
//! into DOM nodes, never as HTML, so a description cannot inject markup.

import { typeLabel, deref } from "./schema.js";

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Inline markdown (`code`, **bold**, [text](link)) as nodes. */
function inline(text) {
  const out = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(el("code", {}, m[1]));
    else if (m[2] !== undefined) out.push(el("strong", {}, m[2]));
    else out.push(m[3]);
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** A markdown subset as a fragment (see the module header). */
export function markdown(text) {
  const frag = document.createDocumentFragment();
  const lines = (text || "").split("\n");
  let para = [];
  let list = null;
  const flush = () => {
    if (para.length) frag.append(el("p", {}, inline(para.join(" "))));
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*```(\w*)/.exec(line);
    if (fence) {
      flush();
      list = null;
      const body = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) body.push(lines[i]);
      frag.append(el("pre", { class: "doc-code" }, el("code", {}, body.join("\n"))));
      continue;
    }
    const item = /^\s*[-*]\s+(.*)$/.exec(line);
    if (item) {
      flush();
      if (!list) frag.append((list = el("ul")));
      list.append(el("li", {}, inline(item[1])));
      continue;
    }
    const head = /^#{1,6}\s+(.*)$/.exec(line);
    if (head) {
      flush();
      list = null;
      frag.append(el("h4", {}, inline(head[1])));
      continue;
    }
    if (!line.trim()) {
      flush();
      list = null;
      continue;
    }
    para.push(line.trim());
  }
  flush();
  return frag;
}

const sentence = (s) => (s && !/[.!?:]$/.test(s) ? s + "." : s);

/** Fills `panel` with the documentation of definition `name` (or a hint when none). */
export function showDoc(panel, root, name) {
  const def = name && root && root.definitions && root.definitions[name];
  if (!def) {
    panel.replaceChildren(el("p", { class: "doc-hint" }, "Put the cursor in a task, trigger or condition to read its documentation here."));
    panel.dataset.type = "";
    return;
  }
  panel.dataset.type = name;
  // required in the schema, or `$required` (a task's required properties that pluginDefaults may give)
  const required = new Set([...(def.required || []), ...Object.entries(def.properties || {}).filter(([, v]) => v && v.$required === true).map(([k]) => k)]);
  // required first, then in the definition's order
  const props = Object.entries(def.properties || {}).sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)));
  const rows = props.map(([k, p0]) => {
    const p = deref(root, p0) || {};
    const deflt = p.default === undefined ? "" : `Default: ${JSON.stringify(p.default)}.`;
    const enums = p.enum ? `One of ${p.enum.join(", ")}.` : "";
    const text = [p.title, p.description].filter(Boolean).filter((x, i, a) => a.indexOf(x) === i).join(" — ");
    return el("tr", { "data-prop": k },
      el("td", {},
        el("code", {}, k), required.has(k) ? el("span", { class: "doc-req", title: "required" }, " *") : "",
        el("div", { class: "doc-ptype" }, typeLabel(root, p) || "any", p.$dynamic ? el("span", { class: "doc-dyn", title: "rendered with {{ }}" }, " · dynamic") : "")),
      el("td", {}, [sentence(text), k === "type" ? "" : enums, deflt].filter(Boolean).join(" ")));
  });
  const outputs = Object.entries(def.$outputs || {});
  const md = def.markdownDescription || "";
  const example = /```[\s\S]*```/.exec(md);
  panel.replaceChildren(
    el("div", { class: "doc-kind" }, [def.$kind, def.$group].filter(Boolean).join(" · ")),
    el("h3", { class: "doc-title" }, def.title || name),
    el("div", { class: "doc-type" }, el("code", {}, name)),
    def.$deprecated ? el("p", { class: "doc-deprecated" }, "Deprecated: prefer the type this one is an alias of.") : "",
    el("div", { class: "doc-desc" }, markdown(def.description || "")),
    el("h4", {}, "Properties"),
    el("table", { class: "doc-props" },
      el("thead", {}, el("tr", {}, ["Name", "Description"].map((t) => el("th", {}, t)))),
      el("tbody", {}, rows)),
    outputs.length ? el("h4", {}, "Outputs") : "",
    outputs.length
      ? el("table", { class: "doc-outputs" }, el("tbody", {}, outputs.map(([k, o]) => el("tr", {}, el("td", {}, el("code", {}, k)), el("td", {}, (o && o.type) || ""), el("td", {}, (o && o.description) || "")))))
      : "",
    example ? el("h4", {}, "Example") : "",
    example ? markdown(example[0]) : "",
  );
}

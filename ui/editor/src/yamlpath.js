//! Where the cursor is in a flow's YAML, read from indentation alone so it
//! works on the half-typed documents an editor holds (a parser would give
//! up on `    mess` with no colon). Pure: text in, a context out.
//!
//! A context is `{ path, keys, kind, key, prefix, from }`:
//! - `path`: the segments from the root to the mapping the cursor is in,
//!   each `{ key }` or `{ item: true }`, every segment carrying the keys
//!   (`Map key → value text`) of the mapping it leads into, so a schema
//!   walk can pick a definition by its `type` sibling;
//! - `kind`: `"key"` (typing a property name), `"value"` (after `key: `)
//!   or `"none"`; `key` is the property whose value is typed; `prefix` is
//!   the word typed so far and `from` its offset in the document.
//! - inside a flow-style collection on the cursor's line (`- {id: x, type: |}`,
//!   `then: [{id: y, |}]`) the context is that of the innermost `{…}`,
//!   with `flow: true`; a scalar item of a `[…]` is a `"value"` of the
//!   list's key. A collection opened on an earlier line is not followed:
//!   the context is `"none"` with a `reason` saying so.

/** One line of YAML, read for structure. */
export function readLine(text) {
  const lead = text.length - text.trimStart().length;
  const body = text.slice(lead);
  if (body === "" || body.startsWith("#")) return { lead, blank: true };
  let dash = false;
  let keyCol = lead;
  let rest = body;
  const d = /^-(\s+|$)/.exec(rest);
  if (d) {
    dash = true;
    keyCol = lead + d[0].length;
    rest = rest.slice(d[0].length);
  }
  const k = /^("[^"]*"|'[^']*'|[^\s:#'"][^:#]*?)\s*:(\s|$)/.exec(rest);
  if (!k) return { lead, dash, keyCol, key: null, value: rest.trim() };
  const key = k[1].replace(/^["']|["']$/g, "");
  const value = rest.slice(k[0].length).replace(/\s+#.*$/, "").trim();
  return { lead, dash, keyCol, key, value };
}

const isBlockScalar = (v) => /^[|>][-+0-9]*$/.test(v || "");

/** Lines, each read once, with block-scalar bodies marked blank. */
export function readLines(lines) {
  const out = lines.map(readLine);
  for (let i = 0; i < out.length; i++) {
    const l = out[i];
    if (l.blank || !isBlockScalar(l.value)) continue;
    // the body: lines indented past the key, and blank lines between them
    let end = i;
    for (let j = i + 1; j < out.length; j++) {
      if (lines[j].trim() === "" && out[j].lead <= l.keyCol) continue;
      if (lines[j].trim() !== "" && out[j].lead <= l.keyCol) break;
      end = j;
    }
    for (let j = i + 1; j <= end; j++) out[j] = { lead: out[j].lead, blank: true, scalar: true };
    i = end;
  }
  return out;
}

/**
 * The mapping whose keys sit at column `col`, found from line `at`:
 * its keys, whether it is a sequence item (and its dash column), and the
 * line of its parent key (or -1 at the root).
 */
export function mappingAt(lines, at, col) {
  const keys = new Map();
  let item = false;
  let dashCol = -1;
  let start = at;
  let parent = -1;
  for (let i = at; i >= 0; i--) {
    const l = lines[i];
    if (l.blank) continue;
    if (l.dash && l.keyCol === col) {
      if (l.key) keys.set(l.key, l.value);
      item = true;
      dashCol = l.lead;
      start = i;
      break;
    }
    if (!l.dash && l.lead === col) {
      if (l.key && !keys.has(l.key)) keys.set(l.key, l.value);
      start = i;
      continue;
    }
    if (l.lead < col || (l.dash && l.keyCol < col)) {
      parent = i;
      start = i + 1;
      break;
    }
  }
  // siblings below the cursor, up to the end of this mapping
  for (let i = at + 1; i < lines.length; i++) {
    const l = lines[i];
    if (l.blank) continue;
    if (l.lead < col || l.dash) {
      if (l.dash && l.lead > col) continue;
      break;
    }
    if (l.lead === col && l.key && !keys.has(l.key)) keys.set(l.key, l.value);
  }
  if (item) {
    // the parent of an item is the key above it at a smaller column, or at
    // the dash's own column (`tasks:` then `- id:` unindented)
    parent = -1;
    for (let i = start - 1; i >= 0; i--) {
      const l = lines[i];
      if (l.blank) continue;
      if (l.lead < dashCol || (l.lead === dashCol && !l.dash)) {
        parent = i;
        break;
      }
    }
  }
  return { keys, item, dashCol, start, parent };
}

/** The path from the root to the mapping at column `col` around line `at`. */
export function pathTo(lines, at, col) {
  const segs = [];
  let m = mappingAt(lines, at, col);
  let guard = 0;
  const chain = [m];
  while (m.parent >= 0 && guard++ < 200) {
    const p = lines[m.parent];
    if (!p.key) break;
    const up = mappingAt(lines, m.parent, p.keyCol);
    if (m.item) segs.unshift({ item: true, keys: m.keys });
    segs.unshift({ key: p.key, keys: m.item ? null : m.keys });
    chain.unshift(up);
    m = up;
  }
  return { segs, root: m.keys, chain };
}

const KEY = /^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.@$-]+)\s*:\s*/;

/**
 * The flow collections still open at the end of `head` (one line up to the
 * cursor), outermost first: `{ ch, keys, key, entry }` with the entries of
 * a `{…}` read so far (`keys`), the key of the entry being written (`key`,
 * whose value a nested collection is) and where that entry starts. Quoted
 * text is skipped. Null when none is open.
 */
export function openFlows(head) {
  const stack = [];
  const endEntry = (f, upto) => {
    if (f.ch !== "{") return;
    const m = KEY.exec(head.slice(f.entry, upto));
    if (m) f.keys.set(m[1].replace(/^["']|["']$/g, ""), head.slice(f.entry + m[0].length, upto).trim());
  };
  for (let i = 0; i < head.length; i++) {
    const c = head[i];
    if (c === '"' || c === "'") {
      const j = head.indexOf(c, i + 1);
      if (j < 0) return stack.length ? stack : null;
      i = j;
    } else if (c === "#" && (i === 0 || /\s/.test(head[i - 1]))) {
      break;
    } else if ((c === "{" || c === "[") && /(^|[-:,[{])\s*$/.test(head.slice(0, i))) {
      // a collection opens only where a value starts (`a {b}` is plain text)
      const parent = stack[stack.length - 1];
      if (parent && parent.ch === "{") {
        const m = KEY.exec(head.slice(parent.entry, i));
        parent.key = m ? m[1].replace(/^["']|["']$/g, "") : null;
      }
      stack.push({ ch: c, keys: new Map(), key: null, entry: i + 1 });
    } else if (c === "}" || c === "]") {
      const f = stack.pop();
      if (f) endEntry(f, i);
      const parent = stack[stack.length - 1];
      if (parent && f && parent.ch === "{" && parent.key) parent.keys.set(parent.key, f.ch === "{" ? "{…}" : "[…]");
    } else if (c === "," && stack.length) {
      const f = stack[stack.length - 1];
      endEntry(f, i);
      f.entry = i + 1;
      f.key = null;
    }
  }
  return stack.length ? stack : null;
}

/** The context inside the flow collections `flows` opened on line `lineNo` (whose block part is `line`). */
function flowContext(lines, lineNo, line, flows, head, offset) {
  const inner = flows[flows.length - 1];
  const entry = head.slice(inner.entry);
  let kind = "none";
  let key = null;
  let prefix = "";
  const keyTyped = /^\s*([A-Za-z0-9_.@$-]*)$/.exec(entry);
  const valueTyped = /^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.@$-]+)\s*:\s*([^\s,]*)$/.exec(entry);
  if (inner.ch === "{" && valueTyped) {
    kind = "value";
    key = valueTyped[1].replace(/^["']|["']$/g, "");
    prefix = valueTyped[2];
  } else if (inner.ch === "{" && keyTyped) {
    kind = "key";
    prefix = keyTyped[1];
  } else if (inner.ch === "[" && keyTyped) {
    // a scalar item of a list: a value of the list's key
    const outer = flows[flows.length - 2];
    key = outer ? outer.key : line.key;
    kind = key ? "value" : "none";
    prefix = keyTyped[1];
  }
  // the block mapping the line belongs to, then one segment per collection
  const col = line.keyCol;
  const own = { ...lines[lineNo] };
  if (!line.key) lines[lineNo] = { ...own, key: null, value: "" };
  const { segs, root } = pathTo(lines, lineNo, col);
  const blockKeys = mappingAt(lines, lineNo, col).keys;
  lines[lineNo] = own;
  const path = [...segs];
  const isItem = !line.key; // `- {…}` / `- […]`: the collection is the item itself
  if (isItem) {
    if (!line.dash) return { kind: "none", path: [], root, keys: new Map(), reason: "a flow collection that is not a list item nor a value" };
    if (flows[0].ch !== "{") return { kind: "none", path: [], root, keys: new Map(), reason: "a list inside a list" };
    // pathTo read the dash line as an item with no keys: these are its keys
    path[path.length - 1] = { item: true, keys: flows[0].keys };
  } else {
    path.push({ key: line.key, keys: flows[0].ch === "{" ? flows[0].keys : null });
    if (flows[0].ch === "[" && flows[1]) path.push({ item: true, keys: flows[1].ch === "{" ? flows[1].keys : null });
  }
  const start = isItem ? 0 : flows[0].ch === "[" && flows[1] ? 1 : 0;
  for (let i = start; i < flows.length - 1; i++) {
    const f = flows[i];
    const next = flows[i + 1];
    if (f.ch === "{") {
      path.push({ key: f.key, keys: next.ch === "{" ? next.keys : null });
    } else if (i > start || isItem) {
      path.push({ item: true, keys: next.ch === "{" ? next.keys : null });
    }
  }
  // `path` ends with the segment leading into the innermost mapping; a
  // `[…]` innermost means the list's key's own mapping is the context
  let keys = inner.ch === "{" ? inner.keys : blockKeys;
  if (inner.ch === "[") {
    path.pop();
    keys = path.length ? path[path.length - 1].keys || new Map() : root;
  }
  return { kind, key, prefix, from: offset - prefix.length, path, keys, root, col, line: lineNo, flow: true };
}

/** The editing context at `offset` of `text` (see the module header). */
export function contextAt(text, offset) {
  const before = text.slice(0, offset);
  const lineNo = before.split("\n").length - 1;
  const all = text.split("\n");
  const lineStart = offset - (before.length - before.lastIndexOf("\n") - 1);
  const head = all[lineNo].slice(0, offset - lineStart);
  const lines = readLines(all);
  if (lines[lineNo].scalar) return { kind: "none", path: [], root: new Map() };
  const flows = openFlows(head);
  if (flows) return flowContext(lines, lineNo, readLine(all[lineNo].slice(0, head.length - head.trimStart().length) + head.trimStart().replace(/[[{].*$/, "")), flows, head, offset);
  if (unclosedAbove(all, lines, lineNo)) {
    return { kind: "none", path: [], root: new Map(), keys: new Map(), reason: "inside a flow collection ({…} or […]) opened on an earlier line: completion works within one line" };
  }
  let kind = "none";
  let key = null;
  let prefix = "";
  let col = 0;
  let from = offset;
  const keyTyped = /^(\s*)(-\s+)?([A-Za-z0-9_.@$-]*)$/.exec(head);
  const valueTyped = /^(\s*)(-\s+)?("[^"]*"|'[^']*'|[A-Za-z0-9_.@$-]+)\s*:\s+([^\s#]*)$/.exec(head);
  if (valueTyped) {
    kind = "value";
    key = valueTyped[3].replace(/^["']|["']$/g, "");
    prefix = valueTyped[4];
    col = valueTyped[1].length + (valueTyped[2] ? valueTyped[2].length : 0);
  } else if (keyTyped) {
    kind = "key";
    prefix = keyTyped[3];
    col = keyTyped[1].length + (keyTyped[2] ? keyTyped[2].length : 0);
  } else {
    // inside a value with spaces, a flow sequence…: nothing to complete, but
    // the cursor still sits in the mapping of this line's key
    col = lines[lineNo].blank ? lines[lineNo].lead : lines[lineNo].keyCol;
  }
  from = offset - prefix.length;
  // the line being typed is not yet a key line: read it as one at `col`
  const typed = { ...lines[lineNo] };
  if (kind === "key") {
    lines[lineNo] = { lead: keyTyped[1].length, dash: !!keyTyped[2], keyCol: col, key: null, value: "" };
  }
  const { segs, root } = pathTo(lines, lineNo, col);
  const own = mappingAt(lines, lineNo, col).keys;
  if (kind === "key") lines[lineNo] = typed;
  return { kind, key, prefix, from, path: segs, keys: own, root, col, line: lineNo };
}

/** The key and its column under `offset`, or the `type:` value there (for hover). */
export function wordAt(text, offset) {
  const before = text.slice(0, offset);
  const lineNo = before.split("\n").length - 1;
  const lineStart = before.lastIndexOf("\n") + 1;
  const line = text.split("\n")[lineNo];
  const l = readLine(line);
  if (l.blank || !l.key) return null;
  const ch = offset - lineStart;
  const keyStart = l.keyCol;
  const keyEnd = keyStart + l.key.length;
  if (ch >= keyStart && ch <= keyEnd) return { what: "key", key: l.key, from: lineStart + keyStart, to: lineStart + keyEnd, line: lineNo, col: l.keyCol };
  const vStart = line.indexOf(l.value, keyEnd);
  if (l.value && ch >= vStart && ch <= vStart + l.value.length) {
    return { what: "value", key: l.key, value: l.value, from: lineStart + vStart, to: lineStart + vStart + l.value.length, line: lineNo, col: l.keyCol };
  }
  return null;
}

/** Whether a `{` or `[` opened on an earlier line is still open at line `lineNo` (looking back a few lines). */
function unclosedAbove(all, lines, lineNo) {
  const lead = lines[lineNo].lead;
  for (let i = lineNo - 1; i >= Math.max(0, lineNo - 20); i--) {
    if (lines[i].blank) continue;
    if (openFlows(all[i])) return true;
    if (lines[i].lead <= lead) return false;
  }
  return false;
}

/**
 * The indentation of the line after `line` when `line` opens a block: a
 * `key:` with no value (or a block scalar `key: |`) indents its value two
 * columns past the key, as does a bare `-`. Null otherwise (the language's
 * own indentation applies).
 */
export function indentAfter(line) {
  const m = /^(\s*)(-\s+)?("[^"]*"|'[^']*'|[^\s#'"-][^#]*?|-[^\s#][^#]*?)\s*:\s*([|>][-+0-9]*)?\s*(#.*)?$/.exec(line);
  if (m) return m[1].length + (m[2] ? m[2].length : 0) + 2;
  const dash = /^(\s*)-\s*$/.exec(line);
  return dash ? dash[1].length + 2 : null;
}

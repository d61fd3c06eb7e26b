//! The flow schema (`GET /api/v1/plugins/schemas/flow`, draft-07, shaped
//! like Kestra's) walked along a cursor's path (see yamlpath.js): which
//! object schemas apply where the cursor is, which plugin definition a
//! block's `type:` picks, and the completions that follow — type names
//! (full names and aliases, with titles), property names (required first
//! and marked so, from the server's `required`/`$required`, with
//! descriptions), enum values and flow-level keys. Pure: no DOM.

/** Follows a local `$ref` (`#/definitions/x`). */
export function deref(root, s) {
  let guard = 0;
  while (s && s.$ref && guard++ < 20) {
    const m = /^#\/definitions\/(.+)$/.exec(s.$ref);
    s = m ? root.definitions && root.definitions[m[1]] : null;
  }
  return s || null;
}

/** Every alternative of `s` (anyOf/oneOf flattened, refs followed). */
export function alternatives(root, s, depth = 0) {
  s = deref(root, s);
  if (!s || depth > 8) return [];
  const alts = s.anyOf || s.oneOf;
  if (alts) return alts.flatMap((a) => alternatives(root, a, depth + 1));
  return [withoutNull(s)];
}

/** A schema whose `type` lists `null` beside one other type (`["array", "null"]`: a list key left empty) as that type. */
function withoutNull(s) {
  if (!Array.isArray(s.type) || !s.type.includes("null")) return s;
  const rest = s.type.filter((t) => t !== "null");
  return { ...s, type: rest.length === 1 ? rest[0] : rest };
}

/** The `type` values a definition answers to (its full name first). */
export function typeNames(def) {
  const t = def && def.properties && def.properties.type;
  if (!t) return [];
  if (Array.isArray(t.enum)) return t.enum;
  if (t.const) return [t.const];
  return [];
}

/** The alternatives that are object schemas, narrowed by the block's `type:` when it names one. */
export function objectsFor(root, s, keys) {
  const objs = alternatives(root, s).filter((a) => a.properties || a.type === "object");
  const type = keys && keys.get("type");
  if (type) {
    const hit = objs.filter((o) => typeNames(o).includes(type));
    if (hit.length) return hit;
  }
  return objs;
}

/** The definition named by a full type or an alias, with its full name. */
export function definitionOf(root, type) {
  for (const [name, def] of Object.entries(root.definitions || {})) {
    if (name === type || typeNames(def).includes(type)) return { name, def };
  }
  return null;
}

/** The object schemas that apply to the mapping at the end of `path` (from yamlpath.contextAt). */
export function schemasAt(root, path, rootKeys) {
  let current = objectsFor(root, root, rootKeys);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const next = [];
    if (seg.item) {
      for (const s of current) {
        for (const a of alternatives(root, s)) if (a.items) next.push(...objectsFor(root, a.items, seg.keys));
      }
    } else {
      const following = path[i + 1];
      for (const obj of current) {
        const extra = obj.additionalProperties && typeof obj.additionalProperties === "object" ? obj.additionalProperties : null;
        const p = (obj.properties && obj.properties[seg.key]) || extra;
        if (!p) continue;
        if (following && following.item) next.push(p);
        else next.push(...objectsFor(root, p, seg.keys));
      }
    }
    current = next;
    if (!current.length) return [];
  }
  return current;
}

/** The property `key` of the schemas at `path` (for values and hover). */
export function propertyAt(root, path, rootKeys, keys, key) {
  const objs = path.length ? schemasAt(root, path, rootKeys) : objectsFor(root, root, rootKeys);
  const narrowed = narrow(root, objs, keys);
  for (const o of narrowed) {
    if (o.properties && o.properties[key]) return { owner: o, prop: o.properties[key] };
  }
  return null;
}

function narrow(root, objs, keys) {
  const type = keys && keys.get("type");
  if (!type) return objs;
  const hit = objs.filter((o) => typeNames(o).includes(type));
  return hit.length ? hit : objs;
}

/** One line of a property's type, as `string`, `integer | string`, `array of string`. */
export function typeLabel(root, p) {
  p = deref(root, p);
  if (!p) return "";
  if (p.anyOf || p.oneOf) {
    const alts = p.anyOf || p.oneOf;
    const plain = alts.filter((a) => !isTemplate(deref(root, a) || {}));
    const label = [...new Set(plain.map((a) => typeLabel(root, a)))].filter(Boolean).join(" | ");
    return plain.length < alts.length && label ? `${label} or {{ }}` : label || "string";
  }
  if (p.enum && !p.type) return "enum";
  let t = Array.isArray(p.type) ? p.type.join(" | ") : p.type || (p.properties ? "object" : "");
  if (t === "array" && p.items) {
    const inner = deref(root, p.items);
    t = inner && (inner.anyOf || inner.oneOf) && (inner.anyOf || inner.oneOf).length > 3 ? "array of tasks" : `array of ${typeLabel(root, p.items) || "any"}`;
  }
  if (p.format === "duration") t += " (duration)";
  return t;
}

const first = (s) => (s || "").split("\n")[0];

/** Completions for the context (see yamlpath.contextAt): `[{label, detail, info, type, apply, boost}]`. */
export function completions(root, ctx) {
  if (!root || ctx.kind === "none") return [];
  const objs = narrow(root, ctx.path.length ? schemasAt(root, ctx.path, ctx.root) : objectsFor(root, root, ctx.root), ctx.keys);
  if (ctx.kind === "key") return keyCompletions(root, objs, ctx);
  return valueCompletions(root, objs, ctx);
}

function keyCompletions(root, objs, ctx) {
  const out = [];
  const seen = new Set(ctx.keys.keys());
  const typed = ctx.keys.get("type");
  // a block of plugins whose type is not chosen yet: `id` and `type` first
  const plugins = objs.filter((o) => typeNames(o).length);
  const pool = plugins.length > 1 && !typed ? [] : objs;
  if (plugins.length > 1 && !typed) {
    for (const k of ["id", "type"]) {
      if (seen.has(k)) continue;
      const p = plugins[0].properties[k] || {};
      out.push({ label: k, type: "property", detail: k === "type" ? "plugin type" : "string", info: p.description || (k === "type" ? "The plugin's full type name" : "A unique identifier"), boost: 50 - out.length, apply: k + ": " });
    }
  }
  for (const o of pool) {
    for (const [name, p] of Object.entries(o.properties || {})) {
      // `$compat`: read in one form only (tenantId: main…), never offered
      if (seen.has(name) || p.$compat) continue;
      seen.add(name);
      const isReq = isRequired(o, name, ctx.keys);
      const how = layout(root, p);
      const pad = " ".repeat(ctx.col + 2);
      // `deprecated` (JSON Schema): still read, offered last and marked so
      const old = p.deprecated === true || p.$deprecated === true;
      out.push({
        label: name,
        type: "property",
        detail: [old ? "deprecated" : "", isReq ? "required" : "", typeLabel(root, p)].filter(Boolean).join(" · "),
        info: [old ? "Deprecated." : "", p.title, p.description].filter(Boolean).filter((x, i, a) => a.indexOf(x) === i).join("\n\n") || undefined,
        required: isReq,
        deprecated: old || undefined,
        boost: old ? -20 : isReq ? 40 : name === "id" || name === "type" ? 45 : 0,
        // inside `{…}` everything stays on the line
        apply: ctx.flow ? `${name}: ` : how === "list" ? `${name}:\n${pad}- ` : how === "block" ? `${name}:\n${pad}` : `${name}: `,
      });
    }
  }
  return out;
}

/**
 * Whether `name` must be written in a mapping of schema `o` holding `keys`:
 * listed in `required`, or marked `$required` by the server (from the
 * validator's own rule) — unless it is one of a group (`$requiredOneOf`:
 * ForEach's `values` or its older name `value`) another member of which is
 * already written.
 */
export function isRequired(o, name, keys) {
  const p = (o.properties || {})[name] || {};
  if (!(o.required || []).includes(name) && p.$required !== true) return false;
  const group = Array.isArray(p.$requiredOneOf) ? p.$requiredOneOf : [];
  return !group.some((n) => n !== name && keys && keys.has(n));
}

/** A `{{ }}` template alternative (`{type: string, pattern}`), which any typed property may also take. */
const isTemplate = (a) => a.type === "string" && !!a.pattern && !a.enum;

/** How a property's value is written: `"list"` of mappings, `"block"` (mapping or list) or `"inline"`. */
function layout(root, p) {
  const alts = alternatives(root, p).filter((a) => !isTemplate(a));
  if (!alts.length || !alts.every((a) => a.type === "array" || a.type === "object" || a.properties)) return "inline";
  const items = alts.length === 1 && alts[0].type === "array" && alts[0].items ? alternatives(root, alts[0].items) : [];
  return items.length && items.every((i) => i.properties) ? "list" : "block";
}

function valueCompletions(root, objs, ctx) {
  if (ctx.key === "type") {
    const out = [];
    const seen = new Set();
    for (const o of objs) {
      const names = typeNames(o);
      names.forEach((n, i) => {
        if (seen.has(n)) return;
        seen.add(n);
        out.push({
          label: n,
          type: "class",
          detail: (i > 0 ? `alias of ${names[0]} · ` : "") + (o.title || ""),
          info: o.description || o.title || undefined,
          boost: i > 0 || o.$deprecated ? -10 : 0,
        });
      });
    }
    return out;
  }
  const out = [];
  for (const o of objs) {
    const p = o.properties && o.properties[ctx.key];
    if (!p) continue;
    for (const a of alternatives(root, p)) {
      for (const v of a.enum || []) out.push({ label: String(v), type: "enum", detail: first(p.title || p.description) });
      if (a.type === "boolean") for (const v of ["true", "false"]) out.push({ label: v, type: "keyword", detail: first(p.title || p.description) });
    }
    if (out.length) break;
  }
  return [...new Map(out.map((c) => [c.label, c])).values()];
}

/** Hover documentation for a word under the cursor (from yamlpath.wordAt): `{title, body}` or null. */
export function hoverAt(root, ctxPath, rootKeys, keys, word) {
  if (!root || !word) return null;
  if (word.what === "value" && word.key === "type") {
    const d = definitionOf(root, word.value);
    if (!d) return null;
    return { title: d.name, subtitle: d.def.title || "", body: d.def.description || "" };
  }
  const hit = propertyAt(root, ctxPath, rootKeys, keys, word.key);
  if (!hit) return null;
  const p = deref(root, hit.prop) || {};
  const bits = [typeLabel(root, p)];
  if (isRequired(hit.owner, word.key, keys)) bits.push("required");
  if (p.default !== undefined) bits.push(`default ${JSON.stringify(p.default)}`);
  if (p.$dynamic) bits.push("dynamic ({{ }} rendered)");
  return { title: word.key, subtitle: bits.filter(Boolean).join(" · "), body: [p.title, p.description].filter(Boolean).filter((x, i, a) => a.indexOf(x) === i).join("\n\n") };
}

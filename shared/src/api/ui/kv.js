// The KV store (list, set with a type and TTL, read, delete) and namespace
// files (folders, view, upload, delete), both per namespace chosen from the
// flows'.

import { api, h, fmtDate, toast, errorBox, enc, go, namespaces } from "./app.js";

export async function render(main, parts, query, page) {
  const list = await namespaces();
  const ns = parts[0] || list[0] || "";
  const pick = h("select", { name: "namespace", onchange: (e) => go(`#/${page}/${enc(e.target.value)}`) }, list.map((n) => h("option", { value: n, selected: n === ns }, n)));
  const other = h("input", { placeholder: "other namespace", onchange: (e) => go(`#/${page}/${enc(e.target.value.trim())}`) });
  main.append(h("h1", {}, page === "kv" ? "KV Store" : "Namespace files"), h("div", { class: "filters" }, pick, other));
  if (!ns) return main.append(h("p", { class: "muted" }, "No namespace yet."));
  if (page === "kv") return kvPage(main, ns);
  return filesPage(main, ns, query.get("path") || "");
}

const TYPES = ["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"];

/** The body that makes the API infer `type` for `value` (Kestra's rules). */
function kvBody(type, value) {
  return type === "STRING" ? JSON.stringify(value) : value.trim();
}

/** The KV table and form of namespace `ns` in `main` (also the Namespaces page's KV tab). */
export async function kvPage(main, ns) {
  const body = h("tbody");
  const shown = h("div");
  const load = async () => {
    const entries = await api(`/namespaces/${enc(ns)}/kv`);
    body.replaceChildren(...entries.map((e) => h("tr", { "data-key": e.key },
      h("td", {}, h("a", { href: "javascript:void 0", onclick: () => show(e.key) }, e.key)),
      h("td", {}, e.type || e.kind || ""),
      h("td", {}, fmtDate(e.updateDate)),
      h("td", {}, fmtDate(e.expirationDate)),
      h("td", {}, h("button", { class: "danger", onclick: () => remove(e.key) }, "Delete")))));
    if (!entries.length) body.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No keys.")));
  };
  const show = async (key) => {
    try {
      const v = await api(`/namespaces/${enc(ns)}/kv/${enc(key)}`);
      const text = typeof v.value === "string" ? v.value : JSON.stringify(v.value, null, 2);
      shown.replaceChildren(h("div", { class: "panel" }, h("strong", {}, `${key} (${v.type})`), h("pre", { "data-testid": "kv-value" }, text),
        h("button", { "data-testid": "kv-edit", onclick: () => {
          // edit: the form takes the key, its type and value; Set overwrites
          keyInput.value = key;
          type.value = v.type;
          value.value = v.type === "STRING" ? v.value : text;
          value.focus();
        } }, "Edit")));
    } catch (e) {
      shown.replaceChildren(errorBox(e));
    }
  };
  const remove = async (key) => {
    if (!confirm(`Delete ${key}?`)) return;
    try {
      await api(`/namespaces/${enc(ns)}/kv/${enc(key)}`, { method: "DELETE" });
      toast(`${key} deleted`);
      await load();
    } catch (e) {
      toast(e.message, true);
    }
  };
  const key = h("input", { name: "key", placeholder: "Key", required: true });
  const keyInput = key;
  const type = h("select", { name: "type" }, TYPES.map((t) => h("option", { value: t }, t)));
  const value = h("textarea", { name: "value", rows: 1, placeholder: "Value", style: { minWidth: "260px" } });
  const ttl = h("input", { name: "ttl", placeholder: "TTL (e.g. PT1H)", size: 12 });
  const out = h("div");
  const submit = async (ev) => {
    ev.preventDefault();
    const headers = { "Content-Type": "application/json" };
    if (ttl.value.trim()) headers.ttl = ttl.value.trim();
    try {
      await api(`/namespaces/${enc(ns)}/kv/${enc(key.value.trim())}`, { method: "PUT", body: kvBody(type.value, value.value), headers });
      toast(`${key.value} set`);
      out.replaceChildren();
      key.value = "";
      value.value = "";
      await load();
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  main.append(
    h("form", { class: "filters panel", onsubmit: submit, "data-testid": "kv-form" }, key, type, value, ttl, h("button", { class: "primary", type: "submit" }, "Set")),
    out,
    h("table", { "data-testid": "kv" }, h("thead", {}, h("tr", {}, ["Key", "Type", "Updated", "Expires", ""].map((t) => h("th", {}, t)))), body),
    shown);
  await load();
}

async function filesPage(main, ns, path) {
  const dir = path.endsWith("/") || path === "" ? path : path.slice(0, path.lastIndexOf("/") + 1);
  const entries = await api(`/namespaces/${enc(ns)}/files/directory?path=${enc(dir.replace(/\/$/, ""))}`);
  const link = (p) => `#/files/${enc(ns)}?path=${enc(p)}`;
  const crumbs = [h("a", { href: link("") }, ns)];
  let acc = "";
  for (const part of dir.split("/").filter(Boolean)) {
    acc += part + "/";
    crumbs.push(" / ", h("a", { href: link(acc) }, part));
  }
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const remove = async (p) => {
    if (!confirm(`Delete ${p}?`)) return;
    try {
      await api(`/namespaces/${enc(ns)}/files?path=${enc(p)}`, { method: "DELETE" });
      toast(`${p} deleted`);
      reload();
    } catch (e) {
      toast(e.message, true);
    }
  };
  const file = h("input", { type: "file", name: "fileContent", required: true });
  const target = h("input", { name: "path", placeholder: "file name (default: the uploaded one)" });
  const out = h("div");
  const upload = async (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    const p = dir + (target.value.trim() || f.name);
    const data = new FormData();
    data.append("fileContent", f);
    try {
      await api(`/namespaces/${enc(ns)}/files?path=${enc(p)}`, { method: "POST", body: data });
      toast(`${p} uploaded`);
      go(link(p));
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  const view = h("div");
  main.append(h("p", {}, crumbs),
    h("form", { class: "filters panel", onsubmit: upload, "data-testid": "upload-form" }, file, target, h("button", { class: "primary", type: "submit" }, "Upload")),
    out,
    h("table", { "data-testid": "files" }, h("thead", {}, h("tr", {}, ["Name", "Type", "Size", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, entries.length ? entries.map((e) => h("tr", { "data-file": e.fileName },
        h("td", {}, h("a", { href: link(dir + e.fileName + (e.type === "Directory" ? "/" : "")) }, e.fileName)),
        h("td", {}, e.type), h("td", {}, e.type === "File" ? e.size : ""),
        h("td", {}, e.type === "File" ? h("button", { class: "danger", onclick: () => remove(dir + e.fileName) }, "Delete") : ""))) : h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No files.")))),
    view);
  if (path && !path.endsWith("/")) {
    try {
      const r = await api(`/namespaces/${enc(ns)}/files?path=${enc(path)}`, { raw: true });
      view.replaceChildren(h("h2", {}, path), h("pre", { "data-testid": "file-content" }, await r.text()));
    } catch (e) {
      view.replaceChildren(errorBox(e));
    }
  }
}

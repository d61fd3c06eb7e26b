// Namespaces: every namespace (its flows' and their parents'), and one
// namespace's page with tabs — its Flows, its KV store (kv.js: view, set,
// edit, delete), an editor of its namespace files (list a folder, open,
// edit, save, new file, delete: the nsfiles routes) and the names of the
// secrets its flows can read (never their values).

import { api, h, toast, errorBox, enc, go, namespaces } from "./app.js";

const TABS = [["flows", "Flows"], ["kv", "KV Store"], ["files", "Files"], ["secrets", "Secrets"]];

export async function render(main, parts, query) {
  if (!parts.length) return listPage(main);
  const ns = parts[0];
  const tab = TABS.some(([t]) => t === query.get("tab")) ? query.get("tab") : "flows";
  const here = `#/namespaces/${enc(ns)}`;
  const box = h("div", { "data-testid": "ns-" + tab });
  main.append(h("h1", {}, h("span", { class: "title-text", title: ns }, ns)),
    h("div", { class: "tabs" }, TABS.map(([t, label]) => h("a", { href: `${here}?tab=${t}`, class: t === tab ? "active" : "", "data-tab": t }, label))),
    box);
  if (tab === "flows") return flowsTab(box, ns);
  if (tab === "kv") return (await import("./kv.js")).kvPage(box, ns);
  if (tab === "files") return filesTab(box, ns, query.get("path") || "");
  return secretsTab(box, ns);
}

async function listPage(main) {
  const [list, flows] = await Promise.all([namespaces(), api("/flows")]);
  const count = (ns) => flows.filter((f) => f.namespace === ns).length;
  main.append(h("h1", {}, "Namespaces"),
    h("table", { "data-testid": "namespaces" }, h("thead", {}, h("tr", {}, ["Namespace", "Flows"].map((t) => h("th", {}, t)))),
      h("tbody", {}, list.map((ns) => h("tr", { "data-namespace": ns }, h("td", {}, h("a", { href: `#/namespaces/${enc(ns)}` }, ns)), h("td", {}, count(ns)))))));
  if (!list.length) main.append(h("p", { class: "muted" }, "No namespace yet: a namespace exists once a flow is in it."));
}

async function flowsTab(box, ns) {
  const flows = (await api(`/flows/${enc(ns)}`)) || [];
  box.append(flows.length
    ? h("table", {}, h("thead", {}, h("tr", {}, ["Flow", "Triggers", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, flows.map((f) => h("tr", { "data-flow": f.id },
        h("td", {}, h("a", { href: `#/flows/${enc(ns)}/${enc(f.id)}` }, f.id), f.disabled ? h("span", { class: "chip" }, "disabled") : ""),
        h("td", {}, (f.triggers || []).map((t) => t.id).join(", ")),
        h("td", {}, h("a", { href: `#/flows/${enc(ns)}/${enc(f.id)}?tab=executions` }, "Executions"))))))
    : h("p", { class: "muted" }, "No flow in this namespace itself."));
}

async function secretsTab(box, ns) {
  const res = await api(`/namespaces/${enc(ns)}/secrets`);
  box.append(h("p", { class: "muted" }, "Secrets are the server's SECRET_* variables, read with secret('NAME'). Only their names are shown."),
    res.results.length
      ? h("table", { "data-testid": "secrets" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"))), h("tbody", {}, res.results.map((s) => h("tr", { "data-secret": s.key }, h("td", {}, h("code", {}, s.key))))))
      : h("p", { class: "muted", "data-testid": "secrets" }, "No secret."));
}

/** Saves `text` as namespace file `path` (multipart, as Kestra's UI does). */
async function saveFile(ns, path, text) {
  const data = new FormData();
  data.append("fileContent", new Blob([text], { type: "application/octet-stream" }), path.split("/").pop());
  await api(`/namespaces/${enc(ns)}/files?path=${enc(path)}`, { method: "POST", body: data });
}

async function filesTab(box, ns, path) {
  const dir = path === "" || path.endsWith("/") ? path : path.slice(0, path.lastIndexOf("/") + 1);
  const link = (p) => `#/namespaces/${enc(ns)}?tab=files&path=${enc(p)}`;
  const entries = await api(`/namespaces/${enc(ns)}/files/directory?path=${enc(dir.replace(/\/$/, ""))}`).catch(() => []);
  const crumbs = [h("a", { href: link("") }, "/")];
  let acc = "";
  for (const part of dir.split("/").filter(Boolean)) {
    acc += part + "/";
    crumbs.push(" ", h("a", { href: link(acc) }, part + "/"));
  }
  const editor = h("div", { class: "file-editor" });
  const remove = async (p) => {
    if (!confirm(`Delete ${p}?`)) return;
    try {
      await api(`/namespaces/${enc(ns)}/files?path=${enc(p)}`, { method: "DELETE" });
      toast(`${p} deleted`);
      go(link(dir));
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (e) {
      toast(e.message, true);
    }
  };
  const newName = h("input", { name: "new-file", placeholder: "new file, e.g. models/stg.sql" });
  const create = async (ev) => {
    ev.preventDefault();
    const name = newName.value.trim().replace(/^\/+/, "");
    if (!name) return;
    try {
      await saveFile(ns, dir + name, "");
      toast(`${dir + name} created`);
      go(link(dir + name));
    } catch (e) {
      toast(e.message, true);
    }
  };
  box.append(
    h("div", { class: "files-layout" },
      h("div", { class: "file-tree" },
        h("p", { class: "crumbs" }, crumbs),
        h("form", { class: "filters", onsubmit: create, "data-testid": "new-file" }, newName, h("button", { type: "submit" }, "New file")),
        h("ul", { "data-testid": "ns-files" },
          entries.length ? entries.map((e) => h("li", { "data-file": e.fileName, class: dir + e.fileName === path ? "active" : "" },
            h("a", { href: link(dir + e.fileName + (e.type === "Directory" ? "/" : "")) }, e.type === "Directory" ? `📁 ${e.fileName}/` : e.fileName),
            e.type === "File" ? h("button", { class: "small danger", title: `Delete ${e.fileName}`, onclick: () => remove(dir + e.fileName) }, "✕") : "")) : h("li", { class: "muted" }, "No files."))),
      editor));
  if (!path || path.endsWith("/")) {
    editor.append(h("p", { class: "muted" }, "Open a file to edit it, or create one."));
    return;
  }
  let text;
  try {
    const r = await api(`/namespaces/${enc(ns)}/files?path=${enc(path)}`, { raw: true });
    text = await r.text();
  } catch (e) {
    editor.append(errorBox(e));
    return;
  }
  const area = h("textarea", { name: "file-content", spellcheck: "false", rows: Math.max(16, text.split("\n").length + 2) }, text);
  area.addEventListener("keydown", (e) => {
    // Tab indents (two spaces) instead of leaving the box
    if (e.key === "Tab" && !e.shiftKey) {
      e.preventDefault();
      area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
    }
    if ((e.ctrlKey || e.metaKey) && e.key === "s") {
      e.preventDefault();
      save();
    }
  });
  const status = h("span", { class: "muted", "data-testid": "file-status" });
  const save = async () => {
    try {
      await saveFile(ns, path, area.value);
      status.textContent = "Saved.";
      toast(`${path} saved`);
    } catch (e) {
      toast(e.message, true);
    }
  };
  area.addEventListener("input", () => (status.textContent = "Modified."));
  editor.append(h("div", { class: "filters" }, h("strong", {}, path), h("span", { class: "grow" }), status,
    h("button", { class: "primary", "data-testid": "save-file", onclick: save }, "Save"),
    h("button", { class: "danger", onclick: () => remove(path) }, "Delete")), area);
}

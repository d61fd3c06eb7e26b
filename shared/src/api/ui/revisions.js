// A flow's Revisions tab: every stored revision (GET
// /flows/{ns}/{id}/revisions), two of them side by side with a line diff,
// and Restore, which saves the chosen revision's source as a new revision
// (PUT /flows/{ns}/{id}). The diff is computed here, in the page: the
// listing already carries every source, and a flow is small, so a
// longest-common-subsequence over lines costs nothing next to a round
// trip and needs no server-side dependency.

import { api, h, fmtDate, toast, enc } from "./app.js";

/** Past this many lines on either side, the diff is shown line by line without alignment. */
const MAX_LCS_LINES = 3000;

/**
 * The line diff of `a` and `b` (arrays of lines) as rows
 * `{kind: "same"|"del"|"add"|"mod", left, right}` with 1-based line numbers.
 */
export function diffLines(a, b) {
  if (a.length > MAX_LCS_LINES || b.length > MAX_LCS_LINES) {
    const n = Math.max(a.length, b.length);
    return Array.from({ length: n }, (_, i) => ({
      kind: a[i] === b[i] ? "same" : i >= a.length ? "add" : i >= b.length ? "del" : "mod",
      left: i < a.length ? { n: i + 1, text: a[i] } : null,
      right: i < b.length ? { n: i + 1, text: b[i] } : null,
    }));
  }
  const m = a.length;
  const n = b.length;
  // lcs[i][j]: the LCS length of a[i..] and b[j..]
  const lcs = Array.from({ length: m + 1 }, () => new Uint32Array(n + 1));
  for (let i = m - 1; i >= 0; i--) for (let j = n - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const rows = [];
  let i = 0;
  let j = 0;
  let dels = [];
  let adds = [];
  const flush = () => {
    // a run of deletions next to a run of additions reads as modified lines
    const k = Math.max(dels.length, adds.length);
    for (let x = 0; x < k; x++) {
      const l = dels[x] || null;
      const r = adds[x] || null;
      rows.push({ kind: l && r ? "mod" : l ? "del" : "add", left: l, right: r });
    }
    dels = [];
    adds = [];
  };
  while (i < m || j < n) {
    if (i < m && j < n && a[i] === b[j]) {
      flush();
      rows.push({ kind: "same", left: { n: i + 1, text: a[i] }, right: { n: j + 1, text: b[j] } });
      i++;
      j++;
    } else if (j < n && (i === m || lcs[i][j + 1] >= lcs[i + 1][j])) {
      adds.push({ n: j + 1, text: b[j] });
      j++;
    } else {
      dels.push({ n: i + 1, text: a[i] });
      i++;
    }
  }
  flush();
  return rows;
}

function side(cell, kind) {
  return [
    h("td", { class: "ln" }, cell ? cell.n : ""),
    h("td", { class: "code " + (cell ? kind : "empty") }, cell ? cell.text || " " : ""),
  ];
}

/** The Revisions tab of flow `ns.id` in `box`. */
export async function revisionsTab(box, ns, id, query) {
  const revs = await api(`/flows/${enc(ns)}/${enc(id)}/revisions`);
  const last = revs[revs.length - 1].revision;
  const pick = (name, fallback) => {
    const v = Number(query.get(name));
    return revs.some((r) => r.revision === v) ? v : fallback;
  };
  let left = pick("left", revs.length > 1 ? revs[revs.length - 2].revision : last);
  let right = pick("right", last);
  const diff = h("div");
  const select = (name, value, onchange) =>
    h("select", { name, onchange: (e) => onchange(Number(e.target.value)) },
      revs.map((r) => h("option", { value: r.revision, selected: r.revision === value }, `Revision ${r.revision}${r.updated ? " · " + fmtDate(r.updated) : ""}${r.revision === last ? " (current)" : ""}`)));
  const restore = async (rev) => {
    const r = revs.find((x) => x.revision === rev);
    if (!confirm(`Restore revision ${rev}? Its source is saved as a new revision.`)) return;
    try {
      const saved = await api(`/flows/${enc(ns)}/${enc(id)}`, { method: "PUT", body: r.source, headers: { "Content-Type": "application/x-yaml" } });
      toast(`Revision ${rev} restored as revision ${saved.revision}`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (e) {
      toast(e.message, true);
    }
  };
  const draw = () => {
    const a = revs.find((r) => r.revision === left).source.split("\n");
    const b = revs.find((r) => r.revision === right).source.split("\n");
    const rows = diffLines(a, b);
    const changed = rows.filter((r) => r.kind !== "same").length;
    diff.replaceChildren(
      h("p", { class: "muted", "data-testid": "diff-summary" }, changed ? `${changed} changed line${changed > 1 ? "s" : ""}` : "No difference."),
      h("div", { class: "diff-wrap" }, h("table", { class: "diff", "data-testid": "diff" },
        h("thead", {}, h("tr", {}, h("th", { colspan: 2 }, `Revision ${left}`), h("th", { colspan: 2 }, `Revision ${right}`))),
        h("tbody", {}, rows.map((r) => h("tr", { "data-kind": r.kind }, side(r.left, r.kind === "mod" ? "del" : r.kind), side(r.right, r.kind === "mod" ? "add" : r.kind)))))));
  };
  box.append(
    h("div", { class: "filters", "data-testid": "revisions" },
      select("left", left, (v) => { left = v; draw(); }),
      h("span", { class: "muted" }, "↔"),
      select("right", right, (v) => { right = v; draw(); }),
      h("span", { class: "grow" }),
      h("button", { "data-testid": "restore", onclick: () => restore(left), disabled: left === last }, "Restore left revision")),
    h("table", { class: "rev-list" },
      h("thead", {}, h("tr", {}, ["Revision", "Saved", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, [...revs].reverse().map((r) => h("tr", { "data-revision": r.revision },
        h("td", {}, `${r.revision}${r.revision === last ? " (current)" : ""}`),
        h("td", {}, fmtDate(r.updated)),
        h("td", {}, r.revision === last ? "" : h("button", { class: "small", onclick: () => restore(r.revision) }, "Restore")))))),
    diff);
  draw();
}

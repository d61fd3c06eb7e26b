//! The answer of `POST /api/v1/flows/validate` (Kestra's list of
//! `ValidateConstraintViolation`, one per YAML document, each with its
//! `constraints` as lines `document N:LINE:COLUMN: message`) turned into
//! CodeMirror lint diagnostics at those positions. Documents are split on
//! `---` lines exactly as the server does (api/flows.rs `documents`), so a
//! line in document N maps back to the editor's line. Pure.

/** The first line of each non-empty document, in the server's numbering. */
export function documentStarts(lines) {
  const docs = [{ start: 0, content: false }];
  lines.forEach((line, i) => {
    if (line.trimEnd() === "---") docs.push({ start: i + 1, content: false });
    else if (line.trim() && !line.trimStart().startsWith("#")) docs[docs.length - 1].content = true;
  });
  return docs.filter((d) => d.content).map((d) => d.start);
}

/** Diagnostics `{from, to, severity, message}` for `doc` (a CodeMirror Text) from the validator's answer. */
export function diagnosticsOf(doc, answer) {
  const lines = doc.toString().split("\n");
  const starts = documentStarts(lines);
  const out = [];
  for (const r of Array.isArray(answer) ? answer : []) {
    if (!r || !r.constraints) continue;
    const base = starts[r.index || 0] || 0;
    for (const msg of String(r.constraints).split("\n")) {
      if (!msg.trim()) continue;
      const m = /^[^:]*?:(\d+)(?::(\d+))?: (.*)$/.exec(msg);
      const lineNo = m ? Math.min(doc.lines, Math.max(1, base + Number(m[1]))) : 1;
      const line = doc.line(lineNo);
      const col = m && m[2] ? Math.max(0, Number(m[2]) - 1) : line.text.length - line.text.trimStart().length;
      const from = Math.min(line.to, line.from + col);
      const word = /^[^\s:]+/.exec(line.text.slice(from - line.from));
      const to = word ? from + word[0].length : line.to;
      out.push({ from, to: Math.max(to, from), severity: "error", message: m ? m[3] : msg, source: "baton" });
    }
  }
  return out;
}

//! The editor's look: colours from the page's CSS variables (app.css), so
//! it follows the UI's theme, and a YAML highlight style in the same
//! palette as the read-only source view (keys, strings, numbers, comments).

import { EditorView } from "@codemirror/view";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";

const theme = EditorView.theme({
  "&": { color: "var(--text, #e8e9ee)", backgroundColor: "var(--ed-bg, #15161c)", fontSize: "13px", height: "100%" },
  ".cm-content": { fontFamily: "ui-monospace, Menlo, Consolas, monospace", caretColor: "var(--text, #fff)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--text, #fff)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "var(--ed-sel, #3b3470) !important" },
  ".cm-gutters": { backgroundColor: "var(--panel, #21242e)", color: "var(--muted, #9ea3b5)", border: "none" },
  ".cm-activeLine": { backgroundColor: "var(--ed-active, #ffffff0a)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--panel2, #2a2e3a)" },
  ".cm-tooltip": { backgroundColor: "var(--panel2, #2a2e3a)", color: "var(--text, #e8e9ee)", border: "1px solid var(--border, #3a3f4f)" },
  ".cm-tooltip-autocomplete > ul > li[aria-selected]": { backgroundColor: "var(--accent, #8405ff)", color: "#fff" },
  ".cm-completionDetail": { color: "var(--muted, #9ea3b5)", fontStyle: "normal", marginLeft: "1em" },
  ".cm-tooltip.cm-completionInfo": { maxWidth: "420px", whiteSpace: "pre-wrap" },
  ".cm-panels": { backgroundColor: "var(--panel, #21242e)", color: "var(--text, #e8e9ee)" },
});

const highlight = HighlightStyle.define([
  { tag: [t.definition(t.propertyName), t.propertyName], color: "var(--ed-key, #b88bff)" },
  { tag: [t.string, t.special(t.string), t.content], color: "var(--ed-str, #9fe3c3)" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "var(--ed-num, #ffb86b)" },
  { tag: [t.comment, t.lineComment], color: "var(--muted, #9ea3b5)", fontStyle: "italic" },
  { tag: [t.keyword, t.meta, t.labelName, t.typeName], color: "var(--ed-meta, #66b3ff)" },
  { tag: [t.punctuation, t.separator, t.squareBracket, t.brace], color: "var(--muted, #9ea3b5)" },
]);

export const look = [theme, syntaxHighlighting(highlight)];

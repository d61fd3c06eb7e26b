//! Markdown helpers for the generated pages: text made safe for a table
//! cell or a paragraph, inline code, tables.

/// Plain text as Markdown: `<` and `>` outside code spans as entities (an
/// HTML tag would vanish from the page; in a code span an entity would be
/// shown as written). Backticks and emphasis are kept: the words are
/// written as Markdown already.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_code = false;
    for c in s.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Plain text in a table cell: on one line, `|` escaped.
pub fn cell(s: &str) -> String {
    text(&s.split_whitespace().collect::<Vec<_>>().join(" ")).replace('|', "\\|")
}

/// `s` as inline code in a table cell (a backtick inside taken care of).
pub fn code(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let s = s.replace('|', "\\|");
    if s.contains('`') { format!("`` {s} ``") } else { format!("`{s}`") }
}

/// A table: the header row, then the rows (each already made of cells).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

/// The file name of an anchor-free link target made from a type or group
/// name (dots kept: `io.kestra.plugin.core.log.Log.md`).
pub fn file_of(name: &str) -> String {
    format!("{}.md", name.replace(['/', '$'], "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_on_one_line_and_keep_their_pipes_and_tags_as_text() {
        assert_eq!(cell("a | b\n  <c>"), "a \\| b &lt;c&gt;");
        assert_eq!(text("<a> `<b>`"), "&lt;a&gt; `<b>`");
        assert_eq!(code("string|list"), "`string\\|list`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(table(&["a", "b"], &[vec!["1".into(), "2".into()]]), "| a | b |\n|---|---|\n| 1 | 2 |\n");
    }
}

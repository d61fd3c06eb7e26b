//! Rewrites inside Pebble expressions only: the code of `{{ … }}` and
//! `{% … %}` blocks, outside their string literals. A shell `| json` pipe
//! or a Python `json.loads(` outside an expression is never touched, nor is
//! a `{# comment #}` or a `{% raw %}` block.

/// `raw` with `f` applied to the code (outside string literals) of every
/// expression and tag it holds. Text outside them is kept as is.
pub fn rewrite_code(raw: &str, f: &mut dyn FnMut(&str) -> String) -> String {
    rewrite_blocks(raw, &mut |body| rewrite_outside_strings(body, f))
}

/// `raw` with `f` applied to the whole body (string literals included) of
/// every expression and tag, for rewrites that must see a call's arguments.
pub fn rewrite_blocks(raw: &str, f: &mut dyn FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    let mut in_raw_block = false;
    while let Some(open) = find_open(rest) {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let close_tok = match &after[..2] {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let Some(close) = after[2..].find(close_tok).map(|i| i + 2) else {
            out.push_str(after);
            return out;
        };
        let body = &after[2..close];
        let tag = body.trim().trim_start_matches('-').trim();
        if close_tok == "%}" && (tag.starts_with("raw") || tag.starts_with("verbatim")) {
            in_raw_block = true;
        } else if close_tok == "%}" && (tag.starts_with("endraw") || tag.starts_with("endverbatim")) {
            in_raw_block = false;
        }
        out.push_str(&after[..2]);
        if close_tok == "#}" || in_raw_block {
            out.push_str(body);
        } else {
            out.push_str(&f(body));
        }
        out.push_str(close_tok);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

fn find_open(s: &str) -> Option<usize> {
    ["{{", "{%", "{#"].iter().filter_map(|t| s.find(t)).min()
}

fn rewrite_outside_strings(body: &str, f: &mut dyn FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut code = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' {
            out.push_str(&f(&code));
            code.clear();
            out.push(c);
            while let Some(d) = chars.next() {
                out.push(d);
                if d == '\\' {
                    if let Some(e) = chars.next() {
                        out.push(e);
                    }
                } else if d == c {
                    break;
                }
            }
        } else {
            code.push(c);
        }
    }
    out.push_str(&f(&code));
    out
}

/// Whether `c` continues an identifier or a dotted path.
fn ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `code` with every whole occurrence of the path `from` (not part of a
/// longer name or path) replaced by `to`.
pub fn replace_path(code: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(pos) = code[i..].find(from).map(|p| p + i) {
        let before = code[..pos].chars().next_back();
        let after = code[pos + from.len()..].chars().next();
        let whole = !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident);
        out.push_str(&code[i..pos]);
        out.push_str(if whole { to } else { from });
        i = pos + from.len();
    }
    out.push_str(&code[i..]);
    out
}

/// Whether `code` holds the path `from` as a whole path.
pub fn has_path(code: &str, from: &str) -> bool {
    replace_path(code, from, "\u{0}") != code
}

/// Whether any expression in `raw` holds `path`.
pub fn mentions(raw: &str, path: &str) -> bool {
    let mut found = false;
    rewrite_code(raw, &mut |code| {
        found |= has_path(code, path);
        code.to_string()
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_expression_code_is_rewritten() {
        let raw = "echo {{ taskrun.value }} 'taskrun.value' {{ 'taskrun.value' ~ taskrun.values }} {# taskrun.value #}";
        let out = rewrite_code(raw, &mut |c| replace_path(c, "taskrun.value", "item.value"));
        assert_eq!(
            out,
            "echo {{ item.value }} 'taskrun.value' {{ 'taskrun.value' ~ taskrun.values }} {# taskrun.value #}"
        );
        assert!(mentions("{{ parent.taskrun.value }}", "parent.taskrun.value"));
        assert!(!mentions("{{ parent.taskrun.value }}", "taskrun.value"));
        let raw = "{% raw %}{{ taskrun.value }}{% endraw %}";
        assert_eq!(rewrite_code(raw, &mut |c| replace_path(c, "taskrun.value", "x")), raw);
    }
}

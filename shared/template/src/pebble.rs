//! Pebble → minijinja source rewriting. Owns the template scanner (text,
//! `{{ }}`, `{% %}`, `{# #}`, raw blocks) and a small Pebble expression
//! parser that re-emits each expression as fully parenthesised Jinja, so
//! Pebble's precedences hold (`??` and `~` bind tighter than `|`), and
//! Pebble-only syntax (`??`, `???`, `contains`, `equals`, `a ? b : c`, `..`,
//! `elseif`, 0-based `loop.index`, map iteration as entries) keeps working.

use std::ops::Range;

mod emit;
mod parse;

use emit::emit;
use parse::{Arg, K, Node, Parser, lex};

/// A rewrite failure: what and where (byte offset in the original template).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the original template.
    pub pos: usize,
}

/// The rewritten template and where each tag came from.
#[derive(Debug, Clone, Default)]
pub struct Rewritten {
    /// minijinja source.
    pub source: String,
    /// For each `{{ }}`/`{% %}`: (range in `source`, range in the original).
    pub map: Vec<(Range<usize>, Range<usize>)>,
}

impl Rewritten {
    /// The original range of the tag containing `out_pos` in the rewritten source.
    pub fn original_range(&self, out_pos: usize) -> Option<Range<usize>> {
        self.map.iter().find(|(o, _)| o.start <= out_pos && out_pos < o.end.max(o.start + 1)).map(|(_, r)| r.clone())
    }
}

/// Rewrites a Pebble template into minijinja syntax.
pub fn rewrite(src: &str) -> Result<Rewritten, SyntaxError> {
    let mut out = Rewritten { source: String::with_capacity(src.len() + 16), map: Vec::new() };
    let b = src.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i + 1 < b.len() {
        if b[i] != b'{' || !matches!(b[i + 1], b'{' | b'%' | b'#') {
            i += 1;
            continue;
        }
        out.source.push_str(&src[text_start..i]);
        let start = i;
        match b[i + 1] {
            b'#' => {
                let end = src[i + 2..]
                    .find("#}")
                    .map(|p| i + 2 + p + 2)
                    .ok_or_else(|| SyntaxError { message: "unclosed comment '{#'".into(), pos: i })?;
                out.source.push_str(&src[i..end]);
                i = end;
            }
            b'{' => {
                let (inner, ws_l, ws_r, end) = scan_tag(src, i, b'}')?;
                let expr = rewrite_expr(src, inner.clone())?;
                let o_start = out.source.len();
                out.source.push_str(if ws_l { "{{- " } else { "{{ " });
                out.source.push_str(&expr);
                out.source.push_str(if ws_r { " -}}" } else { " }}" });
                out.map.push((o_start..out.source.len(), start..end));
                i = end;
            }
            _ => {
                let (inner, ws_l, ws_r, end) = scan_tag(src, i, b'%')?;
                let body = rewrite_tag(src, inner.clone())?;
                let o_start = out.source.len();
                out.source.push_str(if ws_l { "{%- " } else { "{% " });
                out.source.push_str(&body);
                out.source.push_str(if ws_r { " -%}" } else { " %}" });
                out.map.push((o_start..out.source.len(), start..end));
                i = end;
                let word = src[inner.clone()].split_whitespace().next().unwrap_or("");
                if word == "raw" || word == "verbatim" {
                    // copy verbatim up to the matching end tag
                    let close = if word == "raw" { "endraw" } else { "endverbatim" };
                    let (body_end, tag_end, ws) = find_end_raw(src, i, close)
                        .ok_or_else(|| SyntaxError { message: format!("missing '{{% {close} %}}'"), pos: start })?;
                    out.source.push_str(&src[i..body_end]);
                    out.source.push_str(if ws.0 { "{%- endraw" } else { "{% endraw" });
                    out.source.push_str(if ws.1 { " -%}" } else { " %}" });
                    i = tag_end;
                }
            }
        }
        text_start = i;
    }
    out.source.push_str(&src[text_start.min(src.len())..]);
    Ok(out)
}

/// Finds `{% endraw %}` from `from`: (start of end tag, end of end tag, (ws_l, ws_r)).
fn find_end_raw(src: &str, from: usize, close: &str) -> Option<(usize, usize, (bool, bool))> {
    let mut p = from;
    while let Some(off) = src[p..].find("{%") {
        let s = p + off;
        let mut j = s + 2;
        let ws_l = src[j..].starts_with('-');
        if ws_l {
            j += 1;
        }
        let rest = src[j..].trim_start();
        if let Some(after) = rest.strip_prefix(close) {
            let after_t = after.trim_start();
            let ws_r = after_t.starts_with("-%}");
            if ws_r || after_t.starts_with("%}") {
                let end = src.len() - after_t.len() + if ws_r { 3 } else { 2 };
                return Some((s, end, (ws_l, ws_r)));
            }
        }
        p = s + 2;
    }
    None
}

/// Scans a `{{ … }}` or `{% … %}` tag starting at `start`. Returns the inner
/// range (without delimiters and whitespace-control dashes), the dashes and
/// the end offset.
fn scan_tag(src: &str, start: usize, close: u8) -> Result<(Range<usize>, bool, bool, usize), SyntaxError> {
    let b = src.as_bytes();
    let mut i = start + 2;
    let ws_l = b.get(i) == Some(&b'-');
    if ws_l {
        i += 1;
    }
    let inner_start = i;
    let mut depth = 0i32;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return Err(SyntaxError { message: "unterminated string literal".into(), pos: start });
                }
            }
            b'{' | b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'}' if close == b'}' && depth > 0 => depth -= 1,
            c if c == close && b.get(i + 1) == Some(&b'}') => {
                let ws_r = i > inner_start && b[i - 1] == b'-';
                let inner_end = if ws_r { i - 1 } else { i };
                return Ok((inner_start..inner_end, ws_l, ws_r, i + 2));
            }
            b'-' if b.get(i + 1) == Some(&close) && b.get(i + 2) == Some(&b'}') => {}
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    let what = if close == b'}' { "'{{' is never closed by '}}'" } else { "'{%' is never closed by '%}'" };
    Err(SyntaxError { message: what.into(), pos: start })
}

fn rewrite_expr(src: &str, r: Range<usize>) -> Result<String, SyntaxError> {
    let toks = lex(&src[r.clone()], r.start)?;
    if toks.is_empty() {
        return Err(SyntaxError { message: "empty expression".into(), pos: r.start });
    }
    let mut p = Parser::new(toks, 0, r.end)?;
    let node = p.whole()?;
    p.expect_end()?;
    Ok(emit(&node))
}

fn rewrite_tag(src: &str, r: Range<usize>) -> Result<String, SyntaxError> {
    let toks = lex(&src[r.clone()], r.start)?;
    let Some(first) = toks.first() else {
        return Err(SyntaxError { message: "empty tag".into(), pos: r.start });
    };
    let name = if first.kind == K::Ident { first.text.clone() } else { String::new() };
    let mut p = Parser::new(toks, 1, r.end)?;
    match name.as_str() {
        "if" | "elseif" | "elif" => {
            let n = p.whole()?;
            p.expect_end()?;
            let kw = if name == "if" { "if" } else { "elif" };
            Ok(format!("{kw} {}", emit(&n)))
        }
        "for" => {
            let mut targets = Vec::new();
            loop {
                let t = p.next_tok()?;
                if t.kind != K::Ident {
                    return Err(SyntaxError { message: "expected a loop variable name".into(), pos: t.pos });
                }
                targets.push(t.text);
                if p.eat_op(",") {
                    continue;
                }
                break;
            }
            if !p.eat_word("in") {
                return Err(SyntaxError { message: "expected 'in' in for tag".into(), pos: p.pos() });
            }
            let iter = p.whole_expr()?;
            let iter_s = if targets.len() == 1 { format!("__b_iter({})", emit(&iter)) } else { emit(&iter) };
            let mut s = format!("for {} in {iter_s}", targets.join(", "));
            if p.eat_word("if") {
                let c = p.whole_expr()?;
                s.push_str(" if ");
                s.push_str(&emit(&c));
            }
            if p.eat_word("recursive") {
                s.push_str(" recursive");
            }
            p.expect_end()?;
            Ok(s)
        }
        "set" => {
            let t = p.next_tok()?;
            if t.kind != K::Ident {
                return Err(SyntaxError { message: "expected a variable name after 'set'".into(), pos: t.pos });
            }
            if p.at_end() {
                return Ok(format!("set {}", t.text));
            }
            if !p.eat_op("=") {
                return Err(SyntaxError { message: "expected '=' in set tag".into(), pos: p.pos() });
            }
            let v = p.whole()?;
            p.expect_end()?;
            Ok(format!("set {} = {}", t.text, emit(&v)))
        }
        "verbatim" => Ok("raw".into()),
        "endverbatim" => Ok("endraw".into()),
        _ => Ok(src[r].trim().to_string()),
    }
}

/// If the template is exactly one `{{ expr }}` (whitespace around allowed),
/// returns the rewritten expression.
pub fn single_expression(src: &str) -> Option<Result<String, SyntaxError>> {
    let t = src.trim();
    let start = src.len() - src.trim_start().len();
    if !t.starts_with("{{") {
        return None;
    }
    let (inner, _, _, end) = match scan_tag(src, start, b'}') {
        Ok(x) => x,
        Err(e) => return Some(Err(e)),
    };
    if end != start + t.len() {
        return None;
    }
    Some(rewrite_expr(src, inner))
}

/// The variable paths (`a.b.c`, `a['k']`) used in an expression, for error
/// messages: each as (display text, root name, keys).
pub fn paths_in(expr_src: &str) -> Vec<(String, String, Vec<String>)> {
    let Ok(toks) = lex(expr_src, 0) else { return Vec::new() };
    let Ok(mut p) = Parser::new(toks, 0, expr_src.len()) else { return Vec::new() };
    let Ok(n) = p.whole() else { return Vec::new() };
    let mut out = Vec::new();
    collect_paths(&n, &mut out);
    out
}

fn path_parts(n: &Node) -> Option<(String, String, Vec<String>)> {
    match n {
        Node::Name(s) => Some((s.clone(), s.clone(), Vec::new())),
        Node::Attr(b, k) => {
            let (d, r, mut ks) = path_parts(b)?;
            ks.push(k.clone());
            Some((format!("{d}.{k}"), r, ks))
        }
        Node::Item(b, i) => {
            let (d, r, mut ks) = path_parts(b)?;
            let Node::Lit(l) = &**i else { return None };
            let key = l.trim_matches(|c| c == '\'' || c == '"').to_string();
            ks.push(key);
            Some((format!("{d}[{l}]"), r, ks))
        }
        _ => None,
    }
}

fn collect_paths(n: &Node, out: &mut Vec<(String, String, Vec<String>)>) {
    if let Some(p) = path_parts(n) {
        out.push(p);
        return;
    }
    match n {
        Node::Attr(b, _) => collect_paths(b, out),
        Node::Item(b, i) => {
            collect_paths(b, out);
            collect_paths(i, out);
        }
        Node::Call(b, args) | Node::Filter(b, _, args) | Node::Test(b, _, _, args) => {
            if !matches!(&**b, Node::Name(_)) || matches!(n, Node::Filter(..) | Node::Test(..)) {
                collect_paths(b, out);
            }
            for a in args {
                match a {
                    Arg::Pos(x) | Arg::Named(_, x) => collect_paths(x, out),
                }
            }
        }
        Node::Unary(_, x) => collect_paths(x, out),
        Node::Bin(op, l, r) => {
            if op != "??" && op != "???" {
                collect_paths(l, out);
            }
            collect_paths(r, out);
        }
        Node::List(items) => items.iter().for_each(|x| collect_paths(x, out)),
        Node::Map(items) => items.iter().for_each(|(_, v)| collect_paths(v, out)),
        Node::Cond(c, a, b) => {
            collect_paths(c, out);
            collect_paths(a, out);
            if let Some(b) = b {
                collect_paths(b, out);
            }
        }
        Node::Lit(_) | Node::Name(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(s: &str) -> String {
        rewrite(s).unwrap().source
    }

    #[test]
    fn plain_paths_are_untouched() {
        assert_eq!(rw("a {{ inputs.x }} b"), "a {{ inputs.x }} b");
        assert_eq!(rw("{{ outputs.t.outputFiles['a-b.csv'] }}"), "{{ outputs.t.outputFiles['a-b.csv'] }}");
    }

    #[test]
    fn concat_binds_tighter_than_filter() {
        assert_eq!(rw("{{ 'a' ~ 'b' | upper }}"), "{{ (__b_cat('a', 'b'))|upper }}");
    }

    #[test]
    fn coalesce_binds_tighter_than_filter() {
        let s = rw("{{ trigger.date ?? execution.startDate | date('yyyy') }}");
        assert_eq!(s, "{{ ((__b_box(__b_get(trigger, \"date\")) or [execution.startDate])[0])|date('yyyy') }}");
    }

    #[test]
    fn contains_ternary_elseif_and_raw() {
        assert_eq!(rw("{{ [1,2] contains 2 }}"), "{{ __b_contains([1, 2], 2) }}");
        assert_eq!(rw("{{ a ? 1 : 2 }}"), "{{ (1 if a else 2) }}");
        assert_eq!(rw("{% if a equals 1 %}x{% elseif b %}y{% endif %}"), "{% if (a == 1) %}x{% elif b %}y{% endif %}");
        assert_eq!(rw("{% raw %}{{ a ?? b }}{% endraw %}"), "{% raw %}{{ a ?? b }}{% endraw %}");
        assert_eq!(rw("{{ {'a': {'b': 1}} }}"), "{{ {'a': {'b': 1}} }}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = rewrite("abc {{ a + }}").unwrap_err();
        assert!(e.message.contains("end of expression"), "{e:?}");
        let e = rewrite("abc {{ a ").unwrap_err();
        assert_eq!(e.pos, 4);
    }

    #[test]
    fn single_expression_detection() {
        assert!(single_expression(" {{ a }} ").unwrap().is_ok());
        assert!(single_expression("{{ a }}{{ b }}").is_none());
        assert!(single_expression("x{{ a }}").is_none());
        assert!(single_expression("{{ {'a': {'b': 1}} }}").unwrap().is_ok());
    }

    #[test]
    fn paths_for_messages() {
        let p = paths_in("inputs.nope ~ x['k'] | upper");
        assert_eq!(p[0].0, "inputs.nope");
        assert_eq!(p[1].2, vec!["k".to_string()]);
    }
}

//! Pebble → minijinja source rewriting. Owns the template scanner (text,
//! `{{ }}`, `{% %}`, `{# #}`, raw blocks) and a small Pebble expression
//! parser that re-emits each expression as fully parenthesised Jinja, so
//! Pebble's precedences hold (`??` and `~` bind tighter than `|`), and
//! Pebble-only syntax (`??`, `???`, `contains`, `equals`, `a ? b : c`, `..`,
//! `elseif`, 0-based `loop.index`, map iteration as entries) keeps working.

use std::ops::Range;

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

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, Copy, PartialEq)]
enum K {
    Ident,
    Str,
    Num,
    Op,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: K,
    text: String,
    pos: usize,
}

const OPS: &[&str] = &[
    "???", "??", "==", "!=", "<=", ">=", "..", "**", "//", "?", "<", ">", "+", "-", "*", "/", "%", "~", "|", "=", ":",
    ",", ".", "(", ")", "[", "]", "{", "}", "!",
];

fn lex(s: &str, base: usize) -> Result<Vec<Tok>, SyntaxError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'\'' || c == b'"' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            if i >= b.len() {
                return Err(SyntaxError { message: "unterminated string literal".into(), pos: base + start });
            }
            i += 1;
            out.push(Tok { kind: K::Str, text: s[start..i].to_string(), pos: base + start });
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let mut text = s[start..i].replace('_', "");
            // Java long / float / double suffixes
            if i < b.len() && matches!(b[i], b'L' | b'l' | b'd' | b'D' | b'f' | b'F') {
                if matches!(b[i], b'd' | b'D' | b'f' | b'F') && !text.contains('.') {
                    text.push_str(".0");
                }
                i += 1;
            }
            out.push(Tok { kind: K::Num, text, pos: base + start });
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            out.push(Tok { kind: K::Ident, text: s[start..i].to_string(), pos: base + start });
        } else {
            let Some(op) = OPS.iter().find(|op| s[i..].starts_with(**op)) else {
                return Err(SyntaxError {
                    message: format!("unexpected character '{}'", s[i..].chars().next().unwrap_or('?')),
                    pos: base + start,
                });
            };
            i += op.len();
            out.push(Tok { kind: K::Op, text: (*op).to_string(), pos: base + start });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- parser

#[derive(Debug, Clone)]
enum Arg {
    Pos(Node),
    Named(String, Node),
}

#[derive(Debug, Clone)]
enum Node {
    Lit(String),
    Name(String),
    Attr(Box<Node>, String),
    Item(Box<Node>, Box<Node>),
    Call(Box<Node>, Vec<Arg>),
    Filter(Box<Node>, String, Vec<Arg>),
    Test(Box<Node>, bool, String, Vec<Arg>),
    Unary(&'static str, Box<Node>),
    Bin(String, Box<Node>, Box<Node>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Cond(Box<Node>, Box<Node>, Option<Box<Node>>),
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
    end: usize,
    /// How many sub-expressions are open (parentheses, lists, maps, ternaries).
    depth: usize,
}

/// The most tokens one expression may have: bounds the tree the emitter
/// walks recursively (a left-deep `a + b + …` chain is as deep as it is long).
pub const MAX_TOKENS: usize = 1_000;
/// How deeply sub-expressions may nest.
pub const MAX_NESTING: usize = 64;
/// How deep the parsed tree may be (what the emitter and minijinja recurse over).
pub const MAX_DEPTH: usize = 40;

fn bounded(n: Node, pos: usize) -> Result<Node, SyntaxError> {
    if tree_depth(&n) > MAX_DEPTH {
        return Err(SyntaxError { message: format!("expression nested more than {MAX_DEPTH} operations deep"), pos });
    }
    Ok(n)
}

/// The depth of a parsed tree, measured without recursion.
fn tree_depth(root: &Node) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((n, d)) = stack.pop() {
        deepest = deepest.max(d);
        let kids: Vec<&Node> = match n {
            Node::Lit(_) | Node::Name(_) => Vec::new(),
            Node::Attr(a, _) | Node::Unary(_, a) => vec![a],
            Node::Item(a, b) | Node::Bin(_, a, b) => vec![a, b],
            Node::Call(a, xs) | Node::Filter(a, _, xs) | Node::Test(a, _, _, xs) => {
                let mut v = vec![a.as_ref()];
                v.extend(xs.iter().map(|x| match x {
                    Arg::Pos(n) | Arg::Named(_, n) => n,
                }));
                v
            }
            Node::List(xs) => xs.iter().collect(),
            Node::Map(kv) => kv.iter().flat_map(|(k, v)| [k, v]).collect(),
            Node::Cond(a, b, c) => [Some(a.as_ref()), Some(b.as_ref()), c.as_deref()].into_iter().flatten().collect(),
        };
        // a left-deep chain the emitter flattens (`a ~ b ~ c`, `a ?? b ?? c`) counts as one level
        let flat = |k: &Node| matches!((n, k), (Node::Bin(o, ..), Node::Bin(p, ..)) if o == p && matches!(o.as_str(), "~" | "??" | "???"));
        stack.extend(kids.into_iter().enumerate().map(|(i, k)| (k, if i == 0 && flat(k) { d } else { d + 1 })));
    }
    deepest
}

impl Parser {
    fn new(toks: Vec<Tok>, i: usize, end: usize) -> Result<Parser, SyntaxError> {
        if toks.len() > MAX_TOKENS {
            let pos = toks.get(MAX_TOKENS).map(|t| t.pos).unwrap_or(end);
            return Err(SyntaxError { message: format!("expression longer than {MAX_TOKENS} tokens"), pos });
        }
        Ok(Parser { toks, i, end, depth: 0 })
    }
}

fn bin_prec(t: &Tok) -> Option<u32> {
    let p = match (t.kind, t.text.as_str()) {
        (K::Ident, "or") => 10,
        (K::Ident, "and") => 15,
        (K::Ident, "is" | "contains") => 20,
        (K::Ident, "equals" | "in" | "not") => 30,
        (K::Op, "==" | "!=" | "<" | ">" | "<=" | ">=") => 30,
        (K::Op, "+" | "-") => 40,
        (K::Op, "*" | "/" | "%" | "//") => 60,
        (K::Op, "**") => 70,
        (K::Op, "|") => 100,
        (K::Op, "~") => 110,
        (K::Op, ".." | "??" | "???") => 120,
        _ => return None,
    };
    Some(p)
}

impl Parser {
    fn pos(&self) -> usize {
        self.toks.get(self.i).map(|t| t.pos).unwrap_or(self.end)
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }
    fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }
    fn next_tok(&mut self) -> Result<Tok, SyntaxError> {
        let t = self
            .toks
            .get(self.i)
            .cloned()
            .ok_or_else(|| SyntaxError { message: "unexpected end of expression".into(), pos: self.end })?;
        self.i += 1;
        Ok(t)
    }
    fn is_op(&self, op: &str) -> bool {
        self.peek().is_some_and(|t| t.kind == K::Op && t.text == op)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn is_word(&self, w: &str) -> bool {
        self.peek().is_some_and(|t| t.kind == K::Ident && t.text == w)
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), SyntaxError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            let found = self.peek().map(|t| format!("'{}'", t.text)).unwrap_or_else(|| "end of expression".into());
            Err(SyntaxError { message: format!("expected '{op}', found {found}"), pos: self.pos() })
        }
    }
    fn expect_end(&self) -> Result<(), SyntaxError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(SyntaxError { message: format!("unexpected '{}'", t.text), pos: t.pos }),
        }
    }

    /// `c ? a : b`, Jinja's `a if c else b`, or a plain expression.
    /// A whole expression: parsed, then checked against `MAX_DEPTH`.
    fn whole(&mut self) -> Result<Node, SyntaxError> {
        let start = self.pos();
        let n = self.ternary()?;
        bounded(n, start)
    }

    /// A plain expression (no ternary), checked against `MAX_DEPTH`.
    fn whole_expr(&mut self) -> Result<Node, SyntaxError> {
        let start = self.pos();
        let n = self.expr(0)?;
        bounded(n, start)
    }

    fn ternary(&mut self) -> Result<Node, SyntaxError> {
        if self.depth >= MAX_NESTING {
            return Err(SyntaxError {
                message: format!("expression nested more than {MAX_NESTING} levels deep"),
                pos: self.pos(),
            });
        }
        self.depth += 1;
        let n = self.ternary_inner();
        self.depth -= 1;
        n
    }

    fn ternary_inner(&mut self) -> Result<Node, SyntaxError> {
        let n = self.expr(0)?;
        if self.eat_op("?") {
            let a = self.ternary()?;
            self.expect_op(":")?;
            let b = self.ternary()?;
            return Ok(Node::Cond(Box::new(n), Box::new(a), Some(Box::new(b))));
        }
        if self.eat_word("if") {
            let c = self.expr(0)?;
            let e = if self.eat_word("else") { Some(Box::new(self.ternary()?)) } else { None };
            return Ok(Node::Cond(Box::new(c), Box::new(n), e));
        }
        Ok(n)
    }

    fn expr(&mut self, min: u32) -> Result<Node, SyntaxError> {
        let mut left = self.unary()?;
        while let Some(t) = self.peek().cloned() {
            let Some(p) = bin_prec(&t) else { break };
            if p < min {
                break;
            }
            // `not` is only binary as `not in`
            if t.kind == K::Ident && t.text == "not" {
                if !self.toks.get(self.i + 1).is_some_and(|n| n.kind == K::Ident && n.text == "in") {
                    break;
                }
                self.i += 2;
                let r = self.expr(p + 1)?;
                left = Node::Bin("not in".into(), Box::new(left), Box::new(r));
                continue;
            }
            self.i += 1;
            match t.text.as_str() {
                "|" => {
                    let name = self.next_tok()?;
                    if name.kind != K::Ident {
                        return Err(SyntaxError { message: "expected a filter name after '|'".into(), pos: name.pos });
                    }
                    let args = if self.is_op("(") { self.args()? } else { Vec::new() };
                    left = Node::Filter(Box::new(left), name.text, args);
                }
                "is" => {
                    let neg = self.eat_word("not");
                    let name = self.next_tok()?;
                    if name.kind != K::Ident {
                        return Err(SyntaxError { message: "expected a test name after 'is'".into(), pos: name.pos });
                    }
                    let args = if self.is_op("(") { self.args()? } else { Vec::new() };
                    left = Node::Test(Box::new(left), neg, name.text, args);
                }
                op => {
                    let r = self.expr(p + 1)?;
                    left = Node::Bin(op.to_string(), Box::new(left), Box::new(r));
                }
            }
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, SyntaxError> {
        if self.depth >= MAX_NESTING {
            return Err(SyntaxError {
                message: format!("expression nested more than {MAX_NESTING} levels deep"),
                pos: self.pos(),
            });
        }
        self.depth += 1;
        let n = self.unary_inner();
        self.depth -= 1;
        n
    }

    fn unary_inner(&mut self) -> Result<Node, SyntaxError> {
        if self.eat_word("not") {
            return Ok(Node::Unary("not", Box::new(self.expr(500)?)));
        }
        if self.eat_op("!") {
            return Ok(Node::Unary("not", Box::new(self.expr(500)?)));
        }
        if self.eat_op("-") {
            return Ok(Node::Unary("-", Box::new(self.expr(500)?)));
        }
        if self.eat_op("+") {
            return self.expr(500);
        }
        let p = self.primary()?;
        self.postfix(p)
    }

    fn args(&mut self) -> Result<Vec<Arg>, SyntaxError> {
        self.expect_op("(")?;
        let mut args = Vec::new();
        while !self.eat_op(")") {
            let named = self.peek().is_some_and(|t| t.kind == K::Ident)
                && self.toks.get(self.i + 1).is_some_and(|t| t.kind == K::Op && t.text == "=");
            if named {
                let n = self.next_tok()?.text;
                self.i += 1;
                args.push(Arg::Named(n, self.ternary()?));
            } else {
                args.push(Arg::Pos(self.ternary()?));
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok(args)
    }

    fn postfix(&mut self, mut n: Node) -> Result<Node, SyntaxError> {
        loop {
            if self.eat_op(".") {
                let t = self.next_tok()?;
                if t.kind != K::Ident && t.kind != K::Num {
                    return Err(SyntaxError { message: "expected an attribute name after '.'".into(), pos: t.pos });
                }
                n = Node::Attr(Box::new(n), t.text);
            } else if self.is_op("[") {
                self.i += 1;
                let idx = self.ternary()?;
                self.expect_op("]")?;
                n = Node::Item(Box::new(n), Box::new(idx));
            } else if self.is_op("(") {
                let a = self.args()?;
                n = Node::Call(Box::new(n), a);
            } else {
                return Ok(n);
            }
        }
    }

    fn primary(&mut self) -> Result<Node, SyntaxError> {
        let t = self.next_tok()?;
        match t.kind {
            K::Str => Ok(Node::Lit(t.text)),
            K::Num => Ok(Node::Lit(t.text)),
            K::Ident => Ok(match t.text.as_str() {
                "null" | "none" | "None" | "NULL" => Node::Lit("none".into()),
                "true" | "True" | "TRUE" => Node::Lit("true".into()),
                "false" | "False" | "FALSE" => Node::Lit("false".into()),
                _ => Node::Name(t.text),
            }),
            K::Op => match t.text.as_str() {
                "(" => {
                    let n = self.ternary()?;
                    self.expect_op(")")?;
                    Ok(n)
                }
                "[" => {
                    let mut items = Vec::new();
                    while !self.eat_op("]") {
                        items.push(self.ternary()?);
                        if !self.eat_op(",") {
                            self.expect_op("]")?;
                            break;
                        }
                    }
                    Ok(Node::List(items))
                }
                "{" => {
                    let mut items = Vec::new();
                    while !self.eat_op("}") {
                        let k = self.ternary()?;
                        self.expect_op(":")?;
                        let v = self.ternary()?;
                        items.push((k, v));
                        if !self.eat_op(",") {
                            self.expect_op("}")?;
                            break;
                        }
                    }
                    Ok(Node::Map(items))
                }
                other => Err(SyntaxError { message: format!("unexpected '{other}'"), pos: t.pos }),
            },
        }
    }
}

// ---------------------------------------------------------------- emitter

fn is_chain(n: &Node) -> bool {
    matches!(n, Node::Name(_) | Node::Lit(_) | Node::Attr(..) | Node::Item(..) | Node::Call(..) | Node::Filter(..))
}

fn emit_base(n: &Node) -> String {
    if is_chain(n) && !matches!(n, Node::Filter(..)) { emit(n) } else { format!("({})", emit(n)) }
}

fn emit_args(args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| match a {
            Arg::Pos(n) => emit(n),
            Arg::Named(k, n) => format!("{k}={}", emit(n)),
        })
        .collect();
    parts.join(", ")
}

/// True for a plain variable path (`a.b[c]`), which may be navigated safely.
fn is_path(n: &Node) -> bool {
    match n {
        Node::Name(_) => true,
        Node::Attr(b, _) | Node::Item(b, _) => is_path(b),
        _ => false,
    }
}

/// Emits `n` so that missing intermediate values give undefined instead of
/// an error (for `??`, `???`, `is defined` and `default`).
fn emit_safe(n: &Node) -> String {
    match n {
        Node::Attr(b, k) if is_path(n) => format!("__b_get({}, {:?})", emit_safe(b), k),
        Node::Item(b, i) if is_path(n) => format!("__b_get({}, {})", emit_safe(b), emit(i)),
        Node::Filter(b, f, args) if is_path(b) => {
            let s = emit_safe(b);
            let a = if args.is_empty() { String::new() } else { format!("({})", emit_args(args)) };
            format!("((({s})|{f}{a}) if __b_present({s}) else none)")
        }
        _ => emit(n),
    }
}

fn emit(n: &Node) -> String {
    match n {
        Node::Lit(s) | Node::Name(s) => s.clone(),
        Node::Attr(b, k) => {
            if matches!(&**b, Node::Name(l) if l == "loop") {
                let k = match k.as_str() {
                    "index" => "index0",
                    "revindex" => "revindex0",
                    other => other,
                };
                return format!("loop.{k}");
            }
            if k.as_bytes()[0].is_ascii_digit() {
                format!("{}[{k}]", emit_base(b))
            } else {
                format!("{}.{k}", emit_base(b))
            }
        }
        Node::Item(b, i) => format!("{}[{}]", emit_base(b), emit(i)),
        Node::Call(b, args) => format!("{}({})", emit_base(b), emit_args(args)),
        Node::Filter(b, f, args) => {
            let base = if f == "default" || f == "d" {
                let s = emit_safe(b);
                if is_path(b) { format!("({s})") } else { s }
            } else if is_chain(b) {
                emit(b)
            } else {
                format!("({})", emit(b))
            };
            let base = if base.starts_with("__b_get") { format!("({base})") } else { base };
            if args.is_empty() { format!("{base}|{f}") } else { format!("{base}|{f}({})", emit_args(args)) }
        }
        Node::Test(b, neg, t, args) => {
            let t = match t.as_str() {
                "null" => "none",
                "map" => "mapping",
                other => other,
            };
            let base = if t == "defined" || t == "undefined" || t == "none" { emit_safe(b) } else { emit_base(b) };
            let not = if *neg { "not " } else { "" };
            if args.is_empty() {
                format!("(({base}) is {not}{t})")
            } else {
                format!("(({base}) is {not}{t}({}))", emit_args(args))
            }
        }
        Node::Unary(op, x) => format!("({op} {})", emit_base(x)),
        Node::Bin(op, l, r) => {
            let (l, r) = (&**l, &**r);
            match op.as_str() {
                // `l` is evaluated once (a chain of `??` must not double the source at
                // each link) and `r` only when `l` is missing: `or` short-circuits, and
                // `__b_box` wraps a present value in a (truthy) one-element list.
                "??" | "???" => {
                    let boxf = if op == "??" { "__b_box" } else { "__b_box_defined" };
                    let mut parts = vec![format!("[{}]", emit(r))];
                    let mut left = l;
                    while let Node::Bin(o, ll, lr) = left
                        && o == op
                    {
                        parts.push(format!("{boxf}({})", emit_safe(lr)));
                        left = ll;
                    }
                    parts.push(format!("{boxf}({})", emit_safe(left)));
                    parts.reverse();
                    format!("({})[0]", parts.join(" or "))
                }
                "~" => {
                    // a left-deep chain becomes one call, so long concatenations stay shallow
                    let mut parts = vec![emit(r)];
                    let mut left = l;
                    while let Node::Bin(op, ll, lr) = left
                        && op == "~"
                    {
                        parts.push(emit(lr));
                        left = ll;
                    }
                    parts.push(emit(left));
                    parts.reverse();
                    format!("__b_cat({})", parts.join(", "))
                }
                ".." => format!("__b_range({}, {})", emit(l), emit(r)),
                "/" => format!("__b_div({}, {})", emit(l), emit(r)),
                // Pebble's arithmetic, not minijinja's (`'3' * 2` is an error, `'a' + 1` is "a1")
                "*" => format!("__b_mul({}, {})", emit(l), emit(r)),
                "+" => format!("__b_add({}, {})", emit(l), emit(r)),
                "contains" => format!("__b_contains({}, {})", emit(l), emit(r)),
                "equals" => format!("({} == {})", emit_base(l), emit_base(r)),
                "and" | "or" => format!("(({} {op} {})|bool)", emit_base(l), emit_base(r)),
                _ => format!("({} {op} {})", emit_base(l), emit_base(r)),
            }
        }
        Node::List(items) => {
            let parts: Vec<String> = items.iter().map(emit).collect();
            format!("[{}]", parts.join(", "))
        }
        Node::Map(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|(k, v)| {
                    let k = match k {
                        Node::Name(n) => format!("{n:?}"),
                        other => emit(other),
                    };
                    format!("{k}: {}", emit(v))
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Node::Cond(c, a, b) => match b {
            Some(b) => format!("({} if {} else {})", emit(a), emit(c), emit(b)),
            None => format!("({} if {})", emit(a), emit(c)),
        },
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

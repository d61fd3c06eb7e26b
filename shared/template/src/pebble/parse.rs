//! The Pebble expression lexer and parser: tokens, the expression tree
//! (`Node`) with Pebble's precedences, and the bounds on an expression's
//! tokens, nesting and depth.

use super::SyntaxError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum K {
    Ident,
    Str,
    Num,
    Op,
}

#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) kind: K,
    pub(super) text: String,
    pub(super) pos: usize,
}

pub(super) const OPS: &[&str] = &[
    "???", "??", "==", "!=", "<=", ">=", "..", "**", "//", "?", "<", ">", "+", "-", "*", "/", "%", "~", "|", "=", ":",
    ",", ".", "(", ")", "[", "]", "{", "}", "!",
];

pub(super) fn lex(s: &str, base: usize) -> Result<Vec<Tok>, SyntaxError> {
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
pub(super) enum Arg {
    Pos(Node),
    Named(String, Node),
}

#[derive(Debug, Clone)]
pub(super) enum Node {
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

pub(super) struct Parser {
    pub(super) toks: Vec<Tok>,
    pub(super) i: usize,
    pub(super) end: usize,
    /// How many sub-expressions are open (parentheses, lists, maps, ternaries).
    pub(super) depth: usize,
}

/// The most tokens one expression may have: bounds the tree the emitter
/// walks recursively (a left-deep `a + b + …` chain is as deep as it is long).
pub const MAX_TOKENS: usize = 1_000;
/// How deeply sub-expressions may nest.
pub const MAX_NESTING: usize = 64;
/// How deep the parsed tree may be (what the emitter and minijinja recurse over).
pub const MAX_DEPTH: usize = 40;

pub(super) fn bounded(n: Node, pos: usize) -> Result<Node, SyntaxError> {
    if tree_depth(&n) > MAX_DEPTH {
        return Err(SyntaxError { message: format!("expression nested more than {MAX_DEPTH} operations deep"), pos });
    }
    Ok(n)
}

/// The depth of a parsed tree, measured without recursion.
pub(super) fn tree_depth(root: &Node) -> usize {
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
    pub(super) fn new(toks: Vec<Tok>, i: usize, end: usize) -> Result<Parser, SyntaxError> {
        if toks.len() > MAX_TOKENS {
            let pos = toks.get(MAX_TOKENS).map(|t| t.pos).unwrap_or(end);
            return Err(SyntaxError { message: format!("expression longer than {MAX_TOKENS} tokens"), pos });
        }
        Ok(Parser { toks, i, end, depth: 0 })
    }
}

pub(super) fn bin_prec(t: &Tok) -> Option<u32> {
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
    pub(super) fn pos(&self) -> usize {
        self.toks.get(self.i).map(|t| t.pos).unwrap_or(self.end)
    }
    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }
    pub(super) fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }
    pub(super) fn next_tok(&mut self) -> Result<Tok, SyntaxError> {
        let t = self
            .toks
            .get(self.i)
            .cloned()
            .ok_or_else(|| SyntaxError { message: "unexpected end of expression".into(), pos: self.end })?;
        self.i += 1;
        Ok(t)
    }
    pub(super) fn is_op(&self, op: &str) -> bool {
        self.peek().is_some_and(|t| t.kind == K::Op && t.text == op)
    }
    pub(super) fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(super) fn is_word(&self, w: &str) -> bool {
        self.peek().is_some_and(|t| t.kind == K::Ident && t.text == w)
    }
    pub(super) fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(super) fn expect_op(&mut self, op: &str) -> Result<(), SyntaxError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            let found = self.peek().map(|t| format!("'{}'", t.text)).unwrap_or_else(|| "end of expression".into());
            Err(SyntaxError { message: format!("expected '{op}', found {found}"), pos: self.pos() })
        }
    }
    pub(super) fn expect_end(&self) -> Result<(), SyntaxError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(SyntaxError { message: format!("unexpected '{}'", t.text), pos: t.pos }),
        }
    }

    /// `c ? a : b`, Jinja's `a if c else b`, or a plain expression.
    /// A whole expression: parsed, then checked against `MAX_DEPTH`.
    pub(super) fn whole(&mut self) -> Result<Node, SyntaxError> {
        let start = self.pos();
        let n = self.ternary()?;
        bounded(n, start)
    }

    /// A plain expression (no ternary), checked against `MAX_DEPTH`.
    pub(super) fn whole_expr(&mut self) -> Result<Node, SyntaxError> {
        let start = self.pos();
        let n = self.expr(0)?;
        bounded(n, start)
    }

    pub(super) fn ternary(&mut self) -> Result<Node, SyntaxError> {
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

    pub(super) fn ternary_inner(&mut self) -> Result<Node, SyntaxError> {
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

    pub(super) fn expr(&mut self, min: u32) -> Result<Node, SyntaxError> {
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

    pub(super) fn unary(&mut self) -> Result<Node, SyntaxError> {
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

    pub(super) fn unary_inner(&mut self) -> Result<Node, SyntaxError> {
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

    pub(super) fn args(&mut self) -> Result<Vec<Arg>, SyntaxError> {
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

    pub(super) fn postfix(&mut self, mut n: Node) -> Result<Node, SyntaxError> {
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

    pub(super) fn primary(&mut self) -> Result<Node, SyntaxError> {
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

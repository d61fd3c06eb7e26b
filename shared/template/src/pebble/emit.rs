//! The Pebble expression tree re-emitted as fully parenthesised Jinja:
//! Pebble-only operators (`??`, `???`, `contains`, ternaries, ranges) in
//! their minijinja forms.

use super::parse::{Arg, Node};

pub(super) fn is_chain(n: &Node) -> bool {
    matches!(n, Node::Name(_) | Node::Lit(_) | Node::Attr(..) | Node::Item(..) | Node::Call(..) | Node::Filter(..))
}

pub(super) fn emit_base(n: &Node) -> String {
    if is_chain(n) && !matches!(n, Node::Filter(..)) { emit(n) } else { format!("({})", emit(n)) }
}

pub(super) fn emit_args(args: &[Arg]) -> String {
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
pub(super) fn is_path(n: &Node) -> bool {
    match n {
        Node::Name(_) => true,
        Node::Attr(b, _) | Node::Item(b, _) => is_path(b),
        _ => false,
    }
}

/// Emits `n` so that missing intermediate values give undefined instead of
/// an error (for `??`, `???`, `is defined` and `default`).
pub(super) fn emit_safe(n: &Node) -> String {
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

pub(super) fn emit(n: &Node) -> String {
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

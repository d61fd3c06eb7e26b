//! Static name checks of a template, run by `baton validate` after the
//! syntax check: a call to a function the renderer does not have is an
//! error at validation time, not an "unknown function" at run time, and
//! the Kestra functions and variables Baton does not provide yet are
//! refused by name.

/// Kestra functions Baton does not provide (yet), with why.
const UNSUPPORTED_FUNCTIONS: &[(&str, &str)] = &[
    ("encrypt", "Baton has no encryption key for templates"),
    ("decrypt", "Baton has no encryption key for templates"),
];

/// Kestra variables Baton does not set (yet), with why.
const UNSUPPORTED_VARIABLES: &[(&str, &str)] = &[];

/// Words that may precede `(` without being a call.
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "elif", "else", "for", "macro", "call", "set", "filter", "with", "block",
    "import", "from", "as", "equals", "contains", "matches", "return",
];

/// The expression parts of a template (inside `{{ }}` and `{% %}`), with
/// string literals blanked out.
fn expressions(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = t.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        let close: &[u8] = match (b[i], b[i + 1]) {
            (b'{', b'{') => b"}}",
            (b'{', b'%') => b"%}",
            _ => {
                i += 1;
                continue;
            }
        };
        let mut j = i + 2;
        let mut expr = String::new();
        let mut quote: Option<u8> = None;
        while j < b.len() {
            let c = b[j];
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    expr.push(' ');
                }
                Some(_) if c == b'\\' => {
                    j += 1;
                }
                Some(_) => {}
                None if c == b'\'' || c == b'"' => {
                    quote = Some(c);
                    expr.push(' ');
                }
                None if b[j..].starts_with(close) => break,
                None => expr.push(c as char),
            }
            j += 1;
        }
        out.push(expr);
        i = j + 2;
    }
    out
}

/// `(name, previous two words, previous non-space char)` of every
/// identifier followed by `(` in `expr`, and every identifier.
fn identifiers(expr: &str) -> Vec<(String, bool, Vec<String>, Option<char>)> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let mut k = i;
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            let call = chars.get(k) == Some(&'(');
            let before: Vec<String> = words.iter().rev().take(2).cloned().collect();
            out.push((name.clone(), call, before, prev));
            words.push(name);
            prev = chars.get(i - 1).copied();
            continue;
        }
        if !c.is_whitespace() {
            prev = Some(c);
            if !c.is_ascii_digit() {
                words.clear();
            }
        }
        i += 1;
    }
    out
}

/// The first problem with the names `template` uses, if any.
pub(crate) fn check(template: &str, known_function: &dyn Fn(&str) -> bool) -> Option<String> {
    let exprs = expressions(template);
    let mut macros: Vec<String> = Vec::new();
    for e in &exprs {
        let ids = identifiers(e);
        for (i, (name, _, _, _)) in ids.iter().enumerate() {
            if name == "macro"
                && let Some((m, ..)) = ids.get(i + 1)
            {
                macros.push(m.clone());
            }
        }
    }
    for e in &exprs {
        for (name, call, before, prev) in identifiers(e) {
            let member = matches!(prev, Some('.') | Some('|'));
            if !member && let Some((_, why)) = UNSUPPORTED_VARIABLES.iter().find(|(n, _)| *n == name) {
                return Some(format!("variable '{name}' is not supported by Baton yet ({why})"));
            }
            if !call || member || KEYWORDS.contains(&name.as_str()) || before.iter().any(|w| w == "is") {
                continue;
            }
            if let Some((_, why)) = UNSUPPORTED_FUNCTIONS.iter().find(|(n, _)| *n == name) {
                return Some(format!("function '{name}()' is not supported by Baton yet: {why}"));
            }
            if !known_function(&name) && !macros.contains(&name) {
                return Some(format!("unknown function '{name}()'"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(n: &str) -> bool {
        ["now", "range", "render", "currentEachOutput"].contains(&n)
    }

    #[test]
    fn calls_are_checked_and_the_rest_is_not() {
        assert_eq!(check("{{ now() }} and nope() outside", &known), None);
        assert_eq!(check("{{ x | date('yyyy') }} {{ a.b('x') }} {{ 'nope()' }}", &known), None);
        assert_eq!(check("{% if not (a and b) %}{% endif %}{{ n is divisibleby(3) }}", &known), None);
        assert_eq!(check("{% macro m(x) %}{{ x }}{% endmacro %}{{ m(1) }}", &known), None);
        assert_eq!(check("{{ nope(1) }}", &known).as_deref(), Some("unknown function 'nope()'"));
        let m = check("{{ decrypt('x') }}", &known).unwrap();
        assert!(m.contains("'decrypt()' is not supported"), "{m}");
        assert_eq!(check("{{ currentEachOutput(outputs.a).b }}", &known), None);
    }
}

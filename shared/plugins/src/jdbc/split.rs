//! SQL text scanning shared by the JDBC engines: splitting a script into
//! statements on `;` outside quotes, dollar-quotes and comments, and
//! rewriting Kestra's named parameters (`:name`) into positional ones.
//! Two dialects: PostgreSQL's (the default: `E'…'` escapes, `$tag$`
//! quotes, nested block comments), also read for SQLite and DuckDB, and
//! MySQL's (backslash escapes in `'…'` and `"…"`, backtick identifiers,
//! `#` comments, `-- ` comments only with a space after them).

/// Whose quoting and comments the text follows.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Dialect {
    #[default]
    Postgres,
    MySql,
}

/// What the scanner is inside of.
#[derive(Clone, Copy, PartialEq)]
enum In {
    Code,
    /// `'…'`; `true` for `E'…'` (backslash escapes).
    Single(bool),
    /// `"…"`; `true` when a backslash escapes (MySQL).
    Double(bool),
    /// `` `…` `` (MySQL).
    Backtick,
    Line,
    /// `/* … */`, with the nesting depth.
    Block(u32),
}

/// What a character of SQL text is part of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Code,
    /// Inside a quoted literal, quoted identifier or dollar-quote (delimiters included).
    Literal,
    /// Inside a comment (delimiters included).
    Comment,
}

/// Calls `f(byte index, char, kind)` for each char of `sql`.
fn scan(sql: &str, dialect: Dialect, mut f: impl FnMut(usize, char, Kind)) {
    let my = dialect == Dialect::MySql;
    let b = sql.as_bytes();
    let mut state = In::Code;
    let mut dollar: Option<String> = None;
    let mut iter = sql.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if let Some(tag) = &dollar {
            f(i, c, Kind::Literal);
            if c == '$' && sql[i..].starts_with(tag.as_str()) {
                let end = i + tag.len();
                while let Some((j, cj)) = iter.next_if(|(j, _)| *j < end) {
                    f(j, cj, Kind::Literal);
                }
                dollar = None;
            }
            continue;
        }
        let next = b.get(i + 1).copied().unwrap_or(0);
        match state {
            In::Code => match c {
                '\'' => {
                    let escaped =
                        my || (i > 0 && matches!(b[i - 1], b'E' | b'e') && !(i > 1 && is_ident_byte(b[i - 2])));
                    state = In::Single(escaped);
                    f(i, c, Kind::Literal);
                }
                '"' => {
                    state = In::Double(my);
                    f(i, c, Kind::Literal);
                }
                '`' if my => {
                    state = In::Backtick;
                    f(i, c, Kind::Literal);
                }
                '#' if my => {
                    state = In::Line;
                    f(i, c, Kind::Comment);
                }
                '-' if next == b'-' && (!my || b.get(i + 2).is_none_or(u8::is_ascii_whitespace)) => {
                    state = In::Line;
                    f(i, c, Kind::Comment);
                }
                '/' if next == b'*' => {
                    if let Some((j, cj)) = iter.next() {
                        f(i, c, Kind::Comment);
                        f(j, cj, Kind::Comment);
                    }
                    state = In::Block(0);
                }
                '$' if !my && (i == 0 || !is_ident_byte(b[i - 1])) => match dollar_tag(&sql[i..]) {
                    Some(tag) => {
                        let end = i + tag.len();
                        f(i, c, Kind::Literal);
                        while let Some((j, cj)) = iter.next_if(|(j, _)| *j < end) {
                            f(j, cj, Kind::Literal);
                        }
                        dollar = Some(tag);
                    }
                    None => f(i, c, Kind::Code),
                },
                _ => f(i, c, Kind::Code),
            },
            In::Single(escaped) => {
                f(i, c, Kind::Literal);
                if escaped && c == '\\' {
                    if let Some((j, cj)) = iter.next() {
                        f(j, cj, Kind::Literal);
                    }
                } else if c == '\'' {
                    if next == b'\'' {
                        if let Some((j, cj)) = iter.next() {
                            f(j, cj, Kind::Literal);
                        }
                    } else {
                        state = In::Code;
                    }
                }
            }
            In::Double(escaped) => {
                f(i, c, Kind::Literal);
                if escaped && c == '\\' {
                    if let Some((j, cj)) = iter.next() {
                        f(j, cj, Kind::Literal);
                    }
                } else if c == '"' {
                    if next == b'"' {
                        if let Some((j, cj)) = iter.next() {
                            f(j, cj, Kind::Literal);
                        }
                    } else {
                        state = In::Code;
                    }
                }
            }
            In::Backtick => {
                f(i, c, Kind::Literal);
                if c == '`' {
                    if next == b'`' {
                        if let Some((j, cj)) = iter.next() {
                            f(j, cj, Kind::Literal);
                        }
                    } else {
                        state = In::Code;
                    }
                }
            }
            In::Line => {
                f(i, c, Kind::Comment);
                if c == '\n' {
                    state = In::Code;
                }
            }
            In::Block(depth) => {
                f(i, c, Kind::Comment);
                if c == '/' && next == b'*' && !my {
                    if let Some((j, cj)) = iter.next() {
                        f(j, cj, Kind::Comment);
                    }
                    state = In::Block(depth + 1);
                } else if c == '*' && next == b'/' {
                    if let Some((j, cj)) = iter.next() {
                        f(j, cj, Kind::Comment);
                    }
                    state = if depth == 0 { In::Code } else { In::Block(depth - 1) };
                }
            }
        }
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// `$tag$` or `$$` at the start of `s`.
fn dollar_tag(s: &str) -> Option<String> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let ok = tag.chars().enumerate().all(|(k, c)| c == '_' || c.is_alphabetic() || (k > 0 && c.is_ascii_digit()));
    ok.then(|| format!("${tag}$"))
}

/// Splits a script into statements on `;` outside quotes, dollar-quotes and
/// comments. Statements are trimmed; empty ones (and ones holding only
/// comments) are dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    split_statements_in(sql, Dialect::Postgres)
}

/// [`split_statements`] in `dialect`.
pub fn split_statements_in(sql: &str, dialect: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut has_content = false;
    let mut cuts = Vec::new();
    scan(sql, dialect, |i, c, kind| match kind {
        Kind::Code if c == ';' => {
            cuts.push((start, i, has_content));
            start = i + 1;
            has_content = false;
        }
        Kind::Code | Kind::Literal if !c.is_whitespace() => has_content = true,
        _ => {}
    });
    cuts.push((start, sql.len(), has_content));
    for (a, b, content) in cuts {
        if content {
            out.push(sql[a..b].trim().to_string());
        }
    }
    out
}

/// Rewrites `:name` placeholders whose name is in `known` into positional
/// ones produced by `placeholder(n)` (1-based, e.g. `$1`), outside quotes
/// and comments, leaving `::` casts and unknown names alone. Returns the
/// SQL and the parameter names in position order (a name used twice gets
/// one position per use, as Kestra binds them).
pub fn bind_named(sql: &str, known: &[&str], placeholder: impl Fn(usize) -> String) -> (String, Vec<String>) {
    bind_named_in(sql, Dialect::Postgres, known, placeholder)
}

/// [`bind_named`] in `dialect`.
pub fn bind_named_in(
    sql: &str,
    dialect: Dialect,
    known: &[&str],
    placeholder: impl Fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut code_at = vec![false; sql.len()];
    scan(sql, dialect, |i, _, kind| code_at[i] = kind == Kind::Code);
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut names = Vec::new();
    let mut i = 0;
    while i < sql.len() {
        let c = b[i];
        if c == b':' && code_at[i] && b.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_') {
            let prev_colon = i > 0 && b[i - 1] == b':';
            let mut j = i + 1;
            while j < sql.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let name = &sql[i + 1..j];
            if !prev_colon && known.contains(&name) {
                names.push(name.to_string());
                out.push_str(&placeholder(names.len()));
                i = j;
                continue;
            }
            out.push_str(&sql[i..j]);
            i = j;
            continue;
        }
        let ch_len = sql[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        out.push_str(&sql[i..i + ch_len]);
        i += ch_len;
    }
    (out, names)
}

/// Kestra's refusal of a `Query` whose `sql` holds more than one statement.
pub fn only_one(statements: &[String]) -> Result<(), crate::TaskError> {
    if statements.len() > 1 {
        return Err(crate::TaskError::property(
            "sql",
            "Query task support only a single SQL statement. Use the Queries task to run multiple statements.",
        ));
    }
    Ok(())
}

/// The statement on one line, shortened to `max` chars.
pub fn one_line(sql: &str, max: usize) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > max {
        let cut: String = one.chars().take(max).collect();
        format!("{cut}…")
    } else {
        one
    }
}

/// Kestra's `parameters`: a map (or a string holding a JSON map) of
/// `:name` → value; nothing when not set.
pub fn parameters(v: serde_json::Value) -> Result<serde_json::Map<String, serde_json::Value>, crate::TaskError> {
    use serde_json::{Map, Value};
    let bad = |m: String| crate::TaskError::property("parameters", m);
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m),
        Value::String(s) if s.trim().is_empty() => Ok(Map::new()),
        Value::String(s) => match serde_json::from_str(&s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(bad("expected a map of parameter name to value".into())),
        },
        other => Err(bad(format!("expected a map, found {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_comments_and_dollar_quotes() {
        let sql = "CREATE TABLE t (a text);\n\
                   INSERT INTO t VALUES ('x;y'), ('it''s; fine'), (E'back\\'slash;');\n\
                   -- a comment; with a semicolon\n\
                   /* block; /* nested; */ still; */\n\
                   SELECT \"we;ird\" FROM t;\n\
                   DO $body$ BEGIN PERFORM 1; END $body$;\n\
                   SELECT $$a;b$$;;\n  ";
        let st = split_statements(sql);
        assert_eq!(st.len(), 5, "{st:#?}");
        assert_eq!(st[0], "CREATE TABLE t (a text)");
        assert_eq!(st[1], "INSERT INTO t VALUES ('x;y'), ('it''s; fine'), (E'back\\'slash;')");
        assert!(st[2].ends_with("SELECT \"we;ird\" FROM t"), "{}", st[2]);
        assert_eq!(st[3], "DO $body$ BEGIN PERFORM 1; END $body$");
        assert_eq!(st[4], "SELECT $$a;b$$");
        assert_eq!(split_statements("SELECT 1"), vec!["SELECT 1"]);
        assert_eq!(split_statements("  ; -- only a comment\n"), Vec::<String>::new());
        assert_eq!(split_statements("SELECT 'a' -- c\n;"), vec!["SELECT 'a' -- c"]);
    }

    #[test]
    fn mysql_quotes_and_comments() {
        let sql = "INSERT INTO t VALUES ('it\\'s; ok', \"a\\\";b\");\n\
                   # a comment; here\n\
                   SELECT `we;ird` FROM t; SELECT 1--1;\n\
                   -- real comment;\n\
                   SELECT $x; SELECT 2";
        let st = split_statements_in(sql, Dialect::MySql);
        assert_eq!(st.len(), 5, "{st:#?}");
        assert_eq!(st[0], "INSERT INTO t VALUES ('it\\'s; ok', \"a\\\";b\")");
        assert!(st[1].ends_with("SELECT `we;ird` FROM t"), "{}", st[1]);
        assert_eq!(st[2], "SELECT 1--1");
        assert!(st[3].ends_with("SELECT $x"), "{}", st[3]);
        let (bound, names) = bind_named_in("SELECT :a, '\\':a', `:a` # :a\n", Dialect::MySql, &["a"], |_| "?".into());
        assert_eq!(bound, "SELECT ?, '\\':a', `:a` # :a\n");
        assert_eq!(names, vec!["a"]);
    }

    #[test]
    fn binds_known_names_only() {
        let (sql, names) =
            bind_named("SELECT :a, x::int, ':a', :b, :a -- :a\nWHERE y = :zz", &["a", "b"], |n| format!("${n}"));
        assert_eq!(sql, "SELECT $1, x::int, ':a', $2, $3 -- :a\nWHERE y = :zz");
        assert_eq!(names, vec!["a", "b", "a"]);
    }
}

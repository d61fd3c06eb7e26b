//! Which paths a `files` pattern of the namespace tasks selects, with the
//! semantics of Java's `PathMatcher` as Kestra's `PathMatcherPredicate`
//! builds it. Pure.
//!
//! A pattern starting with `glob:` or `regex:` is used as written. Any
//! other is a glob: against namespace files, one starting with a word
//! character (`[A-Za-z0-9_]`) gets `**/` in front (so `input.txt` is that
//! name in any folder), and is matched against the file's path with a
//! leading `/` (`/scripts/a.py`); against a working directory it is
//! anchored at the directory (`dbt/**` is the `dbt` folder there) and
//! matched against the file's absolute path.
//!
//! Globs as Java reads them: `*` any run of characters within one path
//! segment, `**` any run across segments (also inside a name: `**.sql`
//! is every `.sql` file), `?` one character but `/`, `[abc]`/`[a-z]`/
//! `[!abc]` one character of (or not of) a set, `{a,b}` one of the
//! alternatives, `\` escapes. The whole path must match.

use regex::Regex;

use crate::TaskError;

const GLOB: &str = "glob:";
const REGEX: &str = "regex:";

/// Compiled patterns: a path matches when any pattern does.
#[derive(Debug)]
pub struct PathMatcher {
    patterns: Vec<Regex>,
}

impl PathMatcher {
    /// Patterns for namespace files: test them with [`PathMatcher::matches_ns`].
    pub fn for_namespace(property: &str, patterns: &[String]) -> Result<PathMatcher, TaskError> {
        let compiled = patterns
            .iter()
            .map(|p| {
                let full = if has_syntax(p) {
                    p.clone()
                } else {
                    let starts_word = p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                    let p = if starts_word { format!("**/{p}") } else { p.clone() };
                    format!("{GLOB}{}", p.replace('\\', "/"))
                };
                compile(property, p, &full, "")
            })
            .collect::<Result<_, _>>()?;
        Ok(PathMatcher { patterns: compiled })
    }

    /// Patterns for the files of the directory `base` (an absolute path,
    /// no trailing `/`): test them with [`PathMatcher::matches`] on
    /// absolute paths.
    pub fn for_directory(property: &str, base: &str, patterns: &[String]) -> Result<PathMatcher, TaskError> {
        let compiled = patterns
            .iter()
            .map(|p| {
                if has_syntax(p) {
                    return compile(property, p, p, "");
                }
                let p = p.replace('\\', "/");
                let rel = if p.starts_with('/') { p } else { format!("/{p}") };
                compile(property, &rel, &format!("{GLOB}{rel}"), &regex::escape(base))
            })
            .collect::<Result<_, _>>()?;
        Ok(PathMatcher { patterns: compiled })
    }

    /// Whether the namespace file `path` (`a/b.sql`, with or without its
    /// leading `/`) is selected.
    pub fn matches_ns(&self, path: &str) -> bool {
        let p = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        self.matches(&p)
    }

    /// Whether `path`, as written, is selected.
    pub fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|r| r.is_match(path))
    }
}

fn has_syntax(p: &str) -> bool {
    p.starts_with(GLOB) || p.starts_with(REGEX)
}

/// `full` (`glob:…` or `regex:…`) as an anchored regex after the regex
/// text `prefix`; errors name the property and the pattern as written.
fn compile(property: &str, written: &str, full: &str, prefix: &str) -> Result<Regex, TaskError> {
    let bad = |why: String| TaskError::property(property, format!("invalid pattern '{written}': {why}"));
    let body = match full.strip_prefix(REGEX) {
        Some(re) => re.to_string(),
        None => glob_to_regex(full.strip_prefix(GLOB).unwrap_or(full)).map_err(bad)?,
    };
    Regex::new(&format!("^{prefix}(?:{body})$")).map_err(|e| bad(e.to_string()))
}

/// A Java glob as regex text.
pub fn glob_to_regex(glob: &str) -> Result<String, String> {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::new();
    let mut in_group = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&next) = chars.get(i) else { return Err("nothing to escape after '\\'".into()) };
                i += 1;
                out.push_str(&regex::escape(&next.to_string()));
            }
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                out.push_str(".*");
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '{' if in_group => return Err("groups '{…}' cannot be nested".into()),
            '{' => {
                in_group = true;
                out.push_str("(?:");
            }
            '}' if in_group => {
                in_group = false;
                out.push(')');
            }
            ',' if in_group => out.push('|'),
            '[' => i = bracket(&chars, i, &mut out)?,
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    if in_group {
        return Err("a group '{' is not closed".into());
    }
    Ok(out)
}

/// A `[…]` set starting after its `[` at `start`; returns where it ends.
fn bracket(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    // a set never matches the separator
    out.push_str(if negated { "[^/" } else { "[" });
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else { return Err("a set '[' is not closed".into()) };
        i += 1;
        match c {
            ']' if !first => break,
            '/' => return Err("a set '[…]' cannot hold '/'".into()),
            '-' if !first && chars.get(i) != Some(&']') => out.push('-'),
            '\\' | '[' | ']' | '&' | '~' | '^' | '-' => {
                out.push('\\');
                out.push(c);
            }
            other => out.push(other),
        }
        first = false;
    }
    if out.ends_with('[') {
        return Err("an empty set '[]'".into());
    }
    out.push(']');
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(patterns: &[&str]) -> PathMatcher {
        PathMatcher::for_namespace("files", &patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn namespace_patterns_as_kestra_reads_them() {
        let all = ns(&["**"]);
        assert!(all.matches_ns("a.txt") && all.matches_ns("deep/er/a.txt"));
        // a leading word character means "that name in any folder"
        let m = ns(&["input.txt"]);
        assert!(m.matches_ns("input.txt") && m.matches_ns("/dir/input.txt"));
        assert!(!m.matches_ns("dir/other.txt") && !m.matches_ns("xinput.txt"));
        // `**` inside a name crosses folders, `*` does not
        let m = ns(&["**.upl"]);
        assert!(m.matches_ns("a.upl") && m.matches_ns("x/y/b.upl") && !m.matches_ns("a.upl.bak"));
        let m = ns(&["/scripts/*.py"]);
        assert!(m.matches_ns("scripts/a.py") && !m.matches_ns("scripts/sub/a.py") && !m.matches_ns("a.py"));
        // a lone `*.sql` meets the leading `/` and selects nothing, as in Kestra
        assert!(!ns(&["*.sql"]).matches_ns("a.sql"));
        let m = ns(&["glob:/{a,b}/?.csv", "regex:.*/z[0-9]+\\.json"]);
        assert!(m.matches_ns("a/1.csv") && m.matches_ns("b/x.csv") && !m.matches_ns("c/1.csv"));
        assert!(m.matches_ns("q/z12.json") && !m.matches_ns("q/z.json"));
        let m = ns(&["/data/[!x]*.csv", "/lib/[a-c].py"]);
        assert!(m.matches_ns("data/a.csv") && !m.matches_ns("data/x.csv"));
        assert!(m.matches_ns("lib/b.py") && !m.matches_ns("lib/d.py"));
    }

    #[test]
    fn directory_patterns_are_anchored_at_the_directory() {
        let pats = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let m = PathMatcher::for_directory("files", "/tmp/w.d", &pats(&["dbt/**", "*.txt"])).unwrap();
        assert!(m.matches("/tmp/w.d/dbt/models/a.sql") && m.matches("/tmp/w.d/a.txt"));
        assert!(!m.matches("/tmp/w.d/sub/a.txt") && !m.matches("/tmp/wxd/a.txt"));
        let m = PathMatcher::for_directory("files", "/tmp/w", &pats(&["glob:**/dbt/**"])).unwrap();
        assert!(m.matches("/tmp/w/repo/dbt/x.sql") && !m.matches("/tmp/w/repo/x.sql"));
    }

    #[test]
    fn bad_patterns_name_the_property_and_the_pattern() {
        for bad in ["[abc", "{a,{b}}", "{a", "glob:x\\", "regex:(", "[a/b]"] {
            let e = PathMatcher::for_namespace("files", &[bad.to_string()]).unwrap_err().to_string();
            assert!(e.contains("'files'") && e.contains(bad), "{bad}: {e}");
        }
    }
}

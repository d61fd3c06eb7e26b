//! Plain-text tables for the command line: each column as wide as its
//! widest cell; on a terminal, the line fits its width (the widest
//! shrinkable column is cut with `…`). Redirected output is never cut.

/// The terminal's width when stdout is one (`COLUMNS` first, as shells set it).
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()) {
        return Some(c);
    }
    console::Term::stdout().size_checked().map(|(_, w)| usize::from(w))
}

/// The table as lines: `headers`, then `rows`; column `shrink` may be cut
/// so that a line is at most `width` characters.
pub fn render(headers: &[&str], rows: &[Vec<String>], shrink: usize, width: Option<usize>) -> Vec<String> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    if let Some(max) = width {
        let total: usize = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        if total > max && shrink < widths.len() {
            let over = total - max;
            widths[shrink] = widths[shrink].saturating_sub(over).max(headers[shrink].chars().count().max(8));
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, (c, w)) in cells.into_iter().zip(&widths).enumerate() {
            let text = cut(c, *w);
            if i == last {
                out.push_str(&text);
            } else {
                out.push_str(&format!("{text:<w$}  ", w = *w));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out
}

/// `s` in at most `w` characters, `…` ending a cut one.
fn cut(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_content_and_the_terminal() {
        let rows = vec![vec!["a".to_string(), "company.team.flow_with_a_long_name".to_string(), "SUCCESS".into()]];
        let lines = render(&["ID", "FLOW", "STATE"], &rows, 1, None);
        assert!(lines[0].starts_with("ID  FLOW "), "{lines:?}");
        assert_eq!(lines[0].find("STATE"), lines[1].find("SUCCESS"), "{lines:?}");
        assert_eq!(lines[1], "a   company.team.flow_with_a_long_name  SUCCESS");
        let lines = render(&["ID", "FLOW", "STATE"], &rows, 1, Some(30));
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert!(lines[1].contains('…'), "{lines:?}");
    }
}

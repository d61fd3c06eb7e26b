//! PostgreSQL failures written for humans: which server could not be
//! reached and why (the OS error), an authentication failure said as such,
//! and SQL errors with the server's message, its detail/hint/context
//! (`COPY t, line 5, column x: "abc"`), the line and column of the
//! position with a caret, and the statement.

use std::error::Error as _;

use tokio_postgres::error::{DbError, ErrorPosition, SqlState};

use super::url::Target;
use crate::jdbc::split::one_line;

/// Why connecting failed.
pub fn connect_error(t: &Target, e: &tokio_postgres::Error) -> String {
    let at = t.url.hosts_display();
    let user = t.user.as_deref().unwrap_or("(none)");
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            return format!("authentication failed for user '{user}' on PostgreSQL at {at}: {}", db.message());
        }
        return format!(
            "cannot connect to PostgreSQL at {at} as '{user}': {} (SQLSTATE {})",
            db.message(),
            code.code()
        );
    }
    let text = e.to_string();
    if text.contains("password missing") {
        return format!(
            "PostgreSQL at {at} asks for a password for user '{user}' and none was given \
             (set `password`, e.g. in pluginDefaults)"
        );
    }
    let cause = e.source().map(|s| s.to_string()).unwrap_or(text);
    let db = t.url.database.as_deref().unwrap_or("(default)");
    format!("cannot connect to PostgreSQL at {at} (database '{db}', user '{user}'): {cause}")
}

/// The `line` (1-based) and `column` (1-based, in chars) of the 1-based
/// char `position` in `text`, with that line's text.
fn locate(text: &str, position: usize) -> Option<(usize, usize, &str)> {
    let mut line_no = 1;
    let mut line_start = 0;
    let mut col = 1;
    for (n, (i, c)) in text.char_indices().enumerate() {
        if n + 1 == position {
            let end = text[line_start..].find('\n').map(|e| line_start + e).unwrap_or(text.len());
            return Some((line_no, col, &text[line_start..end]));
        }
        if c == '\n' {
            line_no += 1;
            line_start = i + 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    None
}

/// The statement on one line, shortened to about 300 chars (for errors).
pub fn short_statement(sql: &str) -> String {
    one_line(sql, 300)
}

fn db_error_text(db: &DbError, statement: Option<&str>) -> String {
    let mut s = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
    if let Some(d) = db.detail() {
        s.push_str(&format!("\n  detail: {d}"));
    }
    if let Some(h) = db.hint() {
        s.push_str(&format!("\n  hint: {h}"));
    }
    if let Some(w) = db.where_() {
        s.push_str(&format!("\n  where: {w}"));
    }
    let located = match db.position() {
        Some(ErrorPosition::Original(p)) => statement.map(|q| (q, *p as usize, "statement")),
        Some(ErrorPosition::Internal { position, query }) => {
            Some((query.as_str(), *position as usize, "internal query"))
        }
        None => None,
    };
    if let Some((text, pos, what)) = located
        && let Some((line, col, src)) = locate(text, pos)
    {
        let gutter = line.to_string();
        let pad = " ".repeat(gutter.len());
        let caret = " ".repeat(src.chars().take(col - 1).map(|c| if c == '\t' { 4 } else { 1 }).sum());
        let src = src.replace('\t', "    ");
        s.push_str(&format!("\n  at line {line}, column {col} of the {what} (position {pos}):"));
        s.push_str(&format!("\n  {gutter} | {src}\n  {pad} | {caret}^"));
    }
    if let Some(q) = statement {
        s.push_str(&format!("\n  statement: {}", short_statement(q)));
    }
    s
}

/// A failure while running `statement`.
pub fn sql_error(e: &tokio_postgres::Error, statement: Option<&str>) -> String {
    if let Some(db) = e.as_db_error() {
        return db_error_text(db, statement);
    }
    let cause = match e.source() {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    };
    match statement {
        Some(q) => format!("PostgreSQL error: {cause}\n  statement: {}", short_statement(q)),
        None => format!("PostgreSQL error: {cause}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_positions() {
        let sql = "SELECT 1;\nSELEC x\nFROM t";
        assert_eq!(locate(sql, 11), Some((2, 1, "SELEC x")));
        assert_eq!(locate(sql, 17), Some((2, 7, "SELEC x")));
        assert_eq!(locate("é x", 3), Some((1, 3, "é x")));
        assert_eq!(locate("abc", 9), None);
        assert_eq!(short_statement("UPDATE  t\n   SET a = 1"), "UPDATE t SET a = 1");
    }
}

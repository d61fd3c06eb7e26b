//! MySQL JDBC URLs (`jdbc:mysql://host:3306/db?user=…`, and MariaDB's
//! `jdbc:mariadb://…`) read as Connector/J reads the parts Baton honours:
//! one host (IPv6 in brackets), the default port 3306, an optional
//! database, percent-encoded parameters. A parameter is either honoured,
//! harmless here (its effect is what Baton does anyway), or refused by
//! name — never read and ignored.

use std::time::Duration;

/// A parsed JDBC URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MysqlUrl {
    pub host: String,
    pub port: u16,
    /// The default database (`USE`), if the URL names one.
    pub database: Option<String>,
    /// `user`/`password` parameters (they win over the properties, as in
    /// Connector/J).
    pub user: Option<String>,
    pub password: Option<String>,
    /// `connectTimeout` (milliseconds in the URL; 0 = none).
    pub connect_timeout: Option<Duration>,
    /// `zeroDateTimeBehavior`: what a `0000-00-00` date becomes.
    pub zero_dates: ZeroDates,
}

/// Connector/J's `zeroDateTimeBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroDates {
    /// The task fails naming the column (Connector/J's default).
    #[default]
    Exception,
    /// `null`.
    ConvertToNull,
    /// `0001-01-01`.
    Round,
}

/// Parameters whose effect is what Baton does anyway: statements are split
/// on the client (`allowMultiQueries`), rows are streamed (`useCursorFetch`,
/// `defaultFetchSize`), text is UTF-8 (`useUnicode`), LOCAL INFILE reads
/// only the task's working directory (`allowLoadLocalInfile`, which
/// Kestra turns off in favour of the working directory too), the RSA key
/// exchange is done when the server asks (`allowPublicKeyRetrieval`), and
/// batched statements are sent as written (`rewriteBatchedStatements`),
/// and `TIMESTAMP` values are read as instants whatever the zones
/// (`serverTimezone`, `connectionTimeZone`: the session runs in UTC).
const HARMLESS: &[&str] = &[
    "allowMultiQueries",
    "useCursorFetch",
    "defaultFetchSize",
    "useUnicode",
    "allowLoadLocalInfile",
    "allowPublicKeyRetrieval",
    "rewriteBatchedStatements",
    "serverTimezone",
    "connectionTimeZone",
];

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| format!("bad percent-encoding in '{s}'"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad percent-encoding '%{hex}' in '{s}'"))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{s}' does not decode to UTF-8"))
}

fn host_port(spec: &str) -> Result<(String, u16), String> {
    let (host, port) = match spec.strip_prefix('[') {
        Some(rest) => {
            let end = rest.find(']').ok_or_else(|| format!("unclosed '[' in host '{spec}'"))?;
            (rest[..end].to_string(), rest[end + 1..].strip_prefix(':'))
        }
        None => match spec.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (spec.to_string(), None),
        },
    };
    let port = match port {
        None | Some("") => 3306,
        Some(p) => p.parse::<u16>().map_err(|_| format!("'{p}' is not a valid port"))?,
    };
    Ok((if host.is_empty() { "localhost".into() } else { host }, port))
}

fn is_true(v: &str) -> bool {
    v.is_empty() || v.eq_ignore_ascii_case("true") || v == "1" || v.eq_ignore_ascii_case("yes")
}

/// Checks one parameter, storing what Baton honours in `out`.
fn parameter(out: &mut MysqlUrl, key: &str, value: &str) -> Result<(), String> {
    let tls = || {
        format!(
            "{key}={value} asks for an encrypted connection, which Baton's MySQL tasks do not support yet; \
             use sslMode=DISABLED or PREFERRED (unencrypted) or reach the server through a local tunnel"
        )
    };
    match key {
        "user" => out.user = Some(value.to_string()),
        "password" => out.password = Some(value.to_string()),
        "connectTimeout" => {
            let ms: u64 = value.parse().map_err(|_| format!("connectTimeout '{value}' is not milliseconds"))?;
            out.connect_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        "sslMode" | "sslmode" => {
            if !matches!(value.to_ascii_uppercase().as_str(), "DISABLED" | "PREFERRED") {
                return Err(tls());
            }
        }
        "useSSL" | "requireSSL" | "verifyServerCertificate" => {
            if is_true(value) {
                return Err(tls());
            }
        }
        "zeroDateTimeBehavior" => {
            out.zero_dates = match value.to_ascii_uppercase().replace('_', "").as_str() {
                "EXCEPTION" => ZeroDates::Exception,
                "CONVERTTONULL" => ZeroDates::ConvertToNull,
                "ROUND" => ZeroDates::Round,
                _ => return Err(format!("zeroDateTimeBehavior={value}: expected EXCEPTION, CONVERT_TO_NULL or ROUND")),
            };
        }
        "characterEncoding" => {
            if !matches!(value.to_ascii_lowercase().replace('-', "").as_str(), "utf8" | "utf8mb4") {
                return Err(format!("characterEncoding={value}: Baton's MySQL tasks speak UTF-8 (utf8mb4) only"));
            }
        }
        k if HARMLESS.contains(&k) => {}
        k => {
            return Err(format!(
                "the URL parameter '{k}' is not one Baton's MySQL tasks read (they read user, password, \
                 connectTimeout, sslMode, useSSL, characterEncoding, zeroDateTimeBehavior and {})",
                HARMLESS.join(", ")
            ));
        }
    }
    Ok(())
}

/// Parses `jdbc:mysql://host[:port][/database][?params]` (`jdbc:mariadb:`
/// too).
pub fn parse(url: &str) -> Result<MysqlUrl, String> {
    let url = url.trim();
    let rest = ["jdbc:mysql://", "jdbc:mariadb://", "mysql://", "mariadb://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .ok_or_else(|| format!("'{url}' is not a MySQL JDBC URL (expected jdbc:mysql://host:3306/database)"))?;
    let (main, query) = rest.split_once('?').map_or((rest, None), |(m, q)| (m, Some(q)));
    let (authority, path) = main.split_once('/').unwrap_or((main, ""));
    if authority.contains(',') {
        return Err(format!("'{url}' names several hosts; Baton's MySQL tasks connect to one"));
    }
    let authority = match authority.rsplit_once('@') {
        Some(_) => {
            return Err(format!("'{url}': put the user in the username property or ?user=, not before the host"));
        }
        None => authority,
    };
    let (host, port) = host_port(authority)?;
    let db = percent_decode(path.trim_end_matches('/'))?;
    let mut out = MysqlUrl { host, port, database: (!db.is_empty()).then_some(db), ..MysqlUrl::default() };
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        parameter(&mut out, &percent_decode(k)?, &percent_decode(v)?)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_as_connector_j_reads_them() {
        let u = parse("jdbc:mysql://db.example:3307/stage?user=root&password=p%40ss&allowMultiQueries=true").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.database.as_deref()), ("db.example", 3307, Some("stage")));
        assert_eq!((u.user.as_deref(), u.password.as_deref()), (Some("root"), Some("p@ss")));
        let u = parse("jdbc:mysql://127.0.0.1/").unwrap();
        assert_eq!((u.port, u.database), (3306, None));
        let u = parse("jdbc:mariadb://[::1]:3310/x?connectTimeout=2500").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.connect_timeout), ("::1", 3310, Some(Duration::from_millis(2500))));
        assert!(parse("jdbc:mysql://h/db?sslMode=PREFERRED&useSSL=false&characterEncoding=UTF-8").is_ok());
        let u = parse("jdbc:mysql://h/db?serverTimezone=UTC&zeroDateTimeBehavior=CONVERT_TO_NULL").unwrap();
        assert_eq!(u.zero_dates, ZeroDates::ConvertToNull);
    }

    #[test]
    fn what_baton_cannot_do_is_refused_by_name() {
        assert!(parse("jdbc:postgresql://h/db").unwrap_err().contains("not a MySQL JDBC URL"));
        assert!(parse("jdbc:mysql://h/db?sslMode=REQUIRED").unwrap_err().contains("encrypted"));
        assert!(parse("jdbc:mysql://h/db?useSSL=true").unwrap_err().contains("useSSL"));
        assert!(parse("jdbc:mysql://h/db?characterEncoding=latin1").unwrap_err().contains("UTF-8"));
        assert!(parse("jdbc:mysql://h/db?cachePrepStmts=true").unwrap_err().contains("'cachePrepStmts'"));
        assert!(parse("jdbc:mysql://h/db?zeroDateTimeBehavior=maybe").unwrap_err().contains("CONVERT_TO_NULL"));
        assert!(parse("jdbc:mysql://a,b/db").unwrap_err().contains("several hosts"));
        assert!(parse("jdbc:mysql://h:port/db").unwrap_err().contains("port"));
    }
}

//! PostgreSQL JDBC URLs (`jdbc:postgresql://host:port/db?user=…&password=…`)
//! parsed the way pgjdbc reads them: several hosts, IPv6 in brackets, the
//! default port 5432, percent-encoded query parameters (which win over the
//! `username`/`password` properties, as in pgjdbc).

use std::time::Duration;

/// A parsed JDBC URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JdbcUrl {
    /// `(host, port)` pairs; `localhost:5432` when the URL names none.
    pub hosts: Vec<(String, u16)>,
    /// The database; `None` lets the server default to the user name.
    pub database: Option<String>,
    /// Query parameters, decoded, in order.
    pub params: Vec<(String, String)>,
}

impl JdbcUrl {
    /// A query parameter by name (case-insensitive, as pgjdbc's are not,
    /// but users write `sslMode` and `sslmode` alike).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `host:port[,host:port…]` for messages.
    pub fn hosts_display(&self) -> String {
        self.hosts
            .iter()
            .map(|(h, p)| if h.contains(':') { format!("[{h}]:{p}") } else { format!("{h}:{p}") })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Percent-decodes `s` (`+` stays `+`, as in pgjdbc).
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| format!("bad percent-encoding in '{s}'"))?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| format!("bad percent-encoding '%{hex}' in '{s}'"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{s}' does not decode to UTF-8"))
}

fn parse_host(spec: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = spec.strip_prefix('[') {
        let end = rest.find(']').ok_or_else(|| format!("unclosed '[' in host '{spec}'"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected '{after}' after host '[{host}]'")),
        };
        (host.to_string(), port)
    } else {
        match spec.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (spec.to_string(), None),
        }
    };
    let port = match port {
        None | Some("") => 5432,
        Some(p) => p.parse::<u16>().map_err(|_| format!("'{p}' is not a valid port"))?,
    };
    let host = if host.is_empty() { "localhost".to_string() } else { host };
    Ok((host, port))
}

/// Parses `jdbc:postgresql:[//hosts/]database[?params]`.
pub fn parse(url: &str) -> Result<JdbcUrl, String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("jdbc:postgresql:")
        .or_else(|| url.strip_prefix("postgresql:").filter(|r| r.starts_with("//")))
        .or_else(|| url.strip_prefix("postgres:").filter(|r| r.starts_with("//")))
        .ok_or_else(|| {
            format!("'{url}' is not a PostgreSQL JDBC URL (expected jdbc:postgresql://host:port/database)")
        })?;
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let mut out = JdbcUrl::default();
    let db = if let Some(authority_path) = main.strip_prefix("//") {
        let (authority, path) = match authority_path.find('/') {
            Some(i) => (&authority_path[..i], &authority_path[i + 1..]),
            None => (authority_path, ""),
        };
        for spec in authority.split(',') {
            out.hosts.push(parse_host(spec)?);
        }
        path
    } else {
        main.strip_prefix('/').unwrap_or(main)
    };
    if out.hosts.is_empty() {
        out.hosts.push(("localhost".to_string(), 5432));
    }
    let db = percent_decode(db)?;
    out.database = (!db.is_empty()).then_some(db);
    if let Some(q) = query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.params.push((percent_decode(k)?, percent_decode(v)?));
        }
    }
    Ok(out)
}

/// How to reach and log into the server, from the URL and the task's
/// `username`/`password` properties.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: JdbcUrl,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Target {
    pub fn new(url: JdbcUrl, username: Option<String>, password: Option<String>) -> Target {
        let user = url.param("user").map(str::to_string).or(username).filter(|u| !u.is_empty());
        let password = url.param("password").map(str::to_string).or(password);
        Target { url, user, password }
    }

    /// The tokio-postgres configuration (plain TCP; TLS is refused earlier).
    pub fn config(&self) -> Result<tokio_postgres::Config, String> {
        let mut c = tokio_postgres::Config::new();
        for (h, p) in &self.url.hosts {
            c.host(h);
            c.port(*p);
        }
        if let Some(db) = &self.url.database {
            c.dbname(db);
        }
        if let Some(u) = &self.user {
            c.user(u);
        }
        if let Some(p) = &self.password {
            c.password(p);
        }
        c.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let secs = match self.url.param("connectTimeout").or_else(|| self.url.param("loginTimeout")) {
            Some(s) => {
                s.trim().parse::<u64>().map_err(|_| format!("connectTimeout '{s}' is not a number of seconds"))?
            }
            None => 10,
        };
        if secs > 0 {
            c.connect_timeout(Duration::from_secs(secs));
        }
        c.application_name(self.url.param("ApplicationName").unwrap_or("baton"));
        let mut options = self.url.param("options").map(str::to_string).unwrap_or_default();
        if let Some(schema) = self.url.param("currentSchema") {
            if !options.is_empty() {
                options.push(' ');
            }
            options.push_str(&format!("-c search_path={}", schema.replace(' ', "\\ ")));
        }
        if !options.is_empty() {
            c.options(&options);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jdbc_forms() {
        let u = parse("jdbc:postgresql://pgdatabase:5433/ny_taxi?user=root&password=r%40ot&sslmode=disable").unwrap();
        assert_eq!(u.hosts, vec![("pgdatabase".to_string(), 5433)]);
        assert_eq!(u.database.as_deref(), Some("ny_taxi"));
        assert_eq!(u.param("password"), Some("r@ot"));
        assert_eq!(u.param("sslMode"), Some("disable"));

        let u = parse("jdbc:postgresql://host.docker.internal/postgres-zoomcamp").unwrap();
        assert_eq!(u.hosts, vec![("host.docker.internal".to_string(), 5432)]);
        assert_eq!(u.database.as_deref(), Some("postgres-zoomcamp"));

        let u = parse("jdbc:postgresql://127.0.0.1:5432/").unwrap();
        assert_eq!(u.database, None);
        let u = parse("jdbc:postgresql:mydb").unwrap();
        assert_eq!((u.hosts[0].0.as_str(), u.hosts[0].1, u.database.as_deref()), ("localhost", 5432, Some("mydb")));
        let u = parse("jdbc:postgresql://[::1]:6000,h2/db").unwrap();
        assert_eq!(u.hosts, vec![("::1".to_string(), 6000), ("h2".to_string(), 5432)]);
        assert_eq!(u.hosts_display(), "[::1]:6000,h2:5432");

        assert!(parse("jdbc:mysql://h/db").unwrap_err().contains("not a PostgreSQL JDBC URL"));
        assert!(parse("jdbc:postgresql://h:abc/db").unwrap_err().contains("'abc' is not a valid port"));
    }

    #[test]
    fn url_credentials_win_over_properties() {
        let t = Target::new(parse("jdbc:postgresql://h/db?user=a").unwrap(), Some("b".into()), Some("pw".into()));
        assert_eq!(t.user.as_deref(), Some("a"));
        assert_eq!(t.password.as_deref(), Some("pw"));
        let t = Target::new(parse("jdbc:postgresql://h/db?currentSchema=s1").unwrap(), Some("b".into()), None);
        assert_eq!(t.user.as_deref(), Some("b"));
        let c = t.config().unwrap();
        assert_eq!(c.get_options(), Some("-c search_path=s1"));
    }
}

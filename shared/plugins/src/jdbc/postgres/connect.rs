//! The connection properties every PostgreSQL task shares (`url`,
//! `username`, `password`, `ssl*`, `timeZoneId`) and opening a connection:
//! plain TCP (TLS modes that require encryption are refused with a clear
//! message), the password masked in logs, server notices (`RAISE NOTICE`,
//! "relation already exists, skipping") forwarded to the task's logs.

use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use futures::StreamExt;
use serde::Deserialize;
use tokio_postgres::{AsyncMessage, CancelToken, Client, NoTls};

use super::errors::connect_error;
use super::url::{self, Target};
use crate::context::LogSink;
use crate::{Declare, RunContext, TaskError, de};
use baton_backend::LogEntry;

/// The connection properties, as rendered.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ConnProps {
    /// The JDBC URL (jdbc:postgresql://host:5432/db, jdbc:duckdb:…).
    #[serde(deserialize_with = "de::string_lenient")]
    pub url: String,
    /// The database user.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub username: Option<String>,
    /// The user's password (use a secret).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub password: Option<String>,
    /// Connect over TLS.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    pub ssl: Option<bool>,
    /// PostgreSQL's sslmode: DISABLE, ALLOW, PREFER, REQUIRE, VERIFY_CA or VERIFY_FULL.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub ssl_mode: Option<String>,
    /// The CA certificate (PEM).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub ssl_root_cert: Option<String>,
    /// The client certificate (PEM).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub ssl_cert: Option<String>,
    /// The client key (PEM).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub ssl_key: Option<String>,
    /// The client key's password.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub ssl_key_password: Option<String>,
    /// The time zone dates are read in.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub time_zone_id: Option<String>,
}

/// A checked connection target.
#[derive(Debug, Clone)]
pub struct Conn {
    pub target: Target,
    /// The zone `timestamptz` values are shown in (default UTC).
    pub tz: Tz,
}

/// SSL modes that need encryption, which this build cannot provide.
fn requires_tls(mode: &str) -> bool {
    matches!(mode.trim().to_ascii_lowercase().replace('_', "-").as_str(), "require" | "verify-ca" | "verify-full")
}

impl ConnProps {
    /// Parses the URL and checks the TLS and time-zone settings.
    pub fn resolve(&self) -> Result<Conn, TaskError> {
        let parsed = url::parse(&self.url).map_err(|m| TaskError::property("url", m))?;
        let url_ssl = parsed.param("ssl").is_some_and(|v| v.is_empty() || v.eq_ignore_ascii_case("true"));
        let mode = self.ssl_mode.clone().or_else(|| parsed.param("sslmode").map(str::to_string));
        let tls_needed = mode.as_deref().map(requires_tls).unwrap_or(self.ssl == Some(true) || url_ssl);
        if tls_needed {
            let what =
                mode.map(|m| format!("sslMode {}", m.to_ascii_uppercase())).unwrap_or_else(|| "ssl: true".into());
            return Err(TaskError::property(
                "sslMode",
                format!(
                    "{what} asks for an encrypted connection, which Baton's PostgreSQL tasks do not support yet; \
                     use sslMode DISABLE or PREFER (unencrypted) or reach the server through a local tunnel"
                ),
            ));
        }
        let tz = match self.time_zone_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Tz::UTC,
            Some(z) => z.parse::<Tz>().map_err(|_| {
                TaskError::property("timeZoneId", format!("'{z}' is not a time zone (e.g. UTC, Europe/Paris)"))
            })?,
        };
        Ok(Conn { target: Target::new(parsed, self.username.clone(), self.password.clone()), tz })
    }
}

impl Conn {
    /// Opens a connection; its background task ends with the client.
    pub async fn connect(&self, cx: &RunContext) -> Result<Session, TaskError> {
        let config = self.target.config().map_err(|m| TaskError::property("url", m))?;
        let span = baton_backend::io_span!(
            "postgresql.connect",
            otel.kind = "client",
            db.system = "postgresql",
            server.address = %self.display(),
        );
        let (client, mut connection) = tracing::Instrument::instrument(config.connect(NoTls), span)
            .await
            .map_err(|e| TaskError::failed(connect_error(&self.target, &e)))?;
        let notices = NoticeLog::new(cx);
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |c| connection.poll_message(c));
            while let Some(m) = messages.next().await {
                match m {
                    Ok(AsyncMessage::Notice(n)) => notices.emit(&format!("{}: {}", n.severity(), n.message())),
                    Ok(_) => {}
                    Err(e) => {
                        notices.emit(&format!("PostgreSQL connection closed: {e}"));
                        break;
                    }
                }
            }
        });
        let cancel = Some(client.cancel_token());
        Ok(Session { client, cancel })
    }

    /// `host:port/database` for logs.
    pub fn display(&self) -> String {
        format!("{}/{}", self.target.url.hosts_display(), self.target.url.database.as_deref().unwrap_or(""))
    }
}

/// An open connection. If the task is dropped while a statement runs
/// (timeout, kill), the server is asked to cancel it, as Kestra's `kill()`
/// does; call [`Session::close`] once the work is over.
pub struct Session {
    client: Client,
    cancel: Option<CancelToken>,
}

impl std::ops::Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Session {
    /// Ends the session normally (nothing to cancel).
    pub fn close(mut self) {
        self.cancel = None;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(token) = self.cancel.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = token.cancel_query(NoTls).await;
            });
        }
    }
}

/// Writes server notices to the task's log from the connection task.
struct NoticeLog {
    sink: Arc<dyn LogSink>,
    template: LogEntry,
}

impl NoticeLog {
    fn new(cx: &RunContext) -> NoticeLog {
        NoticeLog {
            sink: cx.services.logs.clone(),
            template: LogEntry {
                namespace: cx.namespace.clone(),
                flow_id: cx.flow_id.clone(),
                execution_id: cx.execution_id.clone(),
                task_id: Some(cx.task_id.clone()),
                task_run_id: Some(cx.task_run_id.clone()),
                attempt_number: Some(cx.attempt),
                timestamp: Utc::now(),
                level: "INFO".into(),
                message: String::new(),
            },
        }
    }

    fn emit(&self, message: &str) {
        let mut e = self.template.clone();
        e.timestamp = Utc::now();
        e.message = message.to_string();
        self.sink.emit(e);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: serde_json::Value) -> ConnProps {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn refuses_tls_and_bad_zones() {
        let e = props(json!({"url": "jdbc:postgresql://h/db", "sslMode": "REQUIRE"})).resolve().unwrap_err();
        assert!(e.to_string().contains("sslMode REQUIRE asks for an encrypted connection"), "{e}");
        let e = props(json!({"url": "jdbc:postgresql://h/db?sslmode=verify-full"})).resolve().unwrap_err();
        assert!(e.to_string().contains("VERIFY-FULL"), "{e}");
        assert!(props(json!({"url": "jdbc:postgresql://h/db", "sslMode": "PREFER", "ssl": true})).resolve().is_ok());
        let e = props(json!({"url": "jdbc:postgresql://h/db", "timeZoneId": "Mars/Base"})).resolve().unwrap_err();
        assert!(e.to_string().contains("timeZoneId"), "{e}");
        let c = props(json!({"url": "jdbc:postgresql://h/db", "timeZoneId": "Europe/Paris"})).resolve().unwrap();
        assert_eq!(c.tz, Tz::Europe__Paris);
    }
}

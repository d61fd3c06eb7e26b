//! The connection properties of the MySQL tasks (`url`, `username`,
//! `password`) and opening a session: plain TCP (a URL that asks for TLS
//! is refused by `url`), the session in UTC, `LOAD DATA LOCAL INFILE`
//! allowed for files inside the task's working directory only (as Kestra's
//! `allowLoadLocalInfileInPath`), and a statement still running when the
//! task is dropped (killed, timed out) stopped with `KILL QUERY` from a
//! second connection, as Kestra's `kill()` cancels it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use mysql_async::prelude::Queryable as _;
use mysql_async::{InfileData, LocalInfileError, Opts, OptsBuilder};
use serde::Deserialize;

use super::url::{self, MysqlUrl};
use crate::{Declare, TaskError, de};

/// How long opening a connection may take when the URL sets no
/// `connectTimeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection properties, as rendered.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ConnProps {
    /// The JDBC URL (jdbc:mysql://host:3306/database; jdbc:mariadb:// too).
    #[serde(deserialize_with = "de::string_lenient")]
    pub url: String,
    /// The database user (a `user` URL parameter wins, as in Connector/J).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub username: Option<String>,
    /// The user's password (use a secret).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub password: Option<String>,
    /// A time zone (checked). As with Kestra's MySQL tasks it changes no value: TIMESTAMP is read as an instant (…Z), DATETIME as written.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub time_zone_id: Option<String>,
}

/// A checked connection target.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: MysqlUrl,
    user: Option<String>,
    password: Option<String>,
}

impl ConnProps {
    /// Parses and checks the URL.
    pub fn resolve(&self) -> Result<Target, TaskError> {
        let url = url::parse(&self.url).map_err(|m| TaskError::property("url", m))?;
        if let Some(z) = self.time_zone_id.as_deref().map(str::trim).filter(|z| !z.is_empty()) {
            z.parse::<chrono_tz::Tz>().map_err(|_| {
                TaskError::property("timeZoneId", format!("'{z}' is not a time zone (e.g. UTC, Europe/Paris)"))
            })?;
        }
        let user = url.user.clone().or_else(|| self.username.clone());
        let password = url.password.clone().or_else(|| self.password.clone());
        Ok(Target { url, user, password })
    }
}

/// Reads a `LOAD DATA LOCAL INFILE` file if it lies inside `root` (a
/// relative name is read from `root`).
fn infile(root: PathBuf, name: &[u8]) -> BoxFuture<'static, Result<InfileData, LocalInfileError>> {
    let asked = PathBuf::from(String::from_utf8_lossy(name).into_owned());
    async move {
        let full = if asked.is_absolute() { asked.clone() } else { root.join(&asked) };
        let real = tokio::fs::canonicalize(&full).await?;
        if !real.starts_with(&root) {
            return Err(LocalInfileError::PathIsNotInTheWhiteList(format!(
                "{} (LOCAL INFILE reads only files of the task's working directory, such as {{{{ inputFile }}}})",
                asked.display()
            )));
        }
        let file = tokio::fs::File::open(real).await?;
        Ok(Box::pin(tokio_util::io::ReaderStream::new(file)) as InfileData)
    }
    .boxed()
}

impl Target {
    /// `host:port/database` for messages.
    pub fn display(&self) -> String {
        let host = &self.url.host;
        let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
        format!("{host}:{}/{}", self.url.port, self.url.database.as_deref().unwrap_or(""))
    }

    fn opts(&self, working_dir: Option<&Path>) -> Result<Opts, TaskError> {
        let mut b = OptsBuilder::default()
            .ip_or_hostname(self.url.host.clone())
            .tcp_port(self.url.port)
            .user(self.user.clone())
            .pass(self.password.clone())
            .db_name(self.url.database.clone())
            .prefer_socket(false)
            .init(vec!["SET time_zone = '+00:00'"]);
        if let Some(dir) = working_dir {
            let root = std::fs::canonicalize(dir)
                .map_err(|e| TaskError::failed(format!("cannot read the working directory {}: {e}", dir.display())))?;
            b = b.local_infile_handler(Some(move |name: &[u8]| infile(root.clone(), name)));
        }
        Ok(b.into())
    }

    /// Opens a session; `working_dir` is where LOCAL INFILE may read.
    pub async fn connect(&self, working_dir: &Path) -> Result<Session, TaskError> {
        let opts = self.opts(Some(working_dir))?;
        let wait = self.url.connect_timeout.unwrap_or(CONNECT_TIMEOUT);
        let span = baton_backend::io_span!(
            "mysql.connect",
            otel.kind = "client",
            db.system = "mysql",
            server.address = %self.display(),
        );
        let connecting = tracing::Instrument::instrument(mysql_async::Conn::new(opts), span);
        let conn = match tokio::time::timeout(wait, connecting).await {
            Err(_) => {
                return Err(TaskError::failed(format!(
                    "cannot connect to MySQL at {}: no answer within {} ms (connectTimeout)",
                    self.display(),
                    wait.as_millis()
                )));
            }
            Ok(Err(e)) => return Err(TaskError::failed(format!("cannot connect to MySQL at {}: {e}", self.display()))),
            Ok(Ok(c)) => c,
        };
        let id = conn.id();
        Ok(Session { conn: Some(conn), kill: Some((self.opts(None)?, id)) })
    }
}

/// An open connection. Dropped without [`Session::close`] (the task was
/// killed or timed out mid-statement), it asks the server from a second
/// connection to stop what it runs.
pub struct Session {
    conn: Option<mysql_async::Conn>,
    kill: Option<(Opts, u32)>,
}

impl Session {
    /// The connection.
    pub fn conn(&mut self) -> Result<&mut mysql_async::Conn, TaskError> {
        self.conn.as_mut().ok_or_else(|| TaskError::failed("the MySQL session is closed"))
    }

    /// Ends the session once the work is over.
    pub async fn close(mut self) {
        self.kill = None;
        if let Some(conn) = self.conn.take() {
            let _ = conn.disconnect().await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some((opts, id)) = self.kill.take() else { return };
        drop(self.conn.take());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Ok(Ok(mut c)) = tokio::time::timeout(CONNECT_TIMEOUT, mysql_async::Conn::new(opts)).await {
                    let _ = c.query_drop(format!("KILL QUERY {id}")).await;
                    let _ = c.disconnect().await;
                }
            });
        }
    }
}

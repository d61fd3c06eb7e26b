//! Serving an axum router over HTTP with bounds, for `baton server local`
//! and the Cloud Run functions alike.
//!
//! `axum::serve` has no header timeout and accepts every connection: 1,100
//! clients each sending one header line every 5 s held the local server's
//! file descriptors and `/healthz` went unanswered for a minute. This loop
//! is axum's, on hyper-util's connection builder, with these bounds:
//! - at most [`ServeLimits::max_connections`] open connections, and
//!   [`ServeLimits::max_per_client`] from one IP address; past either, a
//!   new connection takes the place of one waiting on its client, or is
//!   closed (`serve_guard`): the listener never stops accepting;
//! - a request's headers must arrive within [`ServeLimits::header_timeout`]
//!   (hyper's `header_read_timeout`; it also closes an idle keep-alive
//!   connection that starts a request and never finishes its headers);
//! - a request body must keep a minimum rate ([`ServeLimits::body_rate`],
//!   `serve_guard::MIN_BODY_RATE` after `BODY_GRACE`).
//!
//! On shutdown it stops accepting, lets every connection finish its request
//! in flight (hyper's graceful shutdown) and returns when all are closed;
//! callers bound that wait (`SHUTDOWN_GRACE`, Cloud Run's own grace).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::serve_guard::{BodyRate, Guarded, Table};

/// Connections one listener keeps open (512: well under the usual 1,024
/// file descriptors of a process, which SQLite, logs and storage also use).
pub const MAX_CONNECTIONS: usize = 512;
/// Connections one client IP address keeps open on `baton server local`
/// (256: half of the total, so one client can not take them all).
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 256;
/// Connections a Cloud Run function keeps open (1,000: Cloud Run's most
/// concurrent requests per instance), from any client.
pub const MAX_FUNCTION_CONNECTIONS: usize = 1000;
/// The largest push body a function accepts: a 10 MB Pub/Sub message,
/// base64-encoded, plus the envelope.
pub const MAX_PUSH_BODY: usize = 16 * 1024 * 1024;
/// Time for a request's headers to arrive (20 s).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);

/// The bounds of one HTTP listener.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_per_client: usize,
    /// Time for a request's headers to arrive.
    pub header_timeout: Duration,
    /// The minimum rate of a request body.
    pub body_rate: BodyRate,
}

impl Default for ServeLimits {
    /// [`MAX_CONNECTIONS`], [`MAX_CONNECTIONS_PER_CLIENT`],
    /// [`HEADER_TIMEOUT`] and the minimum body rate.
    fn default() -> ServeLimits {
        ServeLimits {
            max_connections: MAX_CONNECTIONS,
            max_per_client: MAX_CONNECTIONS_PER_CLIENT,
            header_timeout: HEADER_TIMEOUT,
            body_rate: BodyRate::default(),
        }
    }
}

/// The variables that change a listener's bounds (the settings reference
/// lists them): connections in all and per client, the header deadline,
/// and the minimum body rate with its grace.
pub const SETTINGS: [&str; 5] = [
    "BATON_HTTP_MAX_CONNECTIONS",
    "BATON_HTTP_MAX_CONNECTIONS_PER_CLIENT",
    "BATON_HTTP_HEADER_TIMEOUT",
    "BATON_HTTP_MIN_BODY_RATE",
    "BATON_HTTP_BODY_GRACE",
];

/// Upper bound of a connection setting: what a process can hold open.
const MAX_CONNECTIONS_SETTING: u64 = 100_000;
/// Upper bound of a time setting (a day, in seconds).
const MAX_SECONDS_SETTING: u64 = 86_400;

/// A bound setting that does not hold a value in range.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value}: {reason}")]
pub struct LimitSettingError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

/// The whole number `get` finds for `name`, if set: one from `min` to
/// `max`, or an error naming the variable, its value and the range.
pub fn read_setting(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    min: u64,
    max: u64,
    unit: &str,
) -> Result<Option<u64>, LimitSettingError> {
    let Some(value) = get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(LimitSettingError {
            name,
            value,
            reason: format!("must be a whole number of {unit} from {min} to {max}"),
        }),
    }
}

impl ServeLimits {
    /// These limits with the `BATON_HTTP_*` variables `get` finds applied
    /// ([`SETTINGS`]); a variable that is not a whole number in range is
    /// an error naming it.
    pub fn with_settings(mut self, get: impl Fn(&str) -> Option<String>) -> Result<ServeLimits, LimitSettingError> {
        let read = |name, min, max, unit| read_setting(&get, name, min, max, unit);
        if let Some(n) = read(SETTINGS[0], 1, MAX_CONNECTIONS_SETTING, "connections")? {
            self.max_connections = n as usize;
        }
        if let Some(n) = read(SETTINGS[1], 1, MAX_CONNECTIONS_SETTING, "connections")? {
            self.max_per_client = n as usize;
        }
        if let Some(n) = read(SETTINGS[2], 1, MAX_SECONDS_SETTING, "seconds")? {
            self.header_timeout = Duration::from_secs(n);
        }
        if let Some(n) = read(SETTINGS[3], 0, u32::MAX as u64, "bytes per second")? {
            self.body_rate.min_bytes_per_sec = n;
        }
        if let Some(n) = read(SETTINGS[4], 0, MAX_SECONDS_SETTING, "seconds")? {
            self.body_rate.grace = Duration::from_secs(n);
        }
        self.max_per_client = self.max_per_client.min(self.max_connections);
        Ok(self)
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for the connections' requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let table = Arc::new(Table::new(limits.max_connections, limits.max_per_client, limits.body_rate));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // out of file descriptors or a connection reset before
                    // it was accepted: wait a little, as axum does
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = table.admit(peer.ip()) else {
            crate::runtime::metrics::refused("http_connections");
            tracing::debug!(%peer, "connection refused: every connection in the way is busy");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(Guarded {
            router: router.clone(),
            peer,
            slot: slot.clone(),
            rate: limits.body_rate,
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        let table = table.clone();
        tokio::spawn(async move {
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended");
                },
                () = slot.evicted.notified() => tracing::debug!(%peer, "connection evicted: it waited on its client"),
            }
            table.remove(&slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    #[test]
    fn the_http_settings_change_the_bounds_and_a_bad_one_is_named() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let l = ServeLimits::default()
            .with_settings(vars(&[
                ("BATON_HTTP_MAX_CONNECTIONS", "64"),
                ("BATON_HTTP_MAX_CONNECTIONS_PER_CLIENT", "100"),
                ("BATON_HTTP_HEADER_TIMEOUT", "5"),
                ("BATON_HTTP_MIN_BODY_RATE", "0"),
                ("BATON_HTTP_BODY_GRACE", "3"),
            ]))
            .expect("valid");
        assert_eq!((l.max_connections, l.max_per_client), (64, 64), "per client at most the total");
        assert_eq!(l.header_timeout, Duration::from_secs(5));
        assert_eq!((l.body_rate.min_bytes_per_sec, l.body_rate.grace), (0, Duration::from_secs(3)));
        let unchanged = ServeLimits::default().with_settings(vars(&[])).expect("none");
        assert_eq!(unchanged.max_per_client, MAX_CONNECTIONS_PER_CLIENT);
        let e = ServeLimits::default().with_settings(vars(&[("BATON_HTTP_MAX_CONNECTIONS", "0")])).expect_err("0");
        assert!(e.to_string().starts_with("BATON_HTTP_MAX_CONNECTIONS=0: must be a whole number"), "{e}");
    }
}

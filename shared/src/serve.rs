//! Serving an axum router over HTTP with bounds, for `baton server local`
//! and the Cloud Run functions alike.
//!
//! `axum::serve` has no header timeout and accepts every connection: 1,100
//! clients each sending one header line every 5 s held the local server's
//! file descriptors and `/healthz` went unanswered for a minute. This loop
//! is axum's, on hyper-util's connection builder, with two bounds:
//! - at most [`ServeLimits::max_connections`] open connections; past it a
//!   new connection waits in the kernel's backlog until one closes;
//! - a request's headers must arrive within [`ServeLimits::header_timeout`]
//!   (hyper's `header_read_timeout`; it also closes an idle keep-alive
//!   connection that starts a request and never finishes its headers).
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
use tokio::sync::Semaphore;

/// The bounds of one HTTP listener.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time for a request's headers to arrive.
    pub header_timeout: Duration,
}

impl Default for ServeLimits {
    /// 512 connections (well under the usual 1,024 file descriptors of a
    /// process, which SQLite, logs and storage also use) and 20 s.
    fn default() -> ServeLimits {
        ServeLimits { max_connections: 512, header_timeout: Duration::from_secs(20) }
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
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
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
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

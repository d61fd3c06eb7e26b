//! A local incoming-webhook receiver (Slack, Teams, Discord…): serves
//! `POST /hook` on a random 127.0.0.1 port and keeps every body posted, so
//! a test can read what a flow's notification task sent.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post;

/// The bodies posted so far, in order.
pub type Posted = Arc<Mutex<Vec<String>>>;

/// Starts a receiver; its URL (`http://127.0.0.1:{port}/hook`) and what it
/// was sent. Call from inside a Tokio runtime; it lives as long as it.
pub async fn receiver() -> (String, Posted) {
    let got: Posted = Arc::default();
    let keep = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap_or_else(|e| e.into_inner()).push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("local addr: {e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

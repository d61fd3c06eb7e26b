//! Logins under basic auth on a real `baton server local`: failed logins
//! are bounded per client address (429 with `Retry-After`, the bound
//! named) without locking out another address, and a logout ends its
//! session for good, after a restart too, while another login's goes on.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use shared::server::throttle::{FAILURES_SETTING, LoginLimits};
use shared::server::{LocalServer, ServerOptions};

use crate::sched_support::temp_dir;

const USER: &str = "admin@kestra.io";
const PASSWORD: &str = "Admin1234!";

async fn start(dir: &Path) -> LocalServer {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("flows folder");
    let mut opts = ServerOptions::new(dir.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    opts.workers = 1;
    opts.basic_auth = Some(shared::server::guard::BasicAuth::parse(&format!("{USER}:{PASSWORD}")).expect("auth"));
    opts.login = LoginLimits { failures: 3, window: Duration::from_secs(60) };
    LocalServer::start(opts).await.expect("server starts")
}

async fn login(http: &reqwest::Client, url: &str, password: &str) -> reqwest::Response {
    let body = serde_json::json!({"username": USER, "password": password});
    http.post(format!("{url}/auth/login")).json(&body).send().await.expect("POST /auth/login")
}

/// The `baton_session` value a login's answer sets.
fn token(r: &reqwest::Response) -> String {
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie");
    cookie.strip_prefix("baton_session=").and_then(|c| c.split(';').next()).expect("baton_session").to_string()
}

async fn status_with(http: &reqwest::Client, url: &str, token: &str) -> u16 {
    let r = http.get(format!("{url}/api/v1/flows/search")).header("cookie", format!("baton_session={token}"));
    r.header("sec-fetch-mode", "cors").send().await.expect("GET with the cookie").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_bounded_per_address_and_a_logout_ends_its_session_across_a_restart() {
    let dir = temp_dir("server-login");
    let server = start(&dir).await;
    let url = server.url();
    let here = reqwest::Client::new();
    // another client address: loopback is all of 127/8
    let there =
        reqwest::Client::builder().local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).build().expect("client");
    for _ in 0..3 {
        assert_eq!(login(&here, &url, "guess").await.status(), 401);
    }
    let refused = login(&here, &url, PASSWORD).await;
    assert_eq!(refused.status(), 429, "past the bound a right password waits too");
    let retry: u64 = refused.headers()["retry-after"].to_str().ok().and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = refused.json().await.expect("json");
    assert!(body["message"].as_str().is_some_and(|m| m.contains(FAILURES_SETTING)), "{body}");
    let basic = here.get(format!("{url}/api/v1/flows/search")).basic_auth(USER, Some("guess")).send().await;
    assert_eq!(basic.expect("GET -u").status(), 429, "the API's basic auth counts the same failures");
    // another address logs in; its session works from the throttled one
    let first = login(&there, &url, PASSWORD).await;
    assert_eq!(first.status(), 200, "another address's failures do not lock this one out");
    let a = token(&first);
    assert_eq!(status_with(&here, &url, &a).await, 200, "a session cookie is no login attempt");
    let b = token(&login(&there, &url, PASSWORD).await);
    // a logout ends its own session only
    let out = there.post(format!("{url}/auth/logout")).header("cookie", format!("baton_session={a}")).send().await;
    let out = out.expect("POST /auth/logout");
    assert_eq!(out.status(), 204);
    assert!(out.headers()["set-cookie"].to_str().is_ok_and(|c| c.starts_with("baton_session=; Max-Age=0")));
    assert_eq!(status_with(&there, &url, &a).await, 401, "a copy of the logged-out cookie is refused");
    assert_eq!(status_with(&there, &url, &b).await, 200, "the second login's cookie still works");
    // the ended session stays ended after a restart (the state store keeps it)
    server.shutdown().await;
    let server = start(&dir).await;
    let url = server.url();
    assert_eq!(status_with(&there, &url, &a).await, 401, "after a restart");
    assert_eq!(status_with(&there, &url, &b).await, 200, "after a restart");
    assert_eq!(login(&here, &url, PASSWORD).await.status(), 200, "a restart forgets the failures (memory only)");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

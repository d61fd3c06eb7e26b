//! `baton server local`: runs the local server until Ctrl-C (or SIGTERM),
//! then stops it cleanly; unfinished work resumes at the next start.

use std::path::Path;

use shared::runtime::secrets::{Secrets, envs_map};
use shared::server::{LocalServer, ServerOptions};

use super::args::ServerArgs;

pub async fn server(home: &Path, a: ServerArgs) -> i32 {
    let secrets = Secrets::from_vars(std::env::vars());
    for bad in &secrets.invalid {
        tracing::warn!(variable = %bad, "not valid base64: ignored");
    }
    let mut opts = ServerOptions::new(home.to_path_buf());
    opts.flows_dir = a.flows;
    opts.bind = a.bind;
    opts.port = a.port;
    opts.workers = a.workers;
    opts.secrets = secrets;
    opts.envs = envs_map(std::env::vars());
    opts.plugins = shared::plugins::PluginConfig::from_env();
    if opts.plugins.url.is_none() {
        // the notification tasks link executions under the UI this server serves
        opts.plugins.url = Some(own_url(a.bind, a.port));
    }
    opts.echo_logs = a.echo_logs;
    opts.http = match opts.http.with_settings(|k| std::env::var(k).ok()) {
        Ok(limits) => limits,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if let Err(e) = shared::api::backlog::configure(|k| std::env::var(k).ok()) {
        eprintln!("error: {e}");
        return 2;
    }
    opts.allowed_hosts = a.allowed_hosts;
    let hours = shared::server::session::MAX_SESSION_HOURS;
    match shared::serve::read_setting(
        &|k: &str| std::env::var(k).ok(),
        shared::server::session::SESSION_TTL_SETTING,
        1,
        hours,
        "hours",
    ) {
        Ok(Some(h)) => opts.session_ttl = std::time::Duration::from_secs(h * 3600),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    }
    opts.login = match opts.login.with_settings(|k| std::env::var(k).ok()) {
        Ok(limits) => limits,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if let Some(auth) = a.basic_auth.as_deref() {
        match shared::server::guard::BasicAuth::parse(auth) {
            Ok(b) => opts.basic_auth = Some(b),
            Err(e) => {
                eprintln!("error: --basic-auth: {e}");
                return 2;
            }
        }
    }
    if let Err(e) = shared::prometheus::start(true) {
        eprintln!("error: {e}");
        return 2;
    }
    let server = match LocalServer::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    eprintln!("baton server listening on {} (Ctrl-C stops it); the web UI: {}/ui/", server.url(), server.url());
    wait_for_stop().await;
    tracing::info!("stopping");
    server.shutdown().await;
    0
}

/// This server's address as a browser reaches it (loopback for an
/// unspecified bind address).
fn own_url(bind: std::net::IpAddr, port: u16) -> String {
    let host = if bind.is_unspecified() { std::net::IpAddr::from([127, 0, 0, 1]) } else { bind };
    format!("http://{}/", std::net::SocketAddr::new(host, port))
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

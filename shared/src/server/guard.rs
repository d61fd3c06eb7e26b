//! Who may talk to `baton server local` (an axum middleware):
//!
//! - **Host**: on a loopback address, only `localhost`, `127.0.0.1`, `[::1]`
//!   and the names in `allowed_hosts` are accepted as the `Host` header, so
//!   a web page cannot reach the API through DNS rebinding. Bound to another
//!   address (which needs basic auth), any host name is accepted.
//! - **Cross-site state changes**: a request other than GET/HEAD/OPTIONS
//!   whose `Origin` is not the server's own, or that a browser marks
//!   `Sec-Fetch-Site: cross-site`/`same-site`, is refused: a form on another
//!   web page cannot start an execution. Tools that send no `Origin` (curl,
//!   clients) are not affected.
//! - **Basic auth** (Kestra's `-u user:password`): when configured, every
//!   route but `/healthz`, the webhook routes and the web UI's own files
//!   (`/`, `/ui/…`: the page, its scripts and styles, no data) needs it. The
//!   credentials come in an `Authorization: Basic` header (curl `-u`,
//!   kestrapy) or, from the web UI's login page, as a signed session in the
//!   `HttpOnly` cookie `baton_session` ([`super::session`]: no password in
//!   it), which also carries the login on the page's event streams and
//!   downloads. `/auth/login` and `/auth/logout` need none. The password is
//!   compared in constant time. Failed logins are bounded per client
//!   address and per user ([`super::throttle`]): past the bound the
//!   attempt is answered 429 with `Retry-After`. A refusal carries `WWW-Authenticate` (the
//!   browser's prompt, or a client's retry) unless it answers the page's own
//!   request (`X-Requested-With`, or a browser's `Sec-Fetch-Mode` other than
//!   `navigate`): the page shows its login form instead.
//! - **Webhooks** (`/api/v1/[main/]executions/webhook/…`): as in Kestra, the
//!   key in the path is their credential, so they need no basic auth and may
//!   be called from any site (a page cannot call one without its key).
//!
//! Refusals are JSON `{"message": …}` (403, or 401 with `WWW-Authenticate`).
//! An authenticated request carries its user name to the handlers as an
//! [`AuthenticatedUser`] extension (the resume records it as `resumed.by`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::session::{self, SessionExpiry, Sessions};
use super::throttle::{LoginLimits, LoginThrottle};
use crate::api::{ApiError, AuthenticatedUser};

/// The environment variable holding `user:password` for basic auth.
pub const BASIC_AUTH_ENV: &str = "BATON_SERVER_BASIC_AUTH";
/// Extra host names accepted in `Host` on a loopback bind (comma-separated).
pub const ALLOWED_HOSTS_ENV: &str = "BATON_SERVER_ALLOWED_HOSTS";

/// Basic-auth credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub user: String,
    password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicAuth({}:******)", self.user)
    }
}

impl BasicAuth {
    /// `user:password` (the password may contain `:`).
    pub fn parse(s: &str) -> Result<BasicAuth, String> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() && !p.is_empty() => {
                Ok(BasicAuth { user: u.to_string(), password: p.to_string() })
            }
            _ => Err("basic auth must be written user:password, both non-empty".to_string()),
        }
    }

    /// The request's `Authorization: Basic` header, when it has one.
    fn offered(headers: &HeaderMap) -> Option<&str> {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")))
    }

    /// Whether the user name an `Authorization: Basic` value (base64) names is this one.
    fn names_user(&self, encoded: &str) -> bool {
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .is_some_and(|d| d.split(|b| *b == b':').next() == Some(self.user.as_bytes()))
    }

    /// Whether an `Authorization: Basic` value (base64) holds these credentials.
    fn accepts(&self, encoded: &str) -> bool {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
        let expected = format!("{}:{}", self.user, self.password);
        constant_time_eq(&decoded, expected.as_bytes())
    }

    /// The sessions of these credentials, signed under `secret`.
    pub fn sessions(
        &self,
        home: &std::path::Path,
        ttl: std::time::Duration,
    ) -> Result<Sessions, session::SessionKeyError> {
        Sessions::for_home(home, &self.user, &self.password, ttl)
    }
}

/// The web UI's own files: the page shell, its scripts, styles and icon.
fn ui_file(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

/// A request the web UI's page made itself (fetch, event stream), not a
/// navigation: its 401 must not open the browser's prompt.
fn from_the_page(headers: &HeaderMap) -> bool {
    let mode = headers.get("sec-fetch-mode").and_then(|v| v.to_str().ok());
    headers.contains_key("x-requested-with") || mode.is_some_and(|m| m != "navigate")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// The checks of one server.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Host names accepted in `Host` (lowercase, without port); empty: any.
    pub hosts: Vec<String>,
    pub auth: Option<BasicAuth>,
    /// The web UI's login sessions (with `auth`).
    pub sessions: Option<Sessions>,
    /// Failed logins, on the login page and in `Authorization` headers.
    pub throttle: Arc<LoginThrottle>,
}

/// How a request was let through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pass {
    /// The authenticated user (none without basic auth, or on a route that needs none).
    pub user: Option<String>,
    /// The expiry of the session cookie that authenticated it (unix seconds).
    pub session: Option<i64>,
}

impl Guard {
    /// The guard for a server bound to `bind`.
    pub fn new(bind: std::net::IpAddr, extra_hosts: &[String], auth: Option<BasicAuth>) -> Guard {
        let hosts = if bind.is_loopback() {
            let mut h: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into(), "::1".into()];
            h.extend(extra_hosts.iter().map(|x| x.trim().to_ascii_lowercase()).filter(|x| !x.is_empty()));
            h
        } else {
            Vec::new()
        };
        Guard { hosts, auth, sessions: None, throttle: Arc::new(LoginThrottle::default()) }
    }

    /// This guard with failed logins bounded by `limits`.
    pub fn with_login_limits(mut self, limits: LoginLimits) -> Guard {
        self.throttle = Arc::new(LoginThrottle::new(limits));
        self
    }

    /// This guard with the web UI's login sessions.
    pub fn with_sessions(mut self, sessions: Sessions) -> Guard {
        self.sessions = Some(sessions);
        self
    }

    /// Whether `user` and `password` are the configured ones (constant time).
    pub fn accepts_password(&self, user: &str, password: &str) -> bool {
        self.auth.as_ref().is_some_and(|a| {
            let expected = format!("{}:{}", a.user, a.password);
            constant_time_eq(format!("{user}:{password}").as_bytes(), expected.as_bytes())
        })
    }

    /// The user and expiry of a valid session cookie in `headers`.
    fn session(&self, headers: &HeaderMap) -> Option<(String, i64)> {
        let token = session::session_cookie(headers)?;
        let sessions = self.sessions.as_ref()?;
        match sessions.verify(token, chrono::Utc::now().timestamp()) {
            Ok(s) => Some((s.user, s.expires)),
            Err(e) => {
                tracing::debug!(reason = %e, "session cookie refused");
                None
            }
        }
    }

    /// Ok with how the request passed (see [`Pass`]).
    fn check(&self, method: &Method, path: &str, headers: &HeaderMap, client: IpAddr) -> Result<Pass, Box<Response>> {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if !self.hosts.is_empty() && !host.is_empty() && !self.hosts.iter().any(|h| *h == host_name(&host)) {
            return Err(refuse(format!(
                "Host '{host}' is not served: this server answers to {} (add names with {ALLOWED_HOSTS_ENV})",
                self.hosts.join(", ")
            )));
        }
        let webhook = crate::api::webhook::is_webhook_path(path);
        if !webhook && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("");
            if site == "cross-site" || site == "same-site" {
                return Err(refuse(format!("cross-site {method} refused (Sec-Fetch-Site: {site})")));
            }
            if let Some(origin) = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("invalid")) {
                // the server's own pages: its host, over http (or the scheme
                // a TLS proxy in front says it serves)
                let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
                let own = origin
                    .split_once("://")
                    .is_some_and(|(scheme, h)| scheme.eq_ignore_ascii_case(proto) && h.eq_ignore_ascii_case(&host));
                if !own {
                    return Err(refuse(format!(
                        "{method} from origin '{origin}' refused: only this server's own pages may change state"
                    )));
                }
            }
        }
        match &self.auth {
            Some(auth) if path != "/healthz" && path != "/health" && !webhook => {
                if let Some(offered) = BasicAuth::offered(headers) {
                    let counted = auth.names_user(offered);
                    let now = Instant::now();
                    self.throttle.admit(client, counted, now).map_err(|t| Box::new(t.into_response()))?;
                    if auth.accepts(offered) {
                        return Ok(Pass { user: Some(auth.user.clone()), session: None });
                    }
                    self.throttle.failed(client, counted, now);
                }
                if let Some((user, expires)) = self.session(headers) {
                    return Ok(Pass { user: Some(user), session: Some(expires) });
                }
                if ui_file(path) || path == session::LOGIN_PATH || path == session::LOGOUT_PATH {
                    return Ok(Pass::default());
                }
                let mut r =
                    ApiError::new(StatusCode::UNAUTHORIZED, "authentication required (basic auth)").into_response();
                if !from_the_page(headers) {
                    r.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"Baton\""));
                }
                Err(Box::new(r))
            }
            _ => Ok(Pass::default()),
        }
    }
}

/// `name` of `name:port` (also `[v6]:port`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn refuse(message: String) -> Box<Response> {
    tracing::warn!(reason = %message, "request refused");
    Box::new(ApiError::new(StatusCode::FORBIDDEN, message).into_response())
}

/// The client's address (`crate::serve` adds it to each request); the
/// unspecified address when the request came another way.
pub fn client_ip(req: &Request) -> IpAddr {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The middleware: `axum::middleware::from_fn_with_state(guard, guard::check)`.
pub async fn check(State(guard): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    match guard.check(req.method(), req.uri().path(), req.headers(), client_ip(&req)) {
        Ok(pass) => {
            if let Some(user) = pass.user {
                req.extensions_mut().insert(AuthenticatedUser(user));
            }
            if let Some(expires) = pass.session {
                req.extensions_mut().insert(SessionExpiry(expires));
            }
            next.run(req).await
        }
        Err(r) => *r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn foreign_hosts_and_cross_site_posts_are_refused() {
        let g = Guard::new(IpAddr::V4(Ipv4Addr::LOCALHOST), &[], None);
        assert!(g.check(&Method::GET, "/api/v1/flows", &headers(&[("host", "127.0.0.1:8080")]), CLIENT).is_ok());
        assert!(g.check(&Method::GET, "/api/v1/flows", &headers(&[("host", "localhost")]), CLIENT).is_ok());
        assert!(g.check(&Method::GET, "/api/v1/flows", &headers(&[("host", "[::1]:8080")]), CLIENT).is_ok());
        assert!(g.check(&Method::GET, "/api/v1/flows", &headers(&[("host", "evil.example:8080")]), CLIENT).is_err());
        let form = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.example")]);
        assert!(g.check(&Method::POST, "/api/v1/executions/a/b", &form, CLIENT).is_err());
        let own = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")]);
        assert!(g.check(&Method::POST, "/api/v1/executions/a/b", &own, CLIENT).is_ok());
        // same host, another scheme: not this server's page
        for origin in ["https://127.0.0.1:8080", "null://127.0.0.1:8080", "127.0.0.1:8080"] {
            let other = headers(&[("host", "127.0.0.1:8080"), ("origin", origin)]);
            assert!(g.check(&Method::POST, "/api/v1/executions/a/b", &other, CLIENT).is_err(), "{origin}");
        }
        // behind a TLS proxy that says so
        let proxied = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://127.0.0.1:8080"),
            ("x-forwarded-proto", "https"),
        ]);
        assert!(g.check(&Method::POST, "/api/v1/executions/a/b", &proxied, CLIENT).is_ok());
        let fetch = headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]);
        assert!(g.check(&Method::DELETE, "/api/v1/flows/a/b", &fetch, CLIENT).is_err());
        assert!(g.check(&Method::POST, "/api/v1/flows", &headers(&[("host", "127.0.0.1:8080")]), CLIENT).is_ok());
    }

    #[test]
    fn basic_auth_is_required_when_set() {
        let auth = BasicAuth::parse("admin@kestra.io:Admin1234!").unwrap();
        let g = Guard::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &[], Some(auth));
        let ok = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("admin@kestra.io:Admin1234!"));
        let bad = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("admin@kestra.io:nope"));
        let user =
            g.check(&Method::GET, "/api/v1/flows", &headers(&[("host", "box:8080"), ("authorization", &ok)]), CLIENT);
        assert_eq!(user.ok().and_then(|p| p.user).as_deref(), Some("admin@kestra.io"), "the user is passed on");
        let r = g.check(&Method::GET, "/api/v1/flows", &headers(&[("authorization", &bad)]), CLIENT).unwrap_err();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(g.check(&Method::GET, "/healthz", &HeaderMap::new(), CLIENT).is_ok());
        assert!(g.check(&Method::GET, "/health", &HeaderMap::new(), CLIENT).is_ok());
        assert!(BasicAuth::parse("nopassword").is_err());
        assert!(!format!("{:?}", BasicAuth::parse("u:secret").unwrap()).contains("secret"));
    }

    #[test]
    fn the_ui_logs_in_with_a_session_cookie_and_its_own_requests_get_no_prompt() {
        let auth = BasicAuth::parse("admin@kestra.io:Admin1234!").unwrap();
        let sessions = Sessions::new(&[1u8; 32], "admin@kestra.io", "Admin1234!", session::SESSION_TTL);
        let g = Guard::new(IpAddr::V4(Ipv4Addr::LOCALHOST), &[], Some(auth)).with_sessions(sessions.clone());
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let host = ("host", "127.0.0.1:8080");
        // the page, its files and its Kestra paths need no credentials (no data in them)
        for path in ["/", "/ui", "/ui/app.js", "/ui/main/flows", "/ui/login"] {
            assert_eq!(g.check(&Method::GET, path, &headers(&[host]), CLIENT).ok(), Some(Pass::default()), "{path}");
        }
        // login and logout need no credentials (a POST still from the page's own origin)
        for path in [session::LOGIN_PATH, session::LOGOUT_PATH] {
            assert_eq!(g.check(&Method::POST, path, &headers(&[host]), CLIENT).ok(), Some(Pass::default()), "{path}");
            let foreign = headers(&[host, ("origin", "http://evil.example")]);
            assert_eq!(g.check(&Method::POST, path, &foreign, CLIENT).unwrap_err().status(), StatusCode::FORBIDDEN);
        }
        // a session cookie, among others, is accepted as the header is
        let token = sessions.issue(chrono::Utc::now().timestamp());
        let cookie = format!("theme=dark; {}={token}; x=y", session::SESSION_COOKIE);
        let pass = g.check(&Method::GET, "/api/v1/flows", &headers(&[host, ("cookie", &cookie)]), CLIENT).ok();
        assert_eq!(pass.as_ref().and_then(|p| p.user.as_deref()), Some("admin@kestra.io"));
        assert!(pass.is_some_and(|p| p.session.is_some()), "the session is passed on");
        // tampered, expired, or the old cookie of base64 user:password: refused
        let tampered = token.replacen("v2.", "v2.x", 1);
        let expired = sessions.issue(chrono::Utc::now().timestamp() - 13 * 3600);
        let old = format!("baton_auth={}", b64("admin@kestra.io:Admin1234!"));
        for cookie in [format!("baton_session={tampered}"), format!("baton_session={expired}"), old] {
            let r = g.check(&Method::GET, "/api/v1/flows", &headers(&[host, ("cookie", &cookie)]), CLIENT).unwrap_err();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{cookie}");
        }
        // curl gets the challenge; the page's own fetch does not (no browser prompt)
        let curl = g.check(&Method::GET, "/api/v1/flows", &headers(&[host]), CLIENT).unwrap_err();
        assert!(curl.headers().contains_key(header::WWW_AUTHENTICATE));
        for h in [("sec-fetch-mode", "cors"), ("x-requested-with", "XMLHttpRequest")] {
            let page = g.check(&Method::GET, "/api/v1/flows", &headers(&[host, h]), CLIENT).unwrap_err();
            assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
            assert!(!page.headers().contains_key(header::WWW_AUTHENTICATE), "{h:?}");
        }
        let typed = g
            .check(&Method::GET, "/api/v1/flows", &headers(&[host, ("sec-fetch-mode", "navigate")]), CLIENT)
            .unwrap_err();
        assert!(typed.headers().contains_key(header::WWW_AUTHENTICATE), "an address typed in the browser");
    }

    #[test]
    fn failed_basic_auth_is_bounded_per_address_and_a_right_password_waits_too() {
        let auth = BasicAuth::parse("admin:secret").unwrap();
        let limits = LoginLimits { failures: 2, window: std::time::Duration::from_secs(60) };
        let g = Guard::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &[], Some(auth)).with_login_limits(limits);
        let basic = |creds: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(creds));
        let (bad, good) = (basic("admin:nope"), basic("admin:secret"));
        let other = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        for _ in 0..2 {
            let r = g.check(&Method::GET, "/api/v1/flows", &headers(&[("authorization", &bad)]), CLIENT).unwrap_err();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        for creds in [&bad, &good] {
            let r = g.check(&Method::GET, "/api/v1/flows", &headers(&[("authorization", creds)]), CLIENT).unwrap_err();
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
            assert!(r.headers().contains_key(header::RETRY_AFTER));
        }
        assert!(g.check(&Method::GET, "/api/v1/flows", &headers(&[("authorization", &good)]), other).is_ok());
        // requests without credentials are no login attempts: a plain 401
        let r = g.check(&Method::GET, "/api/v1/flows", &HeaderMap::new(), CLIENT).unwrap_err();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn webhooks_need_no_basic_auth_and_may_come_from_any_site() {
        let auth = BasicAuth::parse("admin@kestra.io:Admin1234!").unwrap();
        let g = Guard::new(IpAddr::V4(Ipv4Addr::LOCALHOST), &[], Some(auth));
        let foreign = headers(&[("host", "127.0.0.1:8080"), ("origin", "https://hooks.example")]);
        for path in ["/api/v1/executions/webhook/ns/f/key", "/api/v1/main/executions/webhook/ns/f/key"] {
            assert!(g.check(&Method::POST, path, &foreign, CLIENT).is_ok(), "{path}");
        }
        // everything else still needs the password and its own origin
        let r = g
            .check(&Method::POST, "/api/v1/executions/ns/f", &headers(&[("host", "127.0.0.1:8080")]), CLIENT)
            .unwrap_err();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = g.check(&Method::POST, "/api/v1/executions/ns/f", &foreign, CLIENT).unwrap_err();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // the Host check still holds for webhooks
        let evil = headers(&[("host", "evil.example")]);
        assert!(g.check(&Method::POST, "/api/v1/executions/webhook/ns/f/key", &evil, CLIENT).is_err());
    }
}

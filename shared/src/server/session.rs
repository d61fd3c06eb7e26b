//! The web UI's login session under basic auth (`baton server local`).
//!
//! The login page posts the user and password once to `POST /auth/login`;
//! accepted, the answer sets the cookie [`SESSION_COOKIE`]: a token signed
//! with HMAC-SHA256 over the user name and an expiry, never the password.
//! The cookie is `HttpOnly` (scripts cannot read it), `SameSite=Strict`,
//! `Path=/`, `Secure` when the request came over https (a TLS proxy's
//! `X-Forwarded-Proto`), and lives [`SESSION_TTL_SETTING`] hours (12 by
//! default). `POST /auth/logout` clears it and ends the session on the
//! server ([`super::revoke`]: each token carries a random id and the user's
//! session generation), so a copy of the cookie is refused from then on;
//! `GET /auth/session` says who is logged in (the page shows Logout from it).
//! Failed logins are bounded ([`super::throttle`]).
//!
//! The signing key is drawn at random once per Baton home and kept in
//! `<home>/session.key` (mode 0600); the key a token is checked with is
//! derived from it and the configured `user:password`, so changing the
//! password ends every session, and so does deleting the file. The
//! Cloud Run functions have no basic auth (IAM guards them), hence no
//! session.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use ring::hmac;
use serde_json::json;

use super::guard::{Guard, client_ip};
use super::revoke::{Revocations, Revoked};
use crate::api::{ApiError, AuthenticatedUser};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "baton_session";
/// The setting bounding a session's lifetime, in hours.
pub const SESSION_TTL_SETTING: &str = "BATON_SERVER_SESSION_HOURS";
/// A session's lifetime without [`SESSION_TTL_SETTING`].
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The longest lifetime the setting accepts (30 days, in hours).
pub const MAX_SESSION_HOURS: u64 = 720;
/// The longest user name a token carries (bytes).
const MAX_USER: usize = 256;
/// The largest login body read (bytes).
pub const MAX_LOGIN_BODY: usize = 16 * 1024;
/// The key file's name in the Baton home.
const KEY_FILE: &str = "session.key";
const VERSION: &str = "v2";

/// Why the session key could not be had.
#[derive(Debug, thiserror::Error)]
#[error("session key '{path}': {reason}")]
pub struct SessionKeyError {
    pub path: String,
    pub reason: String,
}

/// Why a token was refused (never shown to the client beyond "expired").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a session token")]
    Malformed,
    #[error("the session's signature does not match")]
    Signature,
    #[error("the session expired (sessions last {} hours at most)", SESSION_TTL_SETTING)]
    Expired,
    #[error("the session was ended by a logout")]
    Revoked,
}

/// A valid session token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    /// Unix seconds.
    pub expires: i64,
    /// The user's session generation when it was issued.
    pub generation: u64,
    /// Its own random id (what a logout revokes).
    pub id: String,
}

/// Issues and checks session tokens for one user and password.
#[derive(Clone)]
pub struct Sessions {
    key: hmac::Key,
    user: String,
    ttl: Duration,
    revocations: Arc<Revocations>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("user", &self.user).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl Sessions {
    /// The sessions of `user:password` signed under `secret` (the home's key).
    pub fn new(secret: &[u8], user: &str, password: &str, ttl: Duration) -> Sessions {
        // the credentials are part of the key: a changed password ends every session
        let master = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&master, format!("baton session\n{user}\n{password}").as_bytes());
        Sessions {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            user: user.to_string(),
            ttl,
            revocations: Arc::new(Revocations::in_memory(user)),
        }
    }

    /// These sessions, ended by logouts recorded in `revocations` (the
    /// state store's, which outlive the process).
    pub fn with_revocations(mut self, revocations: Arc<Revocations>) -> Sessions {
        self.revocations = revocations;
        self
    }

    /// The sessions of a server whose home is `home`: its key read from
    /// `<home>/session.key`, or drawn and written there (mode 0600).
    pub fn for_home(home: &Path, user: &str, password: &str, ttl: Duration) -> Result<Sessions, SessionKeyError> {
        let path = home.join(KEY_FILE);
        let secret = crate::backend::seal::key_file(&path)
            .map_err(|e| SessionKeyError { path: path.display().to_string(), reason: e.to_string() })?;
        Ok(Sessions::new(&secret, user, password, ttl))
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new session's token for the configured user, valid until
    /// `now + ttl` (unix seconds).
    pub fn issue(&self, now: i64) -> String {
        let expires = now.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX));
        let user = b64(self.user.as_bytes());
        let id = uuid::Uuid::new_v4().simple().to_string();
        let payload = signed(&user, expires, self.revocations.generation(), &id);
        let tag = hmac::sign(&self.key, payload.as_bytes());
        format!("{payload}.{}", b64(tag.as_ref()))
    }

    /// The session `token` stands for at `now` (unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Session, TokenError> {
        let mut parts = token.trim().split('.');
        let (Some(VERSION), Some(user), Some(expires), Some(generation), Some(id), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if user.len() > MAX_USER * 2 || id.len() > 64 {
            return Err(TokenError::Malformed);
        }
        let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let generation: u64 = generation.parse().map_err(|_| TokenError::Malformed)?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
        hmac::verify(&self.key, signed(user, expires, generation, id).as_bytes(), &tag)
            .map_err(|_| TokenError::Signature)?;
        let name = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(user).map_err(|_| TokenError::Malformed)?;
        let name = String::from_utf8(name).map_err(|_| TokenError::Malformed)?;
        if name != self.user {
            return Err(TokenError::Signature);
        }
        // past its expiry, or further ahead than a session may last (a
        // token of a longer setting than this server's)
        let longest = now.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX));
        if expires <= now || expires > longest {
            return Err(TokenError::Expired);
        }
        if self.revocations.is_revoked(generation, id) {
            return Err(TokenError::Revoked);
        }
        Ok(Session { user: name, expires, generation, id: id.to_string() })
    }

    /// Ends `session` for good (a logout), in the store when there is one.
    pub async fn revoke(&self, session: &Session, now: i64) -> Result<Revoked, super::revoke::RevokeError> {
        self.revocations.revoke(session.generation, &session.id, session.expires, now).await
    }

    /// The `Set-Cookie` value carrying `token`.
    pub fn cookie(&self, token: &str, headers: &HeaderMap) -> String {
        format!("{SESSION_COOKIE}={token}; Max-Age={}; {}", self.ttl.as_secs(), attributes(headers))
    }
}

/// The `Set-Cookie` value that clears the session.
pub fn clearing_cookie(headers: &HeaderMap) -> String {
    format!("{SESSION_COOKIE}=; Max-Age=0; {}", attributes(headers))
}

fn attributes(headers: &HeaderMap) -> String {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.split(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https")));
    format!("Path=/; HttpOnly; SameSite=Strict{}", if https { "; Secure" } else { "" })
}

fn signed(user: &str, expires: i64, generation: u64, id: &str) -> String {
    format!("{VERSION}.{user}.{expires}.{generation}.{id}")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The session cookie's value among the request's cookies.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(SESSION_COOKIE).and_then(|rest| rest.strip_prefix('=')))
        .filter(|v| !v.is_empty())
}

/// The expiry of the session a request was authenticated by (an extension
/// the guard adds), unix seconds.
#[derive(Debug, Clone, Copy)]
pub struct SessionExpiry(pub i64);

/// The paths below, which the guard lets through without credentials
/// (login and logout) or answers itself (session).
pub const LOGIN_PATH: &str = "/auth/login";
pub const LOGOUT_PATH: &str = "/auth/logout";
pub const SESSION_PATH: &str = "/auth/session";

/// `POST /auth/login`, `POST /auth/logout`, `GET /auth/session`.
pub fn routes(guard: Arc<Guard>) -> Router {
    Router::new()
        .route(LOGIN_PATH, post(login))
        .route(LOGOUT_PATH, post(logout))
        .route(SESSION_PATH, get(session))
        .with_state(guard)
}

#[derive(serde::Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn login(State(guard): State<Arc<Guard>>, req: Request) -> Response {
    let Some(sessions) = guard.sessions.as_ref() else {
        return ApiError::new(StatusCode::NOT_FOUND, "this server has no basic auth: nothing to log in to")
            .into_response();
    };
    let client = client_ip(&req);
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), MAX_LOGIN_BODY).await {
        Ok(body) => body,
        Err(e) => {
            let status = if e.to_string().contains("length limit") {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let message = format!(
                "the login body could not be read ({e}): it is {MAX_LOGIN_BODY} bytes at most (MAX_LOGIN_BODY)"
            );
            return ApiError::new(status, message).into_response();
        }
    };
    let Ok(c) = serde_json::from_slice::<Credentials>(&body) else {
        return ApiError::new(StatusCode::BAD_REQUEST, "the login wants JSON {\"username\": …, \"password\": …}")
            .into_response();
    };
    let counted = guard.auth.as_ref().is_some_and(|a| a.user == c.username);
    let now_instant = std::time::Instant::now();
    if let Err(throttled) = guard.throttle.admit(client, counted, now_instant) {
        return throttled.into_response();
    }
    if !guard.accepts_password(&c.username, &c.password) {
        guard.throttle.failed(client, counted, now_instant);
        return ApiError::new(StatusCode::UNAUTHORIZED, "Invalid username or password").into_response();
    }
    let now = chrono::Utc::now().timestamp();
    let token = sessions.issue(now);
    let expires = now.saturating_add(i64::try_from(sessions.ttl().as_secs()).unwrap_or(i64::MAX));
    let mut r = Json(json!({"user": c.username, "expires": expires})).into_response();
    if let Ok(v) = sessions.cookie(&token, &headers).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

/// Ends the request's session on the server, when it has a valid one, and
/// clears the cookie either way.
async fn logout(State(guard): State<Arc<Guard>>, headers: HeaderMap) -> Response {
    let now = chrono::Utc::now().timestamp();
    let session = guard
        .sessions
        .as_ref()
        .and_then(|s| session_cookie(&headers).and_then(|t| s.verify(t, now).ok()).map(|session| (s, session)));
    let mut r = match session {
        Some((sessions, session)) => match sessions.revoke(&session, now).await {
            Ok(Revoked::One) => StatusCode::NO_CONTENT.into_response(),
            Ok(Revoked::Every) => {
                tracing::warn!(user = %session.user, "logout ended every session of the user (MAX_REVOKED)");
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => {
                tracing::error!(error = %e, "logout not recorded");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("the session could not be ended: {e}"))
                    .into_response()
            }
        },
        None => StatusCode::NO_CONTENT.into_response(),
    };
    if let Ok(v) = clearing_cookie(&headers).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn session(State(guard): State<Arc<Guard>>, req: Request) -> Response {
    let user = req.extensions().get::<AuthenticatedUser>().map(|u| u.0.clone());
    let expires = req.extensions().get::<SessionExpiry>().map(|e| e.0);
    Json(json!({"auth": guard.auth.is_some(), "user": user, "session": expires.is_some(), "expires": expires}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        Sessions::new(&[7u8; 32], "admin@kestra.io", "Admin1234!", SESSION_TTL)
    }

    #[test]
    fn a_token_names_its_user_until_it_expires_and_a_tampered_one_is_refused() {
        let s = sessions();
        let token = s.issue(1_000);
        assert!(!token.contains("Admin1234"), "{token}");
        let session = s.verify(&token, 1_001).expect("valid");
        let expires = session.expires;
        assert_eq!((session.user.as_str(), expires), ("admin@kestra.io", 1_000 + 12 * 3600));
        assert!(token.starts_with("v2.") && token.contains(&format!(".0.{}.", session.id)), "{token}");
        assert_eq!(s.verify(&token, expires), Err(TokenError::Expired));
        assert!(TokenError::Expired.to_string().contains(SESSION_TTL_SETTING));
        // a later expiry, another user, another tag: the signature fails
        let later = token.replace(&format!(".{expires}."), &format!(".{}.", expires + 3600));
        assert_eq!(s.verify(&later, 1_001), Err(TokenError::Signature));
        let other = token.replace(&b64(b"admin@kestra.io"), &b64(b"root"));
        assert_eq!(s.verify(&other, 1_001), Err(TokenError::Signature));
        let other_id = token.replace(&session.id, &uuid::Uuid::new_v4().simple().to_string());
        assert_eq!(s.verify(&other_id, 1_001), Err(TokenError::Signature));
        let v1 = format!("v1.{}.{expires}.{}", b64(b"admin@kestra.io"), token.rsplit('.').next().unwrap_or(""));
        for bad in ["", "v1", "v1.a.b.c", "v2.a.1.c", "v1.a.1.c.d", "v2.a.1.x.i.t", "YWRtaW46cGFzcw==", v1.as_str()] {
            assert!(s.verify(bad, 1_001).is_err(), "{bad}");
        }
        // another password, another home's key: the token is not theirs
        let changed = Sessions::new(&[7u8; 32], "admin@kestra.io", "changed", SESSION_TTL);
        assert_eq!(changed.verify(&token, 1_001), Err(TokenError::Signature));
        let elsewhere = Sessions::new(&[8u8; 32], "admin@kestra.io", "Admin1234!", SESSION_TTL);
        assert_eq!(elsewhere.verify(&token, 1_001), Err(TokenError::Signature));
        // a server whose sessions are shorter refuses a token issued for longer
        let short = Sessions::new(&[7u8; 32], "admin@kestra.io", "Admin1234!", Duration::from_secs(3600));
        assert_eq!(short.verify(&token, 1_001), Err(TokenError::Expired));
    }

    #[tokio::test]
    async fn a_logout_ends_its_session_only() {
        let s = sessions();
        let (a, b) = (s.issue(1_000), s.issue(1_000));
        let session = s.verify(&a, 1_001).expect("valid");
        assert_eq!(s.revoke(&session, 1_001).await.expect("revoke"), Revoked::One);
        assert_eq!(s.verify(&a, 1_002), Err(TokenError::Revoked));
        assert!(s.verify(&b, 1_002).is_ok(), "another login's session goes on");
        assert!(s.verify(&s.issue(1_002), 1_003).is_ok(), "and so does a new one");
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_behind_https() {
        let s = sessions();
        let plain = s.cookie("t", &HeaderMap::new());
        assert_eq!(plain, "baton_session=t; Max-Age=43200; Path=/; HttpOnly; SameSite=Strict");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", "https".parse().expect("header"));
        assert!(s.cookie("t", &h).ends_with("; Secure"));
        assert!(clearing_cookie(&h).starts_with("baton_session=; Max-Age=0; Path=/; HttpOnly"));
        assert!(!format!("{s:?}").contains("key"));
    }

    #[test]
    fn the_home_s_key_is_drawn_once_and_kept_owner_only() {
        let home = std::env::temp_dir().join(format!("baton-session-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&home).expect("home");
        let a = Sessions::for_home(&home, "u", "p", SESSION_TTL).expect("key");
        let b = Sessions::for_home(&home, "u", "p", SESSION_TTL).expect("key again");
        let token = a.issue(10);
        assert!(b.verify(&token, 11).is_ok(), "the same key across restarts");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.join(KEY_FILE)).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&home);
    }
}

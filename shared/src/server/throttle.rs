//! Failed logins under basic auth, bounded (`baton server local`).
//!
//! A password guessed at the login page (`POST /auth/login`) or in an
//! `Authorization: Basic` header is counted twice: against the client's
//! address and against the user name. Each has a fixed window that starts
//! at its first failure ([`LoginLimits::window`]) and a number of failures
//! allowed in it: [`LoginLimits::failures`] per address, ten times as many
//! ([`PER_USER_FACTOR`]) for the configured user from all addresses
//! together, so one address's guesses never lock another address out
//! before the user's own bound. Past a bound every attempt of that address
//! (or for that user) is answered 429 with `Retry-After` until the window
//! ends, a right password included: a guesser learns nothing more. A valid
//! session cookie is no login attempt and still works.
//!
//! Only the configured user's name is counted per user (no other name can
//! log in, so there is nothing to protect and nothing for a guesser to
//! flood); an IPv6 client is counted by its /64, the block one host
//! usually holds. The addresses remembered are bounded
//! ([`MAX_TRACKED_CLIENTS`]): past it the oldest window is forgotten.
//! Behind a reverse proxy every client has the proxy's address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::serve::{LimitSettingError, read_setting};

/// The setting bounding failed logins per address and window.
pub const FAILURES_SETTING: &str = "BATON_SERVER_LOGIN_FAILURES";
/// The setting giving the window, in seconds.
pub const WINDOW_SETTING: &str = "BATON_SERVER_LOGIN_WINDOW_SECONDS";
/// Failed logins an address may make per window without [`FAILURES_SETTING`].
pub const LOGIN_FAILURES: u32 = 10;
/// The window without [`WINDOW_SETTING`].
pub const LOGIN_WINDOW: Duration = Duration::from_secs(900);
/// How many more failures the configured user gets, from every address
/// together, than one address.
pub const PER_USER_FACTOR: u32 = 10;
/// The addresses whose failures are remembered at once.
pub const MAX_TRACKED_CLIENTS: usize = 4096;
const MAX_FAILURES: u64 = 10_000;
const MAX_WINDOW_SECONDS: u64 = 86_400;

/// The bounds of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failed logins per address and window.
    pub failures: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        LoginLimits { failures: LOGIN_FAILURES, window: LOGIN_WINDOW }
    }
}

impl LoginLimits {
    /// These limits with the two settings `get` finds applied; a value out
    /// of range is an error naming the setting.
    pub fn with_settings(mut self, get: impl Fn(&str) -> Option<String>) -> Result<LoginLimits, LimitSettingError> {
        if let Some(n) = read_setting(&get, FAILURES_SETTING, 1, MAX_FAILURES, "failed logins")? {
            self.failures = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = read_setting(&get, WINDOW_SETTING, 1, MAX_WINDOW_SECONDS, "seconds")? {
            self.window = Duration::from_secs(n);
        }
        Ok(self)
    }

    fn per_user(&self) -> u32 {
        self.failures.saturating_mul(PER_USER_FACTOR)
    }
}

/// A login attempt refused before its password was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// When the window that refused it ends.
    pub retry_after: Duration,
    pub message: String,
}

impl IntoResponse for Throttled {
    fn into_response(self) -> Response {
        let seconds = self.retry_after.as_secs().max(1);
        let mut r = ApiError::new(StatusCode::TOO_MANY_REQUESTS, self.message).into_response();
        r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        r
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl Window {
    fn live(&self, window: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.start) < window
    }
}

#[derive(Debug, Default)]
struct Counts {
    clients: HashMap<IpAddr, Window>,
    /// The configured user's window (the only name counted).
    user: Option<Window>,
}

/// The failed logins of one server.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    limits: LoginLimits,
    counts: Mutex<Counts>,
}

/// The key an address is counted under: IPv4 (a mapped IPv6 one too), or
/// an IPv6 address's /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl LoginThrottle {
    pub fn new(limits: LoginLimits) -> LoginThrottle {
        LoginThrottle { limits, counts: Mutex::new(Counts::default()) }
    }

    /// Whether a login attempt from `client` (for the configured user when
    /// `user`) may be checked at `now`.
    pub fn admit(&self, client: IpAddr, user: bool, now: Instant) -> Result<(), Throttled> {
        let Ok(counts) = self.counts.lock() else { return Ok(()) };
        let window = self.limits.window;
        let refused = |w: &Window, bound: u32| {
            (w.live(window, now) && w.failures >= bound)
                .then(|| window.saturating_sub(now.saturating_duration_since(w.start)))
        };
        if let Some(retry_after) =
            counts.clients.get(&client_key(client)).and_then(|w| refused(w, self.limits.failures))
        {
            return Err(Throttled {
                retry_after,
                message: format!(
                    "too many failed logins from this address: {} in {} s ({FAILURES_SETTING}, {WINDOW_SETTING}); retry in {} s",
                    self.limits.failures,
                    window.as_secs(),
                    retry_after.as_secs().max(1)
                ),
            });
        }
        if let Some(retry_after) =
            counts.user.as_ref().filter(|_| user).and_then(|w| refused(w, self.limits.per_user()))
        {
            return Err(Throttled {
                retry_after,
                message: format!(
                    "too many failed logins for this user from all addresses: {} in {} s ({PER_USER_FACTOR} × {FAILURES_SETTING}); retry in {} s",
                    self.limits.per_user(),
                    window.as_secs(),
                    retry_after.as_secs().max(1)
                ),
            });
        }
        Ok(())
    }

    /// Counts a failed login from `client` (for the configured user when `user`).
    pub fn failed(&self, client: IpAddr, user: bool, now: Instant) {
        let Ok(mut counts) = self.counts.lock() else { return };
        let window = self.limits.window;
        let bump = |w: &mut Window| {
            if !w.live(window, now) {
                *w = Window { start: now, failures: 0 };
            }
            w.failures = w.failures.saturating_add(1);
        };
        let key = client_key(client);
        if !counts.clients.contains_key(&key) && counts.clients.len() >= MAX_TRACKED_CLIENTS {
            counts.clients.retain(|_, w| w.live(window, now));
            if counts.clients.len() >= MAX_TRACKED_CLIENTS {
                let oldest = counts.clients.iter().min_by_key(|(_, w)| w.start).map(|(k, _)| *k);
                if let Some(k) = oldest {
                    counts.clients.remove(&k);
                    tracing::warn!(
                        bound = "MAX_TRACKED_CLIENTS",
                        limit = MAX_TRACKED_CLIENTS,
                        "failed logins from too many addresses: the oldest window is forgotten"
                    );
                }
            }
        }
        bump(counts.clients.entry(key).or_insert(Window { start: now, failures: 0 }));
        if user {
            bump(counts.user.get_or_insert(Window { start: now, failures: 0 }));
        }
        tracing::warn!(client = %client, "login refused");
    }

    /// Addresses remembered (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.clients.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    #[test]
    fn an_address_past_its_bound_waits_for_the_window_and_others_do_not() {
        let t = LoginThrottle::new(LoginLimits { failures: 3, window: Duration::from_secs(60) });
        let start = Instant::now();
        for _ in 0..3 {
            assert!(t.admit(ip(1), true, start).is_ok());
            t.failed(ip(1), true, start);
        }
        let refused = t.admit(ip(1), true, start + Duration::from_secs(20)).expect_err("past the bound");
        assert_eq!(refused.retry_after, Duration::from_secs(40));
        assert!(refused.message.contains(FAILURES_SETTING) && refused.message.contains("3 in 60 s"), "{refused:?}");
        let r = refused.into_response();
        assert_eq!(
            (r.status(), r.headers()[header::RETRY_AFTER].to_str().ok()),
            (StatusCode::TOO_MANY_REQUESTS, Some("40"))
        );
        // another address, for the same user: below the user's bound (30)
        assert!(t.admit(ip(2), true, start).is_ok());
        // the window ends: the address may try again, and its count restarts
        let later = start + Duration::from_secs(60);
        assert!(t.admit(ip(1), true, later).is_ok());
        t.failed(ip(1), true, later);
        assert!(t.admit(ip(1), true, later).is_ok());
    }

    #[test]
    fn the_user_s_bound_holds_across_addresses_and_other_names_only_count_per_address() {
        let t = LoginThrottle::new(LoginLimits { failures: 2, window: Duration::from_secs(60) });
        let now = Instant::now();
        for i in 0..20u8 {
            t.failed(ip(i), true, now);
        }
        let refused = t.admit(ip(200), true, now).expect_err("20 failures for the user");
        assert!(refused.message.contains("for this user") && refused.message.contains("20 in 60 s"), "{refused:?}");
        // a name no account has is not the user's: its address's bound only
        assert!(t.admit(ip(200), false, now).is_ok());
        let t = LoginThrottle::new(LoginLimits { failures: 2, window: Duration::from_secs(60) });
        for _ in 0..5 {
            t.failed(ip(1), false, now);
        }
        assert!(t.admit(ip(2), true, now).is_ok(), "other names never lock the user out");
    }

    #[test]
    fn an_ipv6_host_is_one_client_and_the_addresses_remembered_are_bounded() {
        let t = LoginThrottle::new(LoginLimits { failures: 1, window: Duration::from_secs(60) });
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        t.failed(a, false, now);
        assert!(t.admit(b, false, now).is_err(), "the same /64");
        assert!(t.admit("2001:db8:1:3::1".parse().expect("ip"), false, now).is_ok());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        t.failed(ip(1), false, now);
        assert!(t.admit(mapped, false, now).is_err(), "a mapped IPv4 address is that address");
        for i in 0..(MAX_TRACKED_CLIENTS as u32 + 10) {
            t.failed(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i)), false, now + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(t.tracked(), MAX_TRACKED_CLIENTS);
    }

    #[test]
    fn the_settings_change_the_bounds_and_a_bad_one_is_named() {
        let get = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let l = LoginLimits::default().with_settings(get(&[(FAILURES_SETTING, "5"), (WINDOW_SETTING, "30")]));
        assert_eq!(l.ok(), Some(LoginLimits { failures: 5, window: Duration::from_secs(30) }));
        let e = LoginLimits::default().with_settings(get(&[(FAILURES_SETTING, "0")])).expect_err("0");
        assert!(e.to_string().contains(FAILURES_SETTING), "{e}");
        let e = LoginLimits::default().with_settings(get(&[(WINDOW_SETTING, "1d")])).expect_err("1d");
        assert!(e.to_string().contains(WINDOW_SETTING), "{e}");
    }
}

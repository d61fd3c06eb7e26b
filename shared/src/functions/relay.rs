//! [`PushRelay`]: a stand-in for Pub/Sub push, for running the functions
//! without Google (`BATON_BACKEND=local` with `BATON_RELAY`) and for tests.
//! It is a [`Queue`]: each published message is POSTed as a real push
//! envelope to the URL routed for its topic; a non-2xx answer or a failed
//! connection is redelivered after `retry_after` with `deliveryAttempt`
//! incremented, like a subscription with a retry policy.
//!
//! To prove at-least-once handling it can also misbehave on purpose:
//! deliver every message twice (concurrently or one late copy), and shuffle
//! what is pending so messages arrive out of order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Notify;

use super::envelope::PushEnvelope;
use crate::backend::{BackendError, Queue, Topic};

/// How the relay delivers.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Deliver every message twice.
    pub duplicate: bool,
    /// Shuffle pending messages with this seed before delivering them.
    pub shuffle_seed: Option<u64>,
    /// Wait this long after a publish before delivering, so that more
    /// messages pile up and shuffling reorders more (zero: deliver at once).
    pub gather: Duration,
    /// Delay before redelivering a message that was not acked.
    pub retry_after: Duration,
    /// A bearer token sent with every push (an OIDC token in tests).
    pub bearer: Option<String>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            duplicate: false,
            shuffle_seed: None,
            gather: Duration::ZERO,
            retry_after: Duration::from_millis(200),
            bearer: None,
        }
    }
}

/// Counters of what the relay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    pub published: u64,
    /// Push requests made (including duplicates and redeliveries).
    pub pushed: u64,
    pub acked: u64,
    /// Answered non-2xx or failed: redelivered.
    pub nacked: u64,
    /// Published on a topic with no route: dropped.
    pub dropped: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    topic: String,
    id: String,
    data: Arc<Vec<u8>>,
    publish_time: chrono::DateTime<Utc>,
    attempt: u32,
}

struct Inner {
    routes: Mutex<HashMap<String, String>>,
    pending: Mutex<VecDeque<Pending>>,
    in_flight: AtomicU64,
    wake: Notify,
    idle: Notify,
    opts: RelayOptions,
    http: reqwest::Client,
    next_id: AtomicU64,
    rng: Mutex<u64>,
    stats: Mutex<RelayStats>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Delivers published messages as push requests. Cheap to clone.
#[derive(Clone)]
pub struct PushRelay {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PushRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushRelay").field("routes", &*lock(&self.inner.routes)).finish_non_exhaustive()
    }
}

impl PushRelay {
    /// A relay routing topic names (`baton-executions`…) to push URLs; starts
    /// its delivery loop on the current tokio runtime.
    pub fn start(routes: HashMap<String, String>, opts: RelayOptions) -> PushRelay {
        let seed = opts.shuffle_seed.unwrap_or(0x9E37_79B9_7F4A_7C15) | 1;
        let inner = Arc::new(Inner {
            routes: Mutex::new(routes),
            pending: Mutex::new(VecDeque::new()),
            in_flight: AtomicU64::new(0),
            wake: Notify::new(),
            idle: Notify::new(),
            opts,
            http: reqwest::Client::new(),
            next_id: AtomicU64::new(1),
            rng: Mutex::new(seed),
            stats: Mutex::new(RelayStats::default()),
        });
        let looping = inner.clone();
        tokio::spawn(async move {
            let inner = looping;
            loop {
                let batch: Vec<Pending> = {
                    let mut p = lock(&inner.pending);
                    let mut batch: Vec<Pending> = p.drain(..).collect();
                    if inner.opts.shuffle_seed.is_some() {
                        shuffle(&mut batch, &mut lock(&inner.rng));
                    }
                    // counted before the queue looks empty, so `idle` cannot slip through
                    inner.in_flight.fetch_add(batch.len() as u64, Ordering::SeqCst);
                    batch
                };
                if batch.is_empty() {
                    inner.idle.notify_waiters();
                    if Arc::strong_count(&inner) == 1 {
                        break; // every handle is gone
                    }
                    // `notify_one` keeps a permit, so no wake-up is lost
                    let _ = tokio::time::timeout(Duration::from_secs(1), inner.wake.notified()).await;
                    continue;
                }
                for msg in batch {
                    tokio::spawn(deliver(inner.clone(), msg));
                }
            }
        });
        PushRelay { inner }
    }

    /// Routes `topic` (a topic name) to `url`, replacing any route.
    pub fn route(&self, topic: &str, url: &str) {
        lock(&self.inner.routes).insert(topic.to_string(), url.to_string());
    }

    /// What the relay did so far.
    pub fn stats(&self) -> RelayStats {
        *lock(&self.inner.stats)
    }

    /// Waits until nothing is pending or being delivered.
    pub async fn idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if lock(&self.inner.pending).is_empty() && self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            self.inner.wake.notify_one();
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    fn enqueue(&self, msg: Pending) {
        lock(&self.inner.pending).push_back(msg);
    }
}

/// Parses `topic=url,topic=url` (the `BATON_RELAY` variable).
pub fn parse_routes(spec: &str) -> Result<HashMap<String, String>, String> {
    let mut routes = HashMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (topic, url) = part.split_once('=').ok_or_else(|| format!("relay route '{part}' is not topic=url"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("relay route '{part}': '{url}' is not an http(s) URL"));
        }
        routes.insert(topic.trim().to_string(), url.trim().to_string());
    }
    Ok(routes)
}

fn next_random(state: &mut u64) -> u64 {
    // xorshift64*
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn shuffle<T>(v: &mut [T], rng: &mut u64) {
    for i in (1..v.len()).rev() {
        let j = (next_random(rng) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

async fn deliver(inner: Arc<Inner>, msg: Pending) {
    let url = lock(&inner.routes).get(&msg.topic).cloned();
    let Some(url) = url else {
        lock(&inner.stats).dropped += 1;
        tracing::warn!(topic = %msg.topic, "relay: no route for topic, message dropped");
        finish(&inner);
        return;
    };
    let attributes = BTreeMap::from([("baton-topic".to_string(), msg.topic.clone())]);
    let subscription = format!("projects/local/subscriptions/{}-push", msg.topic);
    let env = PushEnvelope::wrap(&msg.data, attributes, &msg.id, msg.publish_time, &subscription, Some(msg.attempt));
    let mut req = inner.http.post(&url).json(&env);
    if let Some(token) = &inner.opts.bearer {
        req = req.bearer_auth(token);
    }
    lock(&inner.stats).pushed += 1;
    let acked = match req.send().await {
        Ok(resp) => resp.status().is_success(),
        Err(e) => {
            tracing::debug!(topic = %msg.topic, error = %e, "relay: push failed");
            false
        }
    };
    if acked {
        lock(&inner.stats).acked += 1;
    } else {
        lock(&inner.stats).nacked += 1;
        let retry = inner.opts.retry_after;
        let again = Pending { attempt: msg.attempt + 1, ..msg };
        let inner2 = inner.clone();
        // still in flight while it waits to be redelivered
        inner.in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            tokio::time::sleep(retry).await;
            lock(&inner2.pending).push_back(again);
            inner2.in_flight.fetch_sub(1, Ordering::SeqCst);
            inner2.wake.notify_one();
        });
    }
    finish(&inner);
}

fn finish(inner: &Inner) {
    inner.in_flight.fetch_sub(1, Ordering::SeqCst);
    inner.wake.notify_one();
}

#[async_trait]
impl Queue for PushRelay {
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<(), BackendError> {
        let inner = &self.inner;
        let msg = Pending {
            topic: topic.name(),
            id: inner.next_id.fetch_add(1, Ordering::Relaxed).to_string(),
            data: Arc::new(payload),
            publish_time: Utc::now(),
            attempt: 1,
        };
        lock(&inner.stats).published += 1;
        if inner.opts.duplicate {
            self.enqueue(msg.clone());
        }
        self.enqueue(msg);
        if inner.opts.gather.is_zero() {
            inner.wake.notify_one();
        } else {
            let inner = self.inner.clone();
            inner.in_flight.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                tokio::time::sleep(inner.opts.gather).await;
                inner.in_flight.fetch_sub(1, Ordering::SeqCst);
                inner.wake.notify_one();
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        let r = parse_routes("baton-executions=http://127.0.0.1:8081/, baton-tasks-core=http://127.0.0.1:8082/")
            .expect("routes");
        assert_eq!(r["baton-tasks-core"], "http://127.0.0.1:8082/");
        assert!(parse_routes("baton-executions").is_err());
        assert!(parse_routes("a=ftp://x").is_err());
        assert!(parse_routes("").expect("empty").is_empty());
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<u32> = (0..50).collect();
        let mut rng = 7u64;
        shuffle(&mut v, &mut rng);
        assert_ne!(v, (0..50).collect::<Vec<_>>(), "reordered");
        v.sort();
        assert_eq!(v, (0..50).collect::<Vec<_>>());
    }
}

//! What one HTTP listener keeps of its connections (`serve`), so that slow
//! clients can not hold the connection cap against a normal one.
//!
//! - **Minimum body rate.** A request body must arrive at
//!   [`MIN_BODY_RATE`] bytes a second on average once [`BODY_GRACE`] has
//!   passed (a body of `n` bytes is due by `BODY_GRACE + n / MIN_BODY_RATE`
//!   after its first read): past it the read fails naming the bound, the
//!   handler answers its error and the connection closes.
//! - **Per-client and total caps, with eviction.** At most
//!   [`super::serve::ServeLimits::max_per_client`] connections from one IP
//!   address and `max_connections` in all. A connection past a cap takes
//!   the place of the connection that has waited longest on its client —
//!   idle between requests, or reading a body slower than the minimum rate
//!   — of the same address for the per-client cap, of any for the total;
//!   a connection whose request is being handled (its body read at a fair
//!   rate, or its response being written) is never evicted. When no
//!   connection waits, the new one is closed at once. Either way the
//!   listener never stops accepting, so a normal client is answered while
//!   thousands of slow ones come and go.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::Notify;

/// Bytes a second a request body must average once [`BODY_GRACE`] has
/// passed (1 KiB/s).
pub const MIN_BODY_RATE: u64 = 1024;
/// How long a request body may take before the minimum rate applies (10 s).
pub const BODY_GRACE: Duration = Duration::from_secs(10);

/// The body rate bound of one listener (the constants in production).
#[derive(Debug, Clone, Copy)]
pub struct BodyRate {
    pub min_bytes_per_sec: u64,
    pub grace: Duration,
}

impl Default for BodyRate {
    fn default() -> BodyRate {
        BodyRate { min_bytes_per_sec: MIN_BODY_RATE, grace: BODY_GRACE }
    }
}

/// One connection as the table sees it.
pub struct Slot {
    id: u64,
    ip: IpAddr,
    /// Milliseconds (since the table's start, plus one) since the server
    /// has waited on the client: idle between requests or reading a body;
    /// 0 while a request is handled.
    waiting_since: AtomicU64,
    /// A body being read: its start (as above; 0: none) and bytes so far.
    body_start: AtomicU64,
    body_bytes: AtomicU64,
    /// Woken to close the connection.
    pub evicted: Notify,
    epoch: Instant,
}

impl Slot {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }
    fn waiting(&self) {
        let now = self.now();
        let _ = self.waiting_since.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
    }
    fn working(&self) {
        self.waiting_since.store(0, Ordering::SeqCst);
    }
    /// Since when it may be evicted: idle, or reading a body below `rate`.
    fn evictable_since(&self, rate: &BodyRate) -> Option<u64> {
        let since = self.waiting_since.load(Ordering::SeqCst);
        if since == 0 {
            return None;
        }
        let start = self.body_start.load(Ordering::SeqCst);
        if start != 0 {
            let secs = (self.now().saturating_sub(start)) as f64 / 1000.0;
            let bytes = self.body_bytes.load(Ordering::SeqCst) as f64;
            // a body younger than a second is judged as if it were one
            if bytes / secs.max(1.0) >= rate.min_bytes_per_sec as f64 {
                return None;
            }
        }
        Some(since)
    }
}

/// The open connections of one listener.
pub struct Table {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next: AtomicU64,
    epoch: Instant,
    max_total: usize,
    max_per_client: usize,
    rate: BodyRate,
}

impl Table {
    pub fn new(max_total: usize, max_per_client: usize, rate: BodyRate) -> Table {
        Table {
            slots: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            epoch: Instant::now(),
            max_total: max_total.max(1),
            max_per_client: max_per_client.max(1),
            rate,
        }
    }

    /// A slot for a new connection from `ip`, evicting a waiting one when
    /// a cap is reached; `None` when every connection in the way is busy.
    pub fn admit(&self, ip: IpAddr) -> Option<Arc<Slot>> {
        let mut slots = self.slots.lock().ok()?;
        let mine = slots.values().filter(|s| s.ip == ip).count();
        let over = if mine >= self.max_per_client {
            Some(true)
        } else if slots.len() >= self.max_total {
            Some(false)
        } else {
            None
        };
        if let Some(same_client) = over {
            let victim = slots
                .values()
                .filter(|s| !same_client || s.ip == ip)
                .filter_map(|s| s.evictable_since(&self.rate).map(|t| (t, s.id)))
                .min()
                .map(|(_, id)| id)?;
            if let Some(v) = slots.remove(&victim) {
                v.evicted.notify_one();
            }
        }
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let slot = Arc::new(Slot {
            id,
            ip,
            waiting_since: AtomicU64::new(0),
            body_start: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            evicted: Notify::new(),
            epoch: self.epoch,
        });
        slot.waiting();
        slots.insert(id, slot.clone());
        Some(slot)
    }

    /// Forgets a closed connection.
    pub fn remove(&self, slot: &Slot) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(&slot.id);
        }
    }

    /// Connections open.
    pub fn len(&self) -> usize {
        self.slots.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// True with no connection open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The router as one connection serves it: request bodies under the
/// minimum rate, the slot told when a request is handled and when its
/// response is written.
#[derive(Clone)]
pub struct Guarded {
    pub router: Router,
    /// The client, given to the handlers as axum's `ConnectInfo`.
    pub peer: std::net::SocketAddr,
    pub slot: Arc<Slot>,
    pub rate: BodyRate,
}

impl<B> tower_service::Service<Request<B>> for Guarded
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.slot.working();
        let (slot, rate) = (self.slot.clone(), self.rate);
        let mut req = req.map(|b| Body::new(RateBody::new(Body::new(b), slot.clone(), rate)));
        req.extensions_mut().insert(axum::extract::ConnectInfo(self.peer));
        let fut = tower_service::Service::call(&mut self.router.clone(), req);
        Box::pin(async move {
            let res = fut.await?;
            Ok(res.map(|b| Body::new(Tracked { inner: b, slot })))
        })
    }
}

/// A response body; the connection waits on its client again once it is
/// written (dropped).
struct Tracked {
    inner: Body,
    slot: Arc<Slot>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.slot.waiting();
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails once it falls under the minimum rate.
struct RateBody {
    inner: Body,
    slot: Arc<Slot>,
    rate: BodyRate,
    started: Option<Instant>,
    bytes: u64,
    timer: Pin<Box<tokio::time::Sleep>>,
    ended: bool,
}

impl RateBody {
    fn new(inner: Body, slot: Arc<Slot>, rate: BodyRate) -> RateBody {
        let timer = Box::pin(tokio::time::sleep(rate.grace));
        RateBody { inner, slot, rate, started: None, bytes: 0, timer, ended: false }
    }

    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            self.slot.body_start.store(0, Ordering::SeqCst);
            self.slot.working();
        }
    }

    fn too_slow(&self) -> axum::Error {
        axum::Error::new(format!(
            "the request body arrived slower than {} bytes a second after {} s (MIN_BODY_RATE, BODY_GRACE): \
             {} bytes in {} s",
            self.rate.min_bytes_per_sec,
            self.rate.grace.as_secs(),
            self.bytes,
            self.started.map(|s| s.elapsed().as_secs()).unwrap_or(0)
        ))
    }
}

impl Drop for RateBody {
    fn drop(&mut self) {
        self.end();
    }
}

impl http_body::Body for RateBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let started = *this.started.get_or_insert_with(|| {
            this.slot.body_start.store(this.slot.now(), Ordering::SeqCst);
            this.slot.body_bytes.store(0, Ordering::SeqCst);
            this.slot.waiting();
            Instant::now()
        });
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes += d.len() as u64;
                    this.slot.body_bytes.store(this.bytes, Ordering::SeqCst);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.end();
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.end();
                Poll::Ready(None)
            }
            Poll::Pending => {
                let due = this.rate.grace
                    + Duration::from_secs_f64(this.bytes as f64 / this.rate.min_bytes_per_sec.max(1) as f64);
                let deadline = started + due;
                if Instant::now() >= deadline {
                    let e = this.too_slow();
                    this.end();
                    return Poll::Ready(Some(Err(e)));
                }
                this.timer.as_mut().reset(tokio::time::Instant::from_std(deadline));
                if this.timer.as_mut().poll(cx).is_ready() {
                    let e = this.too_slow();
                    this.end();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

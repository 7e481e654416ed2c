//! The accept loop: HTTP/1.1 and HTTP/2 (prior knowledge) connections served by hyper
//! with the limits `axum::serve` lacks (docs/API-DESIGN.md, "Limits"):
//!
//! - **header-read timeout**: a connection that has sent part of a request head but not
//!   all of it within this time is closed (a trickled header cannot hold a socket);
//! - **idle timeout**: a connection with no request in flight and no byte received for
//!   this time is closed (also between keep-alive requests);
//! - **connection cap**: at most this many connections are served at once. When a new
//!   client arrives at the cap, the longest-idle connection is shed (closed) to make
//!   room, as nginx reuses idle keep-alive connections; if none is idle the new client
//!   waits (in the kernel's listen backlog, not in a file descriptor) until one ends.
//!   So N+k idle sockets never stop a fresh client from being answered.
//!
//! The request timeout (408) is a tower layer of the router ([`crate::router`]).
//!
//! Each connection has a small [`Activity`] record: its IO wrapper notes when the first
//! byte of a request head arrives, the service notes when a request starts and when its
//! response body is done, and a watchdog future closes the connection (drops it) when a
//! deadline passes. On shutdown the loop stops accepting, asks every connection to finish
//! gracefully (in-flight requests complete, idle ones close) and waits up to
//! [`ConnLimits::shutdown_grace`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tower::ServiceExt;

/// Connection limits of the server (the flags `--header-read-timeout`, `--idle-timeout`,
/// `--max-connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

/// Defaults: a head within 10 s, 60 s idle, 512 connections (half the usual 1,024 file
/// limit: the database, logs and photo files need descriptors too). Invented defaults,
/// in line with common servers (nginx: 60 s header, 75 s keep-alive).
impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// "Not set" for the millisecond fields of [`Activity`].
const NONE: u64 = u64::MAX;
/// While a request is in flight the watchdog looks again this often.
const BUSY_RECHECK: Duration = Duration::from_secs(1);
/// At the cap, how often the loop tries again to shed an idle connection.
const SHED_RETRY: Duration = Duration::from_millis(200);

/// What the watchdog of one connection knows.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// When the connection last became idle (ms since `epoch`).
    idle_since: AtomicU64,
    /// When the first byte of the next request head arrived, or [`NONE`].
    head_since: AtomicU64,
    shed: Notify,
    /// Wakes the watchdog when a request head starts (its deadline moved closer).
    wake: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            shed: Notify::new(),
            wake: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since.load(Ordering::Acquire) == NONE
        {
            self.head_since.store(self.now_ms(), Ordering::Release);
            self.wake.notify_one();
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Release);
        InFlight(self.clone())
    }

    /// Idle: nothing in flight and no request head started; since when.
    fn idle_for(&self) -> Option<u64> {
        (self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since.load(Ordering::Acquire) == NONE)
            .then(|| {
                self.now_ms()
                    .saturating_sub(self.idle_since.load(Ordering::Acquire))
            })
    }
}

/// A request in flight; dropped when its response body is done (or abandoned).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since.store(a.now_ms(), Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a connection was closed by the server.
#[derive(Debug, Clone, Copy)]
enum Closed {
    Idle,
    HeaderTimeout,
    Shed,
}

/// Resolves when the connection must be closed.
async fn watchdog(act: Arc<Activity>, limits: ConnLimits) -> Closed {
    let header_ms = u64::try_from(limits.header_read_timeout.as_millis()).unwrap_or(NONE - 1);
    let idle_ms = u64::try_from(limits.idle_timeout.as_millis()).unwrap_or(NONE - 1);
    loop {
        let now = act.now_ms();
        let wait = if act.in_flight.load(Ordering::Acquire) > 0 {
            BUSY_RECHECK
        } else {
            let head = act.head_since.load(Ordering::Acquire);
            let (deadline, why) = if head != NONE {
                (head.saturating_add(header_ms), Closed::HeaderTimeout)
            } else {
                (
                    act.idle_since
                        .load(Ordering::Acquire)
                        .saturating_add(idle_ms),
                    Closed::Idle,
                )
            };
            if deadline <= now {
                return why;
            }
            Duration::from_millis(deadline - now)
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = act.wake.notified() => {}
            _ = act.shed.notified() => {
                if act.idle_for().is_some() {
                    return Closed::Shed;
                }
            }
        }
    }
}

/// The live connections, for shedding at the cap.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Registry {
    fn add(&self, act: Arc<Activity>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, act);
        id
    }

    fn remove(&self, id: u64) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Asks the longest-idle connection to close; false if none is idle.
    fn shed_one(&self) -> bool {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let victim = live
            .values()
            .filter_map(|a| a.idle_for().map(|d| (d, a)))
            .max_by_key(|(d, _)| *d);
        match victim {
            Some((_, a)) => {
                a.shed.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The socket, noting when request bytes arrive.
struct Tracked<T> {
    inner: T,
    act: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.act.bytes_read();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that ends its request's [`InFlight`] when it is done or dropped.
struct TrackedBody {
    inner: Body,
    guard: Option<InFlight>,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(r, Poll::Ready(None)) {
            self.guard = None;
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The watchdog times the head (hyper's own timer would also count idle time).
        .header_read_timeout(None)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100);
    let builder = Arc::new(builder);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full = false;
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a
                    // little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let permit = loop {
            if let Ok(p) = slots.clone().try_acquire_owned() {
                break Some(p);
            }
            if !warned_full {
                tracing::warn!(max, "connection cap reached; shedding idle connections");
                warned_full = true;
            }
            registry.shed_one();
            tokio::select! {
                p = slots.clone().acquire_owned() => break p.ok(),
                _ = tokio::time::sleep(SHED_RETRY) => {}
                _ = &mut shutdown => break None,
            }
        };
        let Some(permit) = permit else { break };
        let _ = tcp.set_nodelay(true);
        let act = Arc::new(Activity::new());
        let id = registry.add(act.clone());
        let (builder, registry, app, mut stop) = (
            builder.clone(),
            registry.clone(),
            app.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            let service = {
                let act = act.clone();
                hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let guard = act.begin();
                    let mut req = req.map(Body::new);
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let app = app.clone();
                    async move {
                        let resp = app.oneshot(req).await?;
                        Ok::<_, std::convert::Infallible>(resp.map(|inner| TrackedBody {
                            inner,
                            guard: Some(guard),
                        }))
                    }
                })
            };
            let io = TokioIo::new(Tracked {
                inner: tcp,
                act: act.clone(),
            });
            let conn = builder.serve_connection(io, service);
            let mut conn = std::pin::pin!(conn);
            let mut dog = std::pin::pin!(watchdog(act, limits));
            let mut stopping = *stop.borrow();
            if stopping {
                conn.as_mut().graceful_shutdown();
            }
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    why = &mut dog => {
                        tracing::debug!(%peer, reason = ?why, "connection closed by the server");
                        break;
                    }
                    changed = stop.changed(), if !stopping => {
                        stopping = true;
                        if changed.is_ok() {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            registry.remove(id);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown: some connections were still busy after the grace period");
    }
    Ok(())
}

/// `<n><ms|s|m|h>` for the duration flags; above zero.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = cityloop_domain::webhook::parse_duration(s.trim())?;
    if d.is_zero() {
        return Err(format!("{s:?}: must be above zero"));
    }
    Ok(d)
}

//! The workload abstraction: what to send and how to judge the answer.
//!
//! A workload produces *payloads* (expensive: signing happens here, before the timed phase or
//! in a producer thread), turns a payload into a request (cheap: reference-count bumps), and
//! checks each response. Adding a new service benchmark (Fulcio issuance, TSA timestamps) means
//! implementing this trait; the runner, statistics and report are shared.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, Mutex};

use crate::http::{Req, Resp};
use crate::util::SplitMix64;

/// The verdict on one response.
#[derive(Debug)]
pub enum Check {
    /// The expected success status; `verified` is true if the content was fully checked.
    Ok { verified: bool },
    /// An unexpected HTTP status (counted per status code).
    Status,
    /// The expected status but the content failed verification.
    Invalid(String),
}

pub trait Workload: Send + Sync + 'static {
    /// Short name used in reports (`rekor-write`, ...).
    fn name(&self) -> &'static str;

    /// Appends payload number `i` to `out`. Payloads must be distinct where the service
    /// deduplicates. The default is an empty payload (for workloads that need none).
    fn generate(&self, _i: u64, _out: &mut BytesMut) {}

    /// Builds the request for a payload. Called on the hot path: keep it cheap.
    fn request(&self, payload: &Bytes, rng: &mut SplitMix64) -> Req;

    /// Judges a response. `verify` asks for the expensive content checks.
    fn check(&self, req: &Req, resp: &Resp, verify: bool) -> Check;
}

/// Where connections take their next payload from.
pub enum Source {
    /// Pre-generated payloads, handed out once each; `None` when exhausted.
    Pool {
        items: Vec<Bytes>,
        next: AtomicUsize,
    },
    /// Payloads streamed from producer threads (bulk fill); `None` when they are done.
    Stream(Mutex<mpsc::Receiver<Bytes>>),
    /// No payload needed: the request is built from the RNG alone (reads).
    Unlimited,
}

impl Source {
    pub async fn next(&self) -> Option<Bytes> {
        match self {
            Source::Pool { items, next } => {
                items.get(next.fetch_add(1, Ordering::Relaxed)).cloned()
            }
            Source::Stream(rx) => rx.lock().await.recv().await,
            Source::Unlimited => Some(Bytes::new()),
        }
    }

    /// Payloads handed out so far (for the pool; 0 otherwise).
    pub fn used(&self) -> usize {
        match self {
            Source::Pool { items, next } => next.load(Ordering::Relaxed).min(items.len()),
            _ => 0,
        }
    }
}

/// Generates `n` payloads in parallel on `threads` OS threads. Each thread writes into one
/// contiguous buffer and the payloads are slices of it (no allocation per payload).
pub fn pregenerate(workload: &Arc<dyn Workload>, n: usize, threads: usize) -> Vec<Bytes> {
    let threads = threads.max(1).min(n.max(1));
    let per = n.div_ceil(threads);
    let chunks: Vec<Vec<Bytes>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let w = workload.clone();
                s.spawn(move || {
                    let lo = t * per;
                    let hi = ((t + 1) * per).min(n);
                    generate_range(&*w, lo as u64, hi as u64)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("generator thread panicked"))
            .collect()
    });
    chunks.into_iter().flatten().collect()
}

fn generate_range(w: &dyn Workload, lo: u64, hi: u64) -> Vec<Bytes> {
    if hi <= lo {
        return Vec::new();
    }
    let mut buf = BytesMut::with_capacity(((hi - lo) as usize).saturating_mul(640));
    let mut ends = Vec::with_capacity((hi - lo) as usize);
    for i in lo..hi {
        w.generate(i, &mut buf);
        ends.push(buf.len());
    }
    let all = buf.freeze();
    let mut start = 0;
    ends.into_iter()
        .map(|end| {
            let b = all.slice(start..end);
            start = end;
            b
        })
        .collect()
}

/// Starts `threads` producer threads generating `n` payloads into a bounded channel.
pub fn stream(workload: Arc<dyn Workload>, n: u64, threads: usize) -> mpsc::Receiver<Bytes> {
    const BATCH: u64 = 1024;
    let (tx, rx) = mpsc::channel::<Bytes>(16 * 1024);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..threads.max(1) {
        let (tx, w, next) = (tx.clone(), workload.clone(), next.clone());
        std::thread::spawn(move || loop {
            let lo = next.fetch_add(BATCH, Ordering::Relaxed);
            if lo >= n {
                return;
            }
            for b in generate_range(&*w, lo, (lo + BATCH).min(n)) {
                if tx.blocking_send(b).is_err() {
                    return;
                }
            }
        });
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    struct Counter;
    impl Workload for Counter {
        fn name(&self) -> &'static str {
            "counter"
        }
        fn generate(&self, i: u64, out: &mut BytesMut) {
            use std::fmt::Write;
            write!(out, "{i};").unwrap();
        }
        fn request(&self, payload: &Bytes, _: &mut SplitMix64) -> Req {
            Req {
                method: Method::POST,
                uri: "/".parse().unwrap(),
                body: payload.clone(),
                tag: 0,
            }
        }
        fn check(&self, _: &Req, _: &Resp, _: bool) -> Check {
            Check::Ok { verified: false }
        }
    }

    #[test]
    fn pregenerate_in_order_and_distinct() {
        let w: Arc<dyn Workload> = Arc::new(Counter);
        for (n, threads) in [(0, 2), (1, 4), (10, 3), (1000, 2)] {
            let items = pregenerate(&w, n, threads);
            assert_eq!(items.len(), n);
            for (i, b) in items.iter().enumerate() {
                assert_eq!(&b[..], format!("{i};").as_bytes());
            }
        }
    }

    #[test]
    fn stream_delivers_everything() {
        let w: Arc<dyn Workload> = Arc::new(Counter);
        let mut rx = stream(w, 5000, 2);
        let mut seen = std::collections::HashSet::new();
        while let Some(b) = rx.blocking_recv() {
            assert!(seen.insert(b));
        }
        assert_eq!(seen.len(), 5000);
    }
}

//! Drives N keep-alive connections through a workload: closed loop (each connection sends as
//! fast as it gets answers), open loop (a fixed schedule; latency counted from the intended
//! send time, so a stalled server cannot hide its stalls: no coordinated omission), or drain
//! (send everything the source yields, as fast as possible).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::http::{Conn, Req, Resp, Target, TransportError};
use crate::stats::{Sample, Stats};
use crate::util::SplitMix64;
use crate::workload::{Check, Source, Workload};

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Closed { duration: Duration },
    Open { rate: f64, duration: Duration },
    Drain,
}

impl Mode {
    pub fn label(&self) -> &'static str {
        match self {
            Mode::Closed { .. } => "closed-loop",
            Mode::Open { .. } => "open-loop",
            Mode::Drain => "fill",
        }
    }

    /// Open loop: number of scheduled requests.
    pub fn scheduled(&self) -> u64 {
        match *self {
            Mode::Open { rate, duration } => (rate * duration.as_secs_f64()).round() as u64,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Print a line every interval.
    Interval(Duration),
    /// Print a line each time this many more requests succeeded.
    Every(u64),
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub connections: usize,
    pub mode: Mode,
    pub verify: bool,
    pub timeout: Duration,
    pub record_latency: bool,
    pub progress: Progress,
    /// Expected number of requests, to size the latency buffers up front.
    pub expected: usize,
}

pub struct RunResult {
    pub stats: Stats,
    pub elapsed: Duration,
    /// When the payload source ran dry, if it did before the end.
    pub exhausted_at: Option<Duration>,
}

/// An open-loop send is "late" when it starts this much after its scheduled time.
pub const LATE: Duration = Duration::from_millis(5);

struct Shared {
    start: Instant,
    slot: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
    exhausted_ns: AtomicU64,
    done: AtomicBool,
}

pub async fn run(
    target: Arc<Target>,
    workload: Arc<dyn Workload>,
    source: Arc<Source>,
    cfg: RunConfig,
) -> RunResult {
    let cfg = Arc::new(cfg);
    let shared = Arc::new(Shared {
        start: Instant::now(),
        slot: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        exhausted_ns: AtomicU64::new(u64::MAX),
        done: AtomicBool::new(false),
    });
    let progress = tokio::spawn(progress_task(shared.clone(), cfg.progress));
    let handles: Vec<_> = (0..cfg.connections.max(1))
        .map(|_| {
            tokio::spawn(conn_task(
                target.clone(),
                workload.clone(),
                source.clone(),
                shared.clone(),
                cfg.clone(),
            ))
        })
        .collect();
    let mut stats = Stats::with_capacity(cfg.expected);
    for h in handles {
        stats.merge(h.await.expect("connection task panicked"));
    }
    let elapsed = shared.start.elapsed();
    shared.done.store(true, Ordering::Relaxed);
    progress.abort();
    let ex = shared.exhausted_ns.load(Ordering::Relaxed);
    RunResult {
        stats,
        elapsed,
        exhausted_at: (ex != u64::MAX && !matches!(cfg.mode, Mode::Drain))
            .then(|| Duration::from_nanos(ex)),
    }
}

async fn progress_task(shared: Arc<Shared>, progress: Progress) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last_t = shared.start;
    let mut last_ok = 0u64;
    let mut next_mark = match progress {
        Progress::Every(n) => n,
        Progress::Interval(_) => 0,
    };
    loop {
        tick.tick().await;
        if shared.done.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        let ok = shared.ok.load(Ordering::Relaxed);
        let print = match progress {
            Progress::Interval(d) => now - last_t >= d,
            Progress::Every(n) => {
                let hit = ok >= next_mark;
                while next_mark <= ok {
                    next_mark += n.max(1);
                }
                hit
            }
        };
        if print {
            let dt = (now - last_t).as_secs_f64();
            eprintln!(
                "[{:>6.1}s] ok {:>9}  {:>8.0}/s  errors {}",
                (now - shared.start).as_secs_f64(),
                ok,
                (ok - last_ok) as f64 / dt.max(1e-9),
                shared.errors.load(Ordering::Relaxed)
            );
            last_t = now;
            last_ok = ok;
        }
    }
}

async fn conn_task(
    target: Arc<Target>,
    workload: Arc<dyn Workload>,
    source: Arc<Source>,
    shared: Arc<Shared>,
    cfg: Arc<RunConfig>,
) -> Stats {
    let per_conn = cfg.expected / cfg.connections.max(1) + 16;
    let mut st = Stats::with_capacity(if cfg.record_latency { per_conn } else { 0 });
    let mut conn = Conn::new(target);
    let mut rng = SplitMix64::from_os();
    let scheduled = cfg.mode.scheduled();
    let deadline = match cfg.mode {
        Mode::Closed { duration } | Mode::Open { duration, .. } => Some(shared.start + duration),
        Mode::Drain => None,
    };
    loop {
        // When the request should go out (open loop) — latency is measured from there.
        let intended = match cfg.mode {
            Mode::Closed { .. } => {
                if Instant::now() >= deadline.expect("closed loop has a deadline") {
                    break;
                }
                None
            }
            Mode::Open { rate, .. } => {
                let i = shared.slot.fetch_add(1, Ordering::Relaxed);
                if i >= scheduled {
                    break;
                }
                let t = shared.start + Duration::from_secs_f64(i as f64 / rate);
                let now = Instant::now();
                if t > now {
                    tokio::time::sleep_until(t).await;
                } else if now - t > LATE {
                    st.late_sends += 1;
                }
                Some(t)
            }
            Mode::Drain => None,
        };
        let Some(payload) = source.next().await else {
            let ns = shared.start.elapsed().as_nanos() as u64;
            shared.exhausted_ns.fetch_min(ns, Ordering::Relaxed);
            break;
        };
        let req = workload.request(&payload, &mut rng);
        let sent = Instant::now();
        let result = tokio::time::timeout(cfg.timeout, conn.send(&req)).await;
        let done = Instant::now();
        let resp = match result {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                transport_error(&mut st, &shared, &req, e);
                if e == TransportError::Connect {
                    // Don't spin while the server is down.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
            Err(_) => {
                conn.reset();
                transport_error(&mut st, &shared, &req, TransportError::Timeout);
                continue;
            }
        };
        match workload.check(&req, &resp, cfg.verify) {
            Check::Ok { verified } => {
                st.ok += 1;
                st.verified += u64::from(verified);
                if cfg.record_latency {
                    st.latencies
                        .push((done - intended.unwrap_or(sent)).as_nanos() as u64);
                }
                shared.ok.fetch_add(1, Ordering::Relaxed);
            }
            Check::Status => {
                *st.status.entry(resp.status.as_u16()).or_default() += 1;
                shared.errors.fetch_add(1, Ordering::Relaxed);
                st.add_sample(sample(&req, Some(&resp), "unexpected status".into()));
            }
            Check::Invalid(problem) => {
                st.verify_failed += 1;
                shared.errors.fetch_add(1, Ordering::Relaxed);
                st.add_sample(sample(&req, Some(&resp), problem));
            }
        }
    }
    st.connects = conn.connects;
    st
}

fn transport_error(st: &mut Stats, shared: &Shared, req: &Req, e: TransportError) {
    *st.transport.entry(e).or_default() += 1;
    shared.errors.fetch_add(1, Ordering::Relaxed);
    st.add_sample(sample(req, None, format!("{} error", e.as_str())));
}

fn truncate(b: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned();
    if b.len() > n {
        format!("{s}…({} bytes)", b.len())
    } else {
        s
    }
}

fn sample(req: &Req, resp: Option<&Resp>, problem: String) -> Sample {
    Sample {
        request: format!("{} {} {}", req.method, req.uri, truncate(&req.body, 1024)),
        status: resp.map(|r| r.status.as_u16()),
        response: resp.map_or(String::new(), |r| {
            let headers: Vec<String> = r
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
                .collect();
            format!("[{}] {}", headers.join("; "), truncate(&r.body, 2048))
        }),
        problem,
    }
}

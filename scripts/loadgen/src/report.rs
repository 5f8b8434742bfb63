//! The figures of one run: a readable table and a JSON object with the same content.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::runner::{Mode, RunResult};
use crate::stats::{summarize, Percentiles, ProcSample, Sample};

#[derive(Debug, Serialize)]
pub struct Pool {
    pub entries: usize,
    pub used: usize,
    pub generation_s: f64,
    pub signer: String,
}

#[derive(Debug, Serialize)]
pub struct Server {
    pub pid: u32,
    pub rss_start_kib: u64,
    pub rss_end_kib: u64,
    pub rss_peak_kib: u64,
    pub cpu_s: f64,
    /// Average CPU cores used during the run.
    pub cpu_cores: f64,
}

impl Server {
    pub fn new(pid: u32, start: ProcSample, end: ProcSample, wall_s: f64) -> Self {
        let cpu_s = (end.cpu_s - start.cpu_s).max(0.0);
        Server {
            pid,
            rss_start_kib: start.rss_kib,
            rss_end_kib: end.rss_kib,
            rss_peak_kib: end.hwm_kib,
            cpu_s,
            cpu_cores: cpu_s / wall_s.max(1e-9),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub workload: String,
    pub mode: String,
    pub url: String,
    pub connections: usize,
    pub client_threads: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    pub elapsed_s: f64,
    pub requests: u64,
    pub ok: u64,
    /// Successful requests per second.
    pub throughput: f64,
    /// Error counts keyed by HTTP status or transport error kind.
    pub errors: BTreeMap<String, u64>,
    pub error_total: u64,
    pub verify: bool,
    pub verified: u64,
    /// Responses with the expected status whose content failed the checks.
    pub verify_failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_sends: Option<u64>,
    pub connects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_exhausted_at_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_size_start: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_size_end: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
    pub client_cpu_s: f64,
    pub client_cpu_cores: f64,
    /// "OK" or "FAILED".
    pub result: String,
    pub failures: Vec<String>,
    pub samples: Vec<Sample>,
}

/// What was run (the part of the report that is not measured).
pub struct Meta<'a> {
    pub workload: &'a str,
    pub url: &'a str,
    pub connections: usize,
    pub client_threads: usize,
    pub mode: Mode,
    pub verify: bool,
}

/// Errors above this share of requests fail the run (verification failures always do).
pub const MAX_ERROR_SHARE: f64 = 0.01;

impl Report {
    pub fn new(meta: Meta<'_>, mut run: RunResult, client_cpu_s: f64) -> Self {
        let Meta {
            workload,
            url,
            connections,
            client_threads,
            mode,
            verify,
        } = meta;
        let st = &mut run.stats;
        let elapsed_s = run.elapsed.as_secs_f64();
        let mut errors: BTreeMap<String, u64> =
            st.status.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        for (k, v) in &st.transport {
            errors.insert(k.as_str().to_string(), *v);
        }
        let error_total = st.errors();
        let requests = st.ok + error_total + st.verify_failed;
        let latency_ms = (!st.latencies.is_empty()).then(|| summarize(&mut st.latencies));
        let (target_rate, duration_s) = match mode {
            Mode::Closed { duration } => (None, Some(duration.as_secs_f64())),
            Mode::Open { rate, duration } => (Some(rate), Some(duration.as_secs_f64())),
            Mode::Drain => (None, None),
        };
        let mut r = Report {
            workload: workload.to_string(),
            mode: mode.label().to_string(),
            url: url.to_string(),
            connections,
            client_threads,
            target_rate,
            duration_s,
            elapsed_s,
            requests,
            ok: st.ok,
            throughput: st.ok as f64 / elapsed_s.max(1e-9),
            errors,
            error_total,
            verify,
            verified: st.verified,
            verify_failed: st.verify_failed,
            latency_ms,
            late_sends: matches!(mode, Mode::Open { .. }).then_some(st.late_sends),
            connects: st.connects,
            pool: None,
            pool_exhausted_at_s: run.exhausted_at.map(|d| d.as_secs_f64()),
            tree_size_start: None,
            tree_size_end: None,
            server: None,
            client_cpu_s,
            client_cpu_cores: client_cpu_s / elapsed_s.max(1e-9),
            result: String::new(),
            failures: Vec::new(),
            samples: std::mem::take(&mut st.samples),
        };
        r.judge();
        r
    }

    /// Sets `result`/`failures`; call again after changing the figures.
    pub fn judge(&mut self) {
        let mut f = Vec::new();
        if self.verify_failed > 0 {
            f.push(format!(
                "{} responses failed verification",
                self.verify_failed
            ));
        }
        if self.ok == 0 && self.requests > 0 {
            f.push("no successful request".to_string());
        }
        if self.requests > 0 && self.error_total as f64 > MAX_ERROR_SHARE * self.requests as f64 {
            f.push(format!(
                "{} errors in {} requests (more than {}%)",
                self.error_total,
                self.requests,
                MAX_ERROR_SHARE * 100.0
            ));
        }
        if let Some(t) = self.pool_exhausted_at_s {
            // Not a failure of the server, but the figures cover a shorter run than asked.
            if self.mode == "closed-loop" {
                eprintln!(
                    "warning: the entry pool ran out after {t:.1} s; raise --max-rate or --entries"
                );
            }
        }
        self.result = if f.is_empty() { "OK" } else { "FAILED" }.to_string();
        self.failures = f;
    }

    pub fn passed(&self) -> bool {
        self.result == "OK"
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("report serializes")
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let mib = |k: u64| k as f64 / 1024.0;
        let _ = writeln!(
            s,
            "{}  {}  {}  ({} connections, {} client thread{})",
            self.workload,
            self.mode,
            self.url,
            self.connections,
            self.client_threads,
            if self.client_threads == 1 { "" } else { "s" }
        );
        let row = |s: &mut String, k: &str, v: String| {
            let _ = writeln!(s, "  {k:<18} {v}");
        };
        if let Some(rate) = self.target_rate {
            row(
                &mut s,
                "target rate",
                format!("{rate:.0} req/s (open loop)"),
            );
        }
        row(
            &mut s,
            "elapsed",
            match self.duration_s {
                Some(d) => format!("{:.1} s (asked {d:.1} s)", self.elapsed_s),
                None => format!("{:.1} s", self.elapsed_s),
            },
        );
        let errs = if self.errors.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            format!(" ({})", parts.join(", "))
        };
        row(
            &mut s,
            "requests",
            format!(
                "{}   ok {}   errors {}{}",
                self.requests, self.ok, self.error_total, errs
            ),
        );
        row(&mut s, "throughput", format!("{:.1} ok/s", self.throughput));
        if let Some(l) = &self.latency_ms {
            row(
                &mut s,
                "latency (ms)",
                format!(
                    "mean {:.2}  p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
                    l.mean, l.p50, l.p90, l.p99, l.p999, l.max
                ),
            );
        }
        if let Some(late) = self.late_sends {
            row(
                &mut s,
                "late sends",
                format!("{late} (started >5 ms behind schedule; latency still counts from the schedule)"),
            );
        }
        if self.verify || self.verify_failed > 0 {
            row(
                &mut s,
                "verification",
                format!("{} verified, {} FAILED", self.verified, self.verify_failed),
            );
        }
        if let Some(p) = &self.pool {
            row(
                &mut s,
                "entry pool",
                format!(
                    "{} generated in {:.1} s ({} signer), {} used",
                    p.entries, p.generation_s, p.signer, p.used
                ),
            );
        }
        if let Some(t) = self.pool_exhausted_at_s {
            row(&mut s, "pool exhausted", format!("at {t:.1} s"));
        }
        match (self.tree_size_start, self.tree_size_end) {
            (Some(a), Some(b)) => row(&mut s, "tree size", format!("{a} → {b}")),
            (Some(a), None) => row(&mut s, "tree size", a.to_string()),
            (None, Some(b)) => row(&mut s, "tree size", b.to_string()),
            (None, None) => {}
        }
        if let Some(sv) = &self.server {
            row(
                &mut s,
                &format!("server pid {}", sv.pid),
                format!(
                    "RSS {:.1} → {:.1} MiB (peak {:.1} MiB), CPU {:.1} s ({:.2} cores)",
                    mib(sv.rss_start_kib),
                    mib(sv.rss_end_kib),
                    mib(sv.rss_peak_kib),
                    sv.cpu_s,
                    sv.cpu_cores
                ),
            );
        }
        row(
            &mut s,
            "client",
            format!(
                "CPU {:.1} s ({:.2} cores), {} connects",
                self.client_cpu_s, self.client_cpu_cores, self.connects
            ),
        );
        row(
            &mut s,
            "result",
            if self.failures.is_empty() {
                self.result.clone()
            } else {
                format!("{}: {}", self.result, self.failures.join("; "))
            },
        );
        for (i, smp) in self.samples.iter().enumerate() {
            let _ = writeln!(s, "  sample failure #{}: {}", i + 1, smp.problem);
            let _ = writeln!(s, "    request:  {}", smp.request);
            if let Some(st) = smp.status {
                let _ = writeln!(s, "    response: {st} {}", smp.response);
            }
        }
        s
    }
}

//! Counters, latency percentiles, and process resource sampling.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::http::TransportError;

/// At most this many failure samples are kept (per connection and in total).
pub const MAX_SAMPLES: usize = 5;

/// One failed exchange, kept verbatim (truncated) for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    pub request: String,
    pub status: Option<u16>,
    pub response: String,
    pub problem: String,
}

/// Per-connection statistics, merged at the end (no shared state on the hot path).
#[derive(Debug, Default)]
pub struct Stats {
    /// Latencies of successful requests, in nanoseconds.
    pub latencies: Vec<u64>,
    pub ok: u64,
    pub verified: u64,
    pub verify_failed: u64,
    pub status: BTreeMap<u16, u64>,
    pub transport: BTreeMap<TransportError, u64>,
    /// Open loop: sends that started more than 1 ms after their intended time.
    pub late_sends: u64,
    pub connects: u64,
    pub samples: Vec<Sample>,
}

impl Stats {
    pub fn with_capacity(n: usize) -> Self {
        Stats {
            latencies: Vec::with_capacity(n),
            ..Default::default()
        }
    }

    pub fn merge(&mut self, other: Stats) {
        self.latencies.extend_from_slice(&other.latencies);
        self.ok += other.ok;
        self.verified += other.verified;
        self.verify_failed += other.verify_failed;
        for (k, v) in other.status {
            *self.status.entry(k).or_default() += v;
        }
        for (k, v) in other.transport {
            *self.transport.entry(k).or_default() += v;
        }
        self.late_sends += other.late_sends;
        self.connects += other.connects;
        for s in other.samples {
            if self.samples.len() < MAX_SAMPLES {
                self.samples.push(s);
            }
        }
    }

    pub fn errors(&self) -> u64 {
        self.status.values().sum::<u64>() + self.transport.values().sum::<u64>()
    }

    pub fn add_sample(&mut self, s: Sample) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(s);
        }
    }
}

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Nearest-rank percentile of a sorted slice: the smallest value with at least `p`% of the
/// samples at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // The epsilon keeps float noise (99.9 / 100 * 1000 = 999.0000000000001) from moving the
    // rank up by one.
    let rank = (p * sorted.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sorts `ns` in place and summarizes it (values in ms).
pub fn summarize(ns: &mut [u64]) -> Percentiles {
    if ns.is_empty() {
        return Percentiles::default();
    }
    ns.sort_unstable();
    let ms = |v: u64| v as f64 / 1e6;
    let sum: u128 = ns.iter().map(|&v| u128::from(v)).sum();
    Percentiles {
        count: ns.len() as u64,
        mean: sum as f64 / ns.len() as f64 / 1e6,
        p50: ms(percentile(ns, 50.0)),
        p90: ms(percentile(ns, 90.0)),
        p99: ms(percentile(ns, 99.0)),
        p999: ms(percentile(ns, 99.9)),
        max: ms(*ns.last().expect("non-empty")),
    }
}

/// A snapshot of a process from /proc.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcSample {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    /// utime + stime, in seconds.
    pub cpu_s: f64,
}

pub fn sample_proc(pid: u32) -> anyhow::Result<ProcSample> {
    use anyhow::Context;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_proc(&status, &stat).with_context(|| format!("parsing /proc/{pid}"))
}

fn parse_proc(status: &str, stat: &str) -> anyhow::Result<ProcSample> {
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // Fields after the command name, which is in parentheses and may contain spaces:
    // state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("bad stat line"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("bad stat field {i}"))
    };
    let (utime, stime) = (ticks(11)?, ticks(12)?);
    Ok(ProcSample {
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
        cpu_s: (utime + stime) as f64 / clock_ticks(),
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// This process's CPU time (user + system).
pub fn self_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 90.0), 90);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 99.9), 100);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        let v = [10, 20, 30, 40];
        assert_eq!(percentile(&v, 50.0), 20);
        assert_eq!(percentile(&v, 51.0), 30);
    }

    #[test]
    fn summarize_sorts_and_converts() {
        let mut v: Vec<u64> = (1..=1000).rev().map(|i| i * 1_000_000).collect();
        let p = summarize(&mut v);
        assert_eq!(p.count, 1000);
        assert_eq!(p.p50, 500.0);
        assert_eq!(p.p90, 900.0);
        assert_eq!(p.p99, 990.0);
        assert_eq!(p.p999, 999.0);
        assert_eq!(p.max, 1000.0);
        assert!((p.mean - 500.5).abs() < 1e-9);
        assert_eq!(summarize(&mut []).count, 0);
    }

    #[test]
    fn proc_parsing() {
        let status = "Name:\trekor-server\nVmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\n";
        let stat = "1234 (rekor server) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9";
        let s = parse_proc(status, stat).unwrap();
        assert_eq!(s.rss_kib, 65432);
        assert_eq!(s.hwm_kib, 123456);
        assert!((s.cpu_s - 300.0 / clock_ticks()).abs() < 1e-9);
        let me = sample_proc(std::process::id()).unwrap();
        assert!(me.rss_kib > 0);
    }
}

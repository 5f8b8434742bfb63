//! `loadgen`: load generator for the stack's services.
//!
//! ```text
//! loadgen rekor-write --url http://127.0.0.1:3000 --connections 64 --duration 60s [--rate N] [--verify]
//! loadgen rekor-read  --url http://127.0.0.1:3000 --connections 64 --duration 30s [--verify]
//! loadgen rekor-fill  --url http://127.0.0.1:3000 (--count N | --to-size N)
//! ```
//! Common options: `--server-pid PID` (server RSS/CPU from /proc), `--json` (one JSON object on
//! stdout, the table goes to stderr), `--client-threads N` (default 1: the client should steal
//! as little CPU as possible from a server on the same machine), `--timeout 30s`.

mod fulcio;
mod http;
mod rekor;
mod report;
mod runner;
mod stats;
mod tsa;
mod util;
mod workload;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::http::Target;
use crate::rekor::{RekorRead, RekorWrite, SignerKind};
use crate::report::{Meta, Pool, Report, Server};
use crate::runner::{Mode, Progress, RunConfig};
use crate::stats::{sample_proc, self_cpu};
use crate::util::parse_duration;
use crate::workload::{Source, Workload};

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Load generator for the sigstack services",
    version
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

// Subcommands are `<service>-<workload>`; the shared prefix goes once other services join.
#[allow(clippy::enum_variant_names)]
#[derive(Subcommand)]
enum Cmd {
    /// POST distinct hashedrekord 0.0.1 entries (closed loop, or open loop with --rate).
    RekorWrite(WriteArgs),
    /// GET entries by random log index in [0, treeSize).
    RekorRead(ReadArgs),
    /// Bulk-insert entries as fast as possible (to prepare a large log).
    RekorFill(FillArgs),
    /// POST /api/v2/signingCert (token in the body, publicKeyRequest), with a built-in
    /// OIDC issuer: start Fulcio with that issuer configured (see --oidc-listen).
    FulcioIssue(IssueArgs),
    /// POST /api/v1/timestamp (JSON form, certificates requested) to a TSA.
    TsaStamp(StampArgs),
}

#[derive(Args)]
struct StampArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Open loop at this many requests per second (default: closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Parse every reply and check that it stamps the requested digest.
    #[arg(long)]
    verify: bool,
    /// Closed loop: pre-generate enough requests for this many per second.
    #[arg(long, default_value_t = 20_000.0)]
    max_rate: f64,
}

#[derive(Args)]
struct IssueArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Open loop at this many requests per second (default: closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Where the built-in OIDC issuer listens; Fulcio's issuer config must name
    /// `http://<this address>` with ClientID `sigstore` and Type `email`.
    #[arg(long, default_value = "127.0.0.1:9494")]
    oidc_listen: String,
    /// Distinct tokens minted before the run (each request picks one at random).
    #[arg(long, default_value_t = 1000)]
    tokens: usize,
    /// Check that each reply has a chain and exactly one embedded SCT.
    #[arg(long)]
    verify: bool,
    /// Wait this long for the service's /healthz before starting.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    wait: Duration,
}

#[derive(Args, Clone)]
struct Common {
    /// Base URL of the service (http only).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Number of concurrent HTTP/1.1 keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Sample this process's RSS and CPU time (/proc) at start and end.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print one JSON object with the figures on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// Client runtime threads (1 = current-thread runtime).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Per-request timeout.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
}

#[derive(Args)]
struct WriteArgs {
    #[command(flatten)]
    common: Common,
    /// Length of the timed phase (e.g. 60s, 2m).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Open loop: send this many requests per second on a fixed schedule; latency is measured
    /// from each request's scheduled time.
    #[arg(long)]
    rate: Option<f64>,
    /// Check every 201: entry ID, inclusion proof against rootHash, checkpoint size/root lines.
    #[arg(long)]
    verify: bool,
    /// Closed loop: pre-generate enough entries for this many requests per second.
    #[arg(long, default_value_t = 20_000.0)]
    max_rate: f64,
    /// Pre-generate exactly this many entries (overrides the estimate).
    #[arg(long)]
    entries: Option<usize>,
    /// How entry signatures are made (see --help for `fast`).
    #[arg(long, value_enum, default_value_t = SignerKind::Fast)]
    signer: SignerKind,
    /// Threads for pre-generation (default: all cores).
    #[arg(long)]
    gen_threads: Option<usize>,
    /// Rekor API: 1 (hashedrekord 0.0.1 to /api/v1/log/entries) or 2
    /// (hashedRekordRequestV002 to <url>/api/v2/log/entries; give the v2 log's URL).
    #[arg(long, default_value_t = 1)]
    api: u8,
}

#[derive(Args)]
struct ReadArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Verify each inclusion proof (by default only its presence is checked).
    #[arg(long)]
    verify: bool,
}

#[derive(Args)]
struct FillArgs {
    #[command(flatten)]
    common: Common,
    /// Number of entries to insert.
    #[arg(long, conflicts_with = "to_size", required_unless_present = "to_size")]
    count: Option<u64>,
    /// Insert until the log holds this many entries.
    #[arg(long)]
    to_size: Option<u64>,
    #[arg(long, value_enum, default_value_t = SignerKind::Fast)]
    signer: SignerKind,
    /// Producer threads generating entries while sending.
    #[arg(long, default_value_t = 1)]
    gen_threads: usize,
    /// Verify each response as in rekor-write --verify.
    #[arg(long)]
    verify: bool,
}

fn main() {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            std::process::exit(2);
        }
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.enable_all().build().context("building the tokio runtime")
}

fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs `cfg` with server/client sampling around the timed phase and builds the report.
fn measured_run(
    rt: &tokio::runtime::Runtime,
    common: &Common,
    workload: Arc<dyn Workload>,
    source: Arc<Source>,
    cfg: RunConfig,
) -> anyhow::Result<Report> {
    let target = Arc::new(Target::parse(&common.url)?);
    let server_start = common.server_pid.map(sample_proc).transpose()?;
    let cpu_start = self_cpu();
    let (mode, verify) = (cfg.mode, cfg.verify);
    let result = rt.block_on(runner::run(target, workload.clone(), source.clone(), cfg));
    let client_cpu = (self_cpu() - cpu_start).as_secs_f64();
    let wall = result.elapsed.as_secs_f64();
    let mut report = Report::new(
        Meta {
            workload: workload.name(),
            url: &common.url,
            connections: common.connections,
            client_threads: common.client_threads,
            mode,
            verify,
        },
        result,
        client_cpu,
    );
    if let (Some(pid), Some(start)) = (common.server_pid, server_start) {
        match sample_proc(pid) {
            Ok(end) => report.server = Some(Server::new(pid, start, end, wall)),
            Err(e) => eprintln!("warning: server pid {pid}: {e:#}"),
        }
    }
    Ok(report)
}

fn emit(report: &Report, json: bool) -> bool {
    if json {
        eprint!("{}", report.table());
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
    }
    report.passed()
}

fn real_main(cli: Cli) -> anyhow::Result<bool> {
    match cli.cmd {
        Cmd::RekorWrite(a) => rekor_write(a),
        Cmd::RekorRead(a) => rekor_read(a),
        Cmd::RekorFill(a) => rekor_fill(a),
        Cmd::FulcioIssue(a) => fulcio_issue(a),
        Cmd::TsaStamp(a) => tsa_stamp(a),
    }
}

fn tsa_stamp(a: StampArgs) -> anyhow::Result<bool> {
    let c = &a.common;
    let target = Target::parse(&c.url)?;
    let mode = match a.rate {
        Some(rate) if rate > 0.0 => Mode::Open {
            rate,
            duration: a.duration,
        },
        Some(_) => bail!("--rate must be positive"),
        None => Mode::Closed {
            duration: a.duration,
        },
    };
    let n = match mode {
        Mode::Open { .. } => mode.scheduled() as usize,
        _ => (a.max_rate * a.duration.as_secs_f64()).ceil() as usize,
    };
    let workload: Arc<dyn Workload> = Arc::new(tsa::TsaStamp::new(&target));
    let items = workload::pregenerate(&workload, n, all_cores());
    let source = Arc::new(Source::Pool {
        items,
        next: AtomicUsize::new(0),
    });
    let rt = runtime(c.client_threads)?;
    let cfg = RunConfig {
        connections: c.connections,
        mode,
        verify: a.verify,
        timeout: c.timeout,
        record_latency: true,
        progress: Progress::Interval(Duration::from_secs(10)),
        expected: n,
    };
    let report = measured_run(&rt, c, workload, source, cfg)?;
    Ok(emit(&report, c.json))
}

fn rekor_write(a: WriteArgs) -> anyhow::Result<bool> {
    let c = &a.common;
    let target = Target::parse(&c.url)?;
    let secs = a.duration.as_secs_f64();
    let mode = match a.rate {
        Some(rate) if rate > 0.0 => Mode::Open {
            rate,
            duration: a.duration,
        },
        Some(_) => bail!("--rate must be positive"),
        None => Mode::Closed {
            duration: a.duration,
        },
    };
    let n = a.entries.unwrap_or(match mode {
        Mode::Open { .. } => mode.scheduled() as usize,
        _ => (a.max_rate * secs).ceil() as usize,
    });
    let workload: Arc<dyn Workload> = match a.api {
        1 => Arc::new(RekorWrite::new("rekor-write", &target, a.signer)),
        2 => Arc::new(rekor::RekorWriteV2::new(&target, a.signer)),
        other => bail!("--api {other}: use 1 or 2"),
    };
    let threads = a.gen_threads.unwrap_or_else(all_cores);
    eprintln!(
        "generating {n} hashedrekord entries on {threads} thread(s) ({:?} signer)...",
        a.signer
    );
    let t = Instant::now();
    let items = workload::pregenerate(&workload, n, threads);
    let generation_s = t.elapsed().as_secs_f64();
    eprintln!(
        "generated {n} entries ({:.0} MiB) in {generation_s:.1} s; starting {} for {secs:.0} s",
        items.iter().map(|b| b.len()).sum::<usize>() as f64 / 1048576.0,
        mode.label()
    );
    let source = Arc::new(Source::Pool {
        items,
        next: AtomicUsize::new(0),
    });
    let rt = runtime(c.client_threads)?;
    let cfg = RunConfig {
        connections: c.connections,
        mode,
        verify: a.verify,
        timeout: c.timeout,
        record_latency: true,
        progress: Progress::Interval(Duration::from_secs(10)),
        expected: n,
    };
    let mut report = measured_run(&rt, c, workload, source.clone(), cfg)?;
    report.pool = Some(Pool {
        entries: n,
        used: source.used(),
        generation_s,
        signer: format!("{:?}", a.signer).to_lowercase(),
    });
    Ok(emit(&report, c.json))
}

fn fetch_tree_size(rt: &tokio::runtime::Runtime, target: &Arc<Target>) -> anyhow::Result<u64> {
    let info = rt.block_on(http::get_json(target, rekor::LOG_INFO_PATH))?;
    rekor::tree_size(&info)
}

fn fulcio_issue(a: IssueArgs) -> anyhow::Result<bool> {
    let c = &a.common;
    let target = Arc::new(Target::parse(&c.url)?);
    let issuer = fulcio::MockIssuer::start(&a.oidc_listen)?;
    let ttl = a.duration.as_secs() + a.wait.as_secs() + 600;
    let workload: Arc<dyn Workload> =
        Arc::new(fulcio::FulcioIssue::new(&target, &issuer, a.tokens, ttl)?);
    let rt = runtime(c.client_threads)?;
    let deadline = Instant::now() + a.wait;
    while rt.block_on(http::get_json(&target, "/healthz")).is_err() {
        if Instant::now() > deadline {
            bail!("{} did not answer /healthz within {:?}", c.url, a.wait);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = match a.rate {
        Some(rate) if rate > 0.0 => Mode::Open {
            rate,
            duration: a.duration,
        },
        Some(_) => bail!("--rate must be positive"),
        None => Mode::Closed {
            duration: a.duration,
        },
    };
    let n = match mode {
        Mode::Open { .. } => mode.scheduled() as usize,
        // Capacity hint for the latency samples only.
        _ => (5_000.0 * a.duration.as_secs_f64()) as usize,
    };
    eprintln!(
        "issuer {}; {} tokens; starting {}",
        issuer.url,
        a.tokens,
        mode.label()
    );
    let source = Arc::new(Source::Unlimited);
    let cfg = RunConfig {
        connections: c.connections,
        mode,
        verify: a.verify,
        timeout: c.timeout,
        record_latency: true,
        progress: Progress::Interval(Duration::from_secs(10)),
        expected: n,
    };
    let report = measured_run(&rt, c, workload, source, cfg)?;
    Ok(emit(&report, c.json))
}

fn rekor_read(a: ReadArgs) -> anyhow::Result<bool> {
    let c = &a.common;
    let target = Arc::new(Target::parse(&c.url)?);
    let rt = runtime(c.client_threads)?;
    let size = fetch_tree_size(&rt, &target)?;
    if size == 0 {
        bail!("the log is empty; run `loadgen rekor-fill` first");
    }
    eprintln!(
        "tree size {size}; reading for {:.0} s",
        a.duration.as_secs_f64()
    );
    let workload: Arc<dyn Workload> = Arc::new(RekorRead::new(&target, size));
    let cfg = RunConfig {
        connections: c.connections,
        mode: Mode::Closed {
            duration: a.duration,
        },
        verify: a.verify,
        timeout: c.timeout,
        record_latency: true,
        progress: Progress::Interval(Duration::from_secs(10)),
        expected: 200_000,
    };
    let mut report = measured_run(&rt, c, workload, Arc::new(Source::Unlimited), cfg)?;
    report.tree_size_start = Some(size);
    Ok(emit(&report, c.json))
}

fn rekor_fill(a: FillArgs) -> anyhow::Result<bool> {
    let c = &a.common;
    let target = Arc::new(Target::parse(&c.url)?);
    let rt = runtime(c.client_threads)?;
    let start_size = fetch_tree_size(&rt, &target)?;
    let count = match (a.count, a.to_size) {
        (Some(n), _) => n,
        (None, Some(to)) => to.saturating_sub(start_size),
        (None, None) => unreachable!("clap requires one of them"),
    };
    eprintln!("tree size {start_size}; inserting {count} entries");
    let workload: Arc<dyn Workload> = Arc::new(RekorWrite::new("rekor-fill", &target, a.signer));
    let rx = workload::stream(workload.clone(), count, a.gen_threads);
    let cfg = RunConfig {
        connections: c.connections,
        mode: Mode::Drain,
        verify: a.verify,
        timeout: c.timeout,
        record_latency: false,
        progress: Progress::Every(100_000),
        expected: 0,
    };
    let source = Arc::new(Source::Stream(tokio::sync::Mutex::new(rx)));
    let mut report = measured_run(&rt, c, workload, source, cfg)?;
    report.tree_size_start = Some(start_size);
    report.tree_size_end = fetch_tree_size(&rt, &target)
        .map_err(|e| eprintln!("warning: {e:#}"))
        .ok();
    Ok(emit(&report, c.json))
}

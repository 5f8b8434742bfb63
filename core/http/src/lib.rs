//! Plumbing every HTTP service of the stack shares, so that `/metrics` means
//! the same thing everywhere: request counts by (route, method, status) and
//! latency histograms by route, recorded by one middleware.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// Request metrics. Cloning shares the underlying families.
#[derive(Clone)]
pub struct HttpMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
}

impl HttpMetrics {
    /// Creates the families and registers them as `<prefix>_http_requests` and
    /// `<prefix>_http_request_duration_seconds`.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        HttpMetrics { requests, latency }
    }
}

/// Middleware (`axum::middleware::from_fn_with_state(metrics, observe)`):
/// counts and times every request by its matched route.
pub async fn observe(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    m.requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method,
            code: resp.status().as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { route })
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// The registry in Prometheus text format (empty if encoding fails).
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    if encode(&mut out, registry).is_err() {
        out.clear();
    }
    out
}

pub mod config;
pub mod tls;
pub mod tuf_fetch;

/// Completes on SIGINT or SIGTERM (what `docker stop` and `scripts/down.sh` send).
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The passphrase for keys a `create` command writes: the one given, or
/// none only when the operator said so (`--insecure-no-passphrase`); never
/// an empty one. `env` names the variable to mention in the refusal.
pub fn key_file_passphrase(
    given: Option<String>,
    insecure_no_passphrase: bool,
    env: &str,
) -> Result<Option<String>, String> {
    match (given.filter(|p| !p.is_empty()), insecure_no_passphrase) {
        (Some(p), _) => Ok(Some(p)),
        (None, true) => Ok(None),
        (None, false) => Err(format!(
            "set {env} (or --passphrase) to encrypt the keys, or pass --insecure-no-passphrase"
        )),
    }
}

/// Writes a new private key file: mode 0600 from the start, never over an
/// existing file (a key is never silently replaced), fsynced.
pub fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Logging for every binary: `RUST_LOG` filters (default `info`). Services
/// log to stdout; command-line tools whose stdout is their output pass
/// `stderr = true`.
pub fn init_tracing(stderr: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if stderr {
        builder.with_writer(std::io::stderr).init();
    } else {
        builder.init();
    }
}

/// Reads one line typed at the controlling terminal with echo off (for
/// passphrases and passwords). Fails, rather than echoing a secret, when
/// there is no terminal or its echo cannot be turned off.
pub fn prompt_secret(text: &str) -> std::io::Result<String> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr/tcsetattr only read and
    // write it for the terminal just opened, which outlives both calls.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(std::io::Error::other("not a terminal"));
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    // SAFETY: as above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    let mut w = &tty;
    let _ = write!(w, "{text}");
    let _ = w.flush();
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    // SAFETY: as above; echo is restored whatever the read gave.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    let _ = writeln!(w);
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// A JSON response (`application/json`).
pub fn json_response(status: axum::http::StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// The `/metrics` response: `text` (from [`render`]) is OpenMetrics, and
/// says so.
pub fn metrics_response(text: String) -> Response {
    let mut resp = Response::new(axum::body::Body::from(text));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    resp
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the
/// new one, never a torn one: a temp file in the same directory, fsynced,
/// then renamed over `path` (`overwrite`) or hard-linked to it (not
/// `overwrite`: an existing `path` fails with `AlreadyExists` and is left
/// alone), then the directory fsynced. The temp file never outlives the call.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8], overwrite: bool) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if overwrite {
            std::fs::rename(&tmp, path)?;
        } else {
            std::fs::hard_link(&tmp, path)?;
            let _ = std::fs::remove_file(&tmp);
        }
        std::fs::File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

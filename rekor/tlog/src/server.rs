//! What every log server on this engine shares (the Rekor log, the CT log):
//! the settings that place and tune the log, the config-file loader, and the
//! log's Prometheus metrics.
//!
//! Each server keeps its own flags and file type, because their environment
//! variable names differ (`REKOR_*`, `CTLOG_*`) and their files refuse
//! unknown keys; it hands the shared values here as two [`Layer`]s, so the
//! precedence (flag over file over default), the defaults and the refusals
//! are one piece of code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::Log;

pub use sigstack_http::config::{load_toml, ConfigError};

/// The shared settings as one source (flags, or the file) gives them.
#[derive(Debug, Default, Clone)]
pub struct Layer {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub signing_key: Option<PathBuf>,
    pub batch_max: Option<usize>,
    pub batch_linger_ms: Option<u64>,
    pub max_request_bytes: Option<usize>,
    /// File only (no flag).
    pub block_cache_mb: Option<usize>,
}

/// Per-server defaults that work on a laptop.
pub struct Defaults {
    pub listen: &'static str,
    pub data_dir: &'static str,
    /// Key file name inside the data dir when no key is given.
    pub key_file: &'static str,
}

/// The resolved shared settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub signing_key: PathBuf,
    /// True when the key path was defaulted (the key may be generated).
    pub signing_key_defaulted: bool,
    pub batch_max: usize,
    pub batch_linger: Duration,
    pub max_request_bytes: usize,
    pub block_cache_bytes: usize,
}

impl LogSettings {
    /// Flag over file over default; refuses what would break the log.
    pub fn resolve(flags: Layer, file: Layer, d: &Defaults) -> Result<Self, ConfigError> {
        let listen_s = flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| d.listen.into());
        let listen: SocketAddr = listen_s
            .parse()
            .map_err(|_| ConfigError::Invalid(format!("listen address {listen_s:?}")))?;
        let data_dir = flags
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(d.data_dir));
        let (signing_key, signing_key_defaulted) = match flags.signing_key.or(file.signing_key) {
            Some(p) => (p, false),
            None => (data_dir.join(d.key_file), true),
        };
        let batch_max = flags.batch_max.or(file.batch_max).unwrap_or(1024);
        if batch_max == 0 {
            return Err(ConfigError::Invalid("batch_max must be at least 1".into()));
        }
        let linger = flags.batch_linger_ms.or(file.batch_linger_ms).unwrap_or(0);
        if linger > 10_000 {
            return Err(ConfigError::Invalid(
                "batch_linger_ms above 10 s would stall clients".into(),
            ));
        }
        Ok(LogSettings {
            listen,
            data_dir,
            signing_key,
            signing_key_defaulted,
            batch_max,
            batch_linger: Duration::from_millis(linger),
            max_request_bytes: flags
                .max_request_bytes
                .or(file.max_request_bytes)
                .unwrap_or(4 << 20),
            block_cache_bytes: flags.block_cache_mb.or(file.block_cache_mb).unwrap_or(64) << 20,
        })
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub kind: String,
    pub outcome: String,
}

/// A log server's metrics: HTTP requests (shared middleware), proposals by
/// kind and outcome, log size and sequencer batches (read from the log when
/// rendered, so they are never stale).
pub struct LogMetrics {
    registry: Registry,
    pub http: sigstack_http::HttpMetrics,
    outcomes: Family<OutcomeLabels, Counter>,
    log_size: Gauge,
    batches: Gauge,
}

impl LogMetrics {
    /// `prefix` names the server (`rekor`, `ctlog`); `outcomes` and `help`
    /// name its proposals counter (`entries`, `submissions`).
    pub fn new(prefix: &str, outcomes: &str, help: &str) -> Self {
        let mut registry = Registry::with_prefix(prefix);
        let http = sigstack_http::HttpMetrics::register(&mut registry);
        let family = Family::<OutcomeLabels, Counter>::default();
        let log_size = Gauge::default();
        let batches = Gauge::default();
        registry.register(outcomes, help, family.clone());
        registry.register(
            "log_size",
            "Entries in the log (published tree size)",
            log_size.clone(),
        );
        registry.register(
            "sequencer_batches",
            "Batches committed since start",
            batches.clone(),
        );
        LogMetrics {
            registry,
            http,
            outcomes: family,
            log_size,
            batches,
        }
    }

    /// Counts one proposal.
    pub fn outcome(&self, kind: &str, outcome: &str) {
        self.outcomes
            .get_or_create(&OutcomeLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Prometheus text, with the gauges taken from `log` now.
    pub fn render(&self, log: &Log) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        self.log_size.set(log.head().size as i64);
        self.batches.set(log.stats().batches.load(Relaxed) as i64);
        sigstack_http::render(&self.registry)
    }
}

//! Prometheus metrics: request counts and latencies, log size, submission outcomes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `add-chain` or `add-pre-chain`.
    pub kind: String,
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    /// Request counts and latencies (shared middleware, `sigstack-http`).
    pub http: sigstack_http::HttpMetrics,
    pub submissions: Family<OutcomeLabels, Counter>,
    pub log_size: Gauge,
    pub batches: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ctlog");
        let http = sigstack_http::HttpMetrics::register(&mut registry);
        let submissions = Family::<OutcomeLabels, Counter>::default();
        let log_size = Gauge::default();
        let batches = Gauge::default();
        registry.register(
            "submissions",
            "Submitted chains by endpoint and outcome (added, invalid, busy, error)",
            submissions.clone(),
        );
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
        Metrics {
            registry,
            http,
            submissions,
            log_size,
            batches,
        }
    }
}

impl Metrics {
    pub fn submission(&self, kind: &str, outcome: &str) {
        self.submissions
            .get_or_create(&OutcomeLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        sigstack_http::render(&self.registry)
    }
}

//! Prometheus metrics: request counts and latencies, log size, submission outcomes.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `add-chain` or `add-pre-chain`.
    pub kind: String,
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub submissions: Family<OutcomeLabels, Counter>,
    pub log_size: Gauge,
    pub batches: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ctlog");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        let submissions = Family::<OutcomeLabels, Counter>::default();
        let log_size = Gauge::default();
        let batches = Gauge::default();
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
            requests,
            latency,
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
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

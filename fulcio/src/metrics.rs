//! Prometheus metrics: request counts and latencies, issuance outcomes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    /// Request counts and latencies (shared middleware, `sigstack-http`).
    pub http: sigstack_http::HttpMetrics,
    pub certificates: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("fulcio");
        let http = sigstack_http::HttpMetrics::register(&mut registry);
        let certificates = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "certificates",
            "Signing-certificate requests by outcome (issued, rejected, error)",
            certificates.clone(),
        );
        Metrics {
            registry,
            http,
            certificates,
        }
    }
}

impl Metrics {
    pub fn issuance(&self, outcome: &str) {
        self.certificates
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        sigstack_http::render(&self.registry)
    }
}

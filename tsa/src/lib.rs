//! RFC 3161 timestamp authority, compatible with sigstore/timestamp-authority.
//!
//! Data flow for one request: [`api`] reads the body (DER
//! `application/timestamp-query`, or the JSON form sigstore-js sends) within
//! the size limit → [`service::Tsa`] validates it (hash algorithm and length,
//! policy, no extensions) and stamps it: `sigstack_core::tsp` encodes the
//! TSTInfo and signed attributes, [`signer::TsaKey`] (a PEM file or a
//! PKCS#11 key) makes the one signature → DER `TimeStampResp` out.
//!
//! State: none but the key and the chain. Serial numbers are unique without
//! storage: a random 96-bit prefix chosen at start, then a counter.
//! [`certs`] creates the chain (`timestamp-server certificate create`).

pub mod api;
pub mod certs;
pub mod cli;
pub mod config;
pub mod service;
pub mod signer;

use std::sync::Arc;

pub use service::Tsa;

/// Serves the API on `listener` (HTTPS when `tls` is given) until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tsa: Arc<Tsa>,
    tls: Option<Arc<sigstack_http::tls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    sigstack_http::tls::serve(listener, api::router(tsa), tls, shutdown).await
}

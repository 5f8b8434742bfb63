//! Fulcio-compatible keyless code-signing CA.
//!
//! Data flow for one request (`POST /api/v2/signingCert`): [`api`] parses the
//! protojson body → [`service::Fulcio`] routes the token to its configured
//! issuer ([`config`]) and verifies it (`sigstack-oidc`) → [`identity`] maps
//! the claims to SAN + Sigstore extensions → [`cert`] builds the
//! precertificate, signed by the CA ([`ca`]) → the CT log returns an SCT →
//! the final certificate embeds it. No SCT, no certificate.

pub mod api;
pub mod ca;
pub mod cert;
pub mod cli;
pub mod config;
pub mod identity;
pub mod metrics;
pub mod pkcs11;
pub mod service;
pub mod template;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use service::Fulcio;

/// Serves the API on `listener` (HTTPS when `tls` is given) until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    fulcio: Arc<Fulcio>,
    tls: Option<Arc<sigstack_http::tls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    sigstack_http::tls::serve(listener, api::router(fulcio), tls, shutdown).await
}

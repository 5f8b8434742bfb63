//! RFC 6962 Certificate Transparency log for the private Fulcio.
//!
//! Crate map: [`chain`] holds the accepted roots and validates submitted
//! chains, [`signer`] holds the log key (SCTs and STHs), [`service`] is the
//! log as plain functions over the Merkle engine (`sigstack-tlog`), [`api`]
//! is the thin axum layer, [`config`] resolves file, flags and environment.
//! Byte formats (SCT, MerkleTreeLeaf, STH input) live in `sigstack_core::ct`,
//! shared with Fulcio and the client.

pub mod api;
pub mod chain;
pub mod config;
pub mod service;
pub mod signer;

use std::sync::Arc;

use sigstack_tlog::LogOptions;

pub use chain::{Kind, Roots};
pub use config::Config;
pub use service::{open_in_memory, Service, ServiceError, ServiceOptions};
pub use signer::CtKey;

/// Loads the key (generating the default one on first start), the roots,
/// and opens the log in the configured data dir.
pub fn open_service(cfg: &Config) -> Result<Service, anyhow::Error> {
    let passphrase = std::env::var("CTLOG_SIGNING_KEY_PASSPHRASE").ok();
    let roots_pem = std::fs::read(&cfg.roots_pem_file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read roots_pem_file {}: {e}",
            cfg.roots_pem_file.display()
        )
    })?;
    let roots = Roots::from_pem(&roots_pem)
        .map_err(|e| anyhow::anyhow!("roots_pem_file {}: {e}", cfg.roots_pem_file.display()))?;
    if cfg.signing_key_defaulted && !cfg.signing_key.exists() {
        write_new_key(&cfg.signing_key)?;
        tracing::info!(path = %cfg.signing_key.display(), "generated a new CT log signing key");
    }
    let key = CtKey::from_file(&cfg.signing_key, passphrase.as_deref().map(str::as_bytes))?;
    let svc = Service::open_dir(
        &cfg.data_dir,
        cfg.block_cache_bytes,
        ServiceOptions {
            key,
            roots,
            ext_key_usages: cfg.ext_key_usages.clone(),
            log: LogOptions {
                max_batch: cfg.batch_max,
                max_linger: cfg.batch_linger,
                ..Default::default()
            },
            max_request_bytes: cfg.max_request_bytes,
            max_get_entries: cfg.max_get_entries,
        },
    )?;
    Ok(svc)
}

pub use sigstack_tlog::write_new_key;

/// Serves the API (paths under `prefix`, `""` for none) on `listener` until
/// `shutdown` completes.
pub async fn serve_with_prefix(
    listener: tokio::net::TcpListener,
    svc: Arc<Service>,
    prefix: &str,
    tls: Option<Arc<sigstack_http::tls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    sigstack_http::tls::serve(listener, api::router(svc, prefix), tls, shutdown).await
}

/// Serves the API at `/ct/v1/...` on `listener` (plain HTTP) until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    svc: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_prefix(listener, svc, "", None, shutdown).await
}

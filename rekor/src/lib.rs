//! Rekor-compatible transparency log.
//!
//! Crate map: [`types`] validates and canonicalizes entries (the byte-level
//! contract with upstream Rekor), [`signer`] holds the log key (checkpoints and
//! SETs), [`response`] writes the `LogEntry` JSON, [`service`] is the log as plain functions over the Merkle engine
//! (`sigstack-tlog`), [`api`] is the thin axum layer, [`config`] resolves file,
//! flags and environment.

pub mod api;
pub mod config;
pub mod response;
pub mod service;
pub mod signer;
pub mod types;
pub mod v2;

use std::sync::Arc;

use sigstack_tlog::LogOptions;

use config::Config;
use service::{Service, ServiceError, ServiceOptions};
use signer::LogKey;

/// Loads the key (generating the default one on first start) and opens the log.
pub fn open_service(cfg: &Config) -> Result<Service, anyhow::Error> {
    let passphrase = std::env::var("REKOR_SIGNING_KEY_PASSPHRASE").ok();
    if cfg.signing_key_defaulted && !cfg.signing_key.exists() {
        write_new_key(&cfg.signing_key)?;
        tracing::info!(path = %cfg.signing_key.display(), "generated a new log signing key");
    }
    let key = LogKey::from_file(&cfg.signing_key, passphrase.as_deref().map(str::as_bytes))?;
    let svc = Service::open(ServiceOptions {
        data_dir: cfg.data_dir.clone(),
        key,
        hostname: cfg.hostname.clone(),
        tree_id: cfg.tree_id,
        log: LogOptions {
            max_batch: cfg.batch_max,
            max_linger: cfg.batch_linger,
            ..Default::default()
        },
        max_request_bytes: cfg.max_request_bytes,
        block_cache_bytes: cfg.block_cache_bytes,
        v2: cfg.v2.as_ref().map(open_v2).transpose()?,
    })
    .map_err(|e: ServiceError| anyhow::anyhow!(e))?;
    Ok(svc)
}

pub use sigstack_tlog::write_new_key;

/// Loads (or on first start generates, Ed25519) the v2 log key.
fn open_v2(c: &config::V2Config) -> Result<v2::TilesOptions, anyhow::Error> {
    use sigstack_core::keys::SigningKey;
    if c.signing_key_defaulted && !c.signing_key.exists() {
        let pem = SigningKey::generate_ed25519().to_pkcs8_pem(None)?;
        sigstack_http::write_private_file(&c.signing_key, pem.as_bytes())?;
        tracing::info!(path = %c.signing_key.display(), "generated a new v2 log signing key (Ed25519)");
    }
    let pass = std::env::var("REKOR_V2_SIGNING_KEY_PASSPHRASE").ok();
    let text = std::fs::read(&c.signing_key)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", c.signing_key.display()))?;
    let key = SigningKey::from_pem(&text, pass.as_deref().map(str::as_bytes))
        .map_err(|e| anyhow::anyhow!("{}: {e}", c.signing_key.display()))?;
    Ok(v2::TilesOptions {
        data_dir: c.data_dir.clone(),
        key: v2::TilesKey::new(key, &c.origin)?,
        path_prefix: c.path_prefix.clone(),
        log: LogOptions::default(),
        block_cache_bytes: 8 << 20,
    })
}

/// Serves the API on `listener` (HTTPS when `tls` is given) until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    svc: Arc<Service>,
    tls: Option<Arc<sigstack_http::tls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    sigstack_http::tls::serve(listener, api::router(svc), tls, shutdown).await
}

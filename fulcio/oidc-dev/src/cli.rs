//! `oidc-dev`: flags, key file, listener.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use crate::{DevIssuer, IssuerKey};

/// Development OIDC issuer (local use only: it mints a token for any username).
#[derive(Parser)]
#[command(name = "oidc-dev", version)]
struct Args {
    #[arg(long, env = "OIDC_DEV_LISTEN", default_value = "127.0.0.1:8085")]
    listen: String,
    /// The issuer URL in tokens and discovery (default: http://<listen address>).
    #[arg(long, env = "OIDC_DEV_ISSUER_URL")]
    issuer_url: Option<String>,
    /// Signing key (PKCS#8 PEM, RSA or P-256); an RSA-2048 key is created (0600) when missing.
    #[arg(long, env = "OIDC_DEV_KEY")]
    key: PathBuf,
    /// ID token lifetime.
    #[arg(long, default_value_t = 600)]
    token_ttl_secs: u64,
    #[command(flatten)]
    tls: sigstack_http::tls::TlsArgs,
}

pub fn main() -> ExitCode {
    sigstack_http::init_tracing(false);
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_or_create_key(path: &PathBuf) -> Result<IssuerKey> {
    match std::fs::read_to_string(path) {
        Ok(pem) => IssuerKey::from_pkcs8_pem(&pem).with_context(|| path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = IssuerKey::generate()?;
            let pem = key.to_pkcs8_pem()?;
            sigstack_http::write_private_file(path, pem.as_bytes())?;
            tracing::info!(path = %path.display(), "created issuer key");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| path.display().to_string()),
    }
}

fn run(a: Args) -> Result<()> {
    let key = load_or_create_key(&a.key)?;
    let tls = a.tls.load()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("listen on {}", a.listen))?;
        let addr = listener.local_addr()?;
        sigstack_http::tls::check_plain_http(addr, tls.is_some(), a.tls.insecure_http)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = a.issuer_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
        let issuer = DevIssuer::new(&url, key, Duration::from_secs(a.token_ttl_secs))?;
        tracing::info!(issuer = %url, %addr, "development OIDC issuer (mints tokens for anyone: local use only)");
        sigstack_http::tls::serve(listener, crate::router(issuer), tls, sigstack_http::shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

use std::sync::Arc;

use clap::Parser;
use sigstack_ctlog::config::{Args, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cfg = Config::resolve(&Args::parse())?;
    let svc = Arc::new(sigstack_ctlog::open_service(&cfg)?);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    tracing::info!(
        listen = %cfg.listen,
        prefix = %cfg.path_prefix,
        log_id = %svc.log_id_hex(),
        roots = svc.roots().count(),
        tree_size = svc.head().size,
        "ctlog-server ready"
    );
    sigstack_ctlog::serve_with_prefix(listener, svc, &cfg.path_prefix, async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
    .await?;
    Ok(())
}

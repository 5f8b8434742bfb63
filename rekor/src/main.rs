use std::sync::Arc;

use clap::Parser;
use rekor::config::{Args, Config};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sigstack_http::init_tracing(false);
    let args = Args::parse();
    let cfg = Config::resolve(&args)?;
    let tls = args.tls.load()?;
    // Refuse before anything is opened or created.
    sigstack_http::tls::check_plain_http(cfg.listen, tls.is_some(), args.tls.insecure_http)?;
    let svc = Arc::new(rekor::open_service(&cfg)?);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    tracing::info!(
        listen = %cfg.listen,
        hostname = %cfg.hostname,
        tree_id = svc.tree_id(),
        log_id = %svc.log_id_hex(),
        tree_size = svc.head().size,
        "rekor-server ready"
    );
    rekor::serve(listener, svc, tls, sigstack_http::shutdown_signal()).await?;
    Ok(())
}

use std::sync::Arc;

use clap::Parser;
use sigstack_ctlog::config::{Args, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sigstack_http::init_tracing(false);
    let args = Args::parse();
    let cfg = Config::resolve(&args)?;
    let tls = args.tls.load()?;
    // Refuse before anything is opened or created.
    sigstack_http::tls::check_plain_http(cfg.listen, tls.is_some(), args.tls.insecure_http)?;
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
    sigstack_ctlog::serve_with_prefix(
        listener,
        svc,
        &cfg.path_prefix,
        tls,
        sigstack_http::shutdown_signal(),
    )
    .await?;
    Ok(())
}

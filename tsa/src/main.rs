use clap::Parser;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sigstack_http::init_tracing(false);
    tsa::cli::run(tsa::cli::Cli::parse()).await
}

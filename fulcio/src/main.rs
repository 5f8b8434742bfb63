use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sigstack_http::init_tracing(false);
    fulcio::cli::run(fulcio::cli::Cli::parse()).await
}

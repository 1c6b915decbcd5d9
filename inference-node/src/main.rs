//! `rudder-node serve`: parse the command line, set up JSON logs, and run the node until SIGINT
//! or SIGTERM.

use clap::Parser;
use rudder_node::config::{Cli, Command};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    rudder_http::raise_open_file_limit();
    let Command::Serve(args) = Cli::parse().command;
    let listen = args.listen;
    let config = args.into_config()?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    rudder_node::run(config, listener, shutdown_signal()).await
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the node");
            tokio::signal::ctrl_c().await.ok();
        }
    }
}

//! `rudder-node-bench`: load generator, node-vs-baseline comparison and plan benchmark for the
//! inference node.
//!
//! - `http` drives servers that are already running (e.g. the node and a baseline) with N
//!   concurrent keep-alive clients for a fixed time and prints images/s and latency percentiles.
//! - `compare` starts the node (one or more configurations) and the FastAPI + onnxruntime
//!   baseline itself, pinned to the same CPUs, measures them in interleaved rounds and prints the
//!   ratio; it stops every process it started.
//! - `plans` times tract plans in-process: symbolic vs per-size batch plans, and the per-image
//!   cost of each batch size, without HTTP, decode or preprocessing.

mod compare;
mod load;
mod plans;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks for rudder-node")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// POST images to each running target as fast as N clients can, for a fixed time.
    Http {
        /// `name=host:port`, repeatable; targets run one after another.
        #[arg(long = "target", required = true, value_parser = parse_target)]
        targets: Vec<(String, SocketAddr)>,
        /// PNG images to send (repeatable; requests cycle through them).
        #[arg(long = "image", default_value = "models/samples/chelsea.png")]
        images: Vec<PathBuf>,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Measured seconds per target.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Unmeasured warm-up seconds per target.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
    },
    /// Start the node and the FastAPI + onnxruntime baseline, measure both, print the ratio.
    Compare(compare::CompareArgs),
    /// Time tract model runs in-process, per batch size and plan strategy.
    Plans(plans::PlansArgs),
}

fn parse_target(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s.split_once('=').ok_or("expected name=host:port")?;
    Ok((name.to_owned(), addr.parse().map_err(|e| format!("{addr}: {e}"))?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Bench::Http { targets, images, concurrency, seconds, warmup } => {
            let bodies = load::load_bodies(&images)?;
            println!(
                "{:<12} {:>8} {:>9} {:>9} {:>9} {:>7}  mean server stages (ms)",
                "target", "images/s", "p50_ms", "p99_ms", "requests", "errors"
            );
            for (name, addr) in targets {
                load::drive(addr, &bodies, concurrency, Duration::from_secs(warmup), None).await?;
                let report =
                    load::drive(addr, &bodies, concurrency, Duration::from_secs(seconds), None).await?;
                println!(
                    "{name:<12} {:>8.1} {:>9.1} {:>9.1} {:>9} {:>7}  {}",
                    report.images_per_second(),
                    report.percentile(0.50),
                    report.percentile(0.99),
                    report.ok,
                    report.errors,
                    report.stages()
                );
            }
        }
        Bench::Compare(args) => compare::run(args).await?,
        Bench::Plans(args) => tokio::task::spawn_blocking(move || plans::run(&args)).await??,
    }
    Ok(())
}

//! `rudder-node-bench`: load generator and plan benchmark for the inference node.
//!
//! `http` drives running servers (the node and, in the same run, a baseline) with N concurrent
//! keep-alive clients for a fixed time and prints images/s and latency percentiles for each.
//! `plans` times tract's symbolic-batch plan against one plan per batch size.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rudder_node::http_client::Connection;
use rudder_node::model::{BatchPlans, Classifier, ModelSpec};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks for rudder-node")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// POST an image to each target as fast as N clients can, for a fixed time.
    Http {
        /// `name=host:port`, repeatable; targets run one after another.
        #[arg(long = "target", required = true, value_parser = parse_target)]
        targets: Vec<(String, SocketAddr)>,
        #[arg(long, default_value = "models/samples/chelsea.png")]
        image: PathBuf,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Measured seconds per target.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Unmeasured warm-up seconds per target.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
    },
    /// Time one model run per batch size with each plan strategy.
    Plans {
        #[arg(long, default_value = "models/v1")]
        model_dir: PathBuf,
        #[arg(long, default_value_t = 8)]
        max_batch: usize,
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
}

fn parse_target(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s.split_once('=').ok_or("expected name=host:port")?;
    Ok((name.to_owned(), addr.parse().map_err(|e| format!("{addr}: {e}"))?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Bench::Http { targets, image, concurrency, seconds, warmup } => {
            let body = std::fs::read(&image)?;
            println!(
                "{:<12} {:>8} {:>9} {:>9} {:>9} {:>7}",
                "target", "images/s", "p50_ms", "p99_ms", "requests", "errors"
            );
            for (name, addr) in targets {
                drive(addr, &body, concurrency, Duration::from_secs(warmup)).await?;
                let report = drive(addr, &body, concurrency, Duration::from_secs(seconds)).await?;
                println!(
                    "{name:<12} {:>8.1} {:>9.1} {:>9.1} {:>9} {:>7}",
                    report.ok as f64 / report.elapsed.as_secs_f64(),
                    report.percentile(0.50),
                    report.percentile(0.99),
                    report.ok,
                    report.errors
                );
            }
        }
        Bench::Plans { model_dir, max_batch, runs } => plans(&model_dir, max_batch, runs)?,
    }
    Ok(())
}

struct Report {
    ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
}

impl Report {
    fn percentile(&self, q: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let rank = (q * self.latencies_ms.len() as f64).ceil() as usize;
        self.latencies_ms[rank.clamp(1, self.latencies_ms.len()) - 1]
    }
}

async fn drive(
    addr: SocketAddr,
    body: &[u8],
    concurrency: usize,
    length: Duration,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let body = body.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut conn = None;
            while Instant::now() < deadline {
                if conn.is_none() {
                    conn = Connection::connect(addr).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let sent = Instant::now();
                match c.request("POST", "/predict", &[("content-type", "image/png")], &body).await {
                    Ok(r) if r.status == 200 => latencies.push(sent.elapsed().as_secs_f64() * 1e3),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = None;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut report = Report { ok: 0, errors: 0, elapsed: Duration::ZERO, latencies_ms: Vec::new() };
    for task in tasks {
        let (latencies, errors) = task.await?;
        report.ok += latencies.len();
        report.errors += errors;
        report.latencies_ms.extend(latencies);
    }
    report.elapsed = started.elapsed();
    report.latencies_ms.sort_by(f64::total_cmp);
    Ok(report)
}

fn plans(model_dir: &std::path::Path, max_batch: usize, runs: usize) -> anyhow::Result<()> {
    let spec = ModelSpec::from_dir(model_dir)?;
    let per_image = spec.preprocessing.values_per_image();
    println!("{:<9} {:>5} {:>10} {:>12} {:>8}", "plans", "batch", "ms/batch", "ms/image", "load_s");
    for strategy in [BatchPlans::Symbolic, BatchPlans::PerSize] {
        let loading = Instant::now();
        let classifier = Classifier::load(spec.clone(), strategy, max_batch)?;
        let load_s = loading.elapsed().as_secs_f64();
        let mut state = classifier.new_state()?;
        for batch in [1, 2, 4, max_batch].into_iter().filter(|b| *b <= max_batch) {
            classifier.run(&mut state, vec![0.1; batch * per_image], batch)?;
            let started = Instant::now();
            for _ in 0..runs {
                classifier.run(&mut state, vec![0.1; batch * per_image], batch)?;
            }
            let ms = started.elapsed().as_secs_f64() * 1e3 / runs as f64;
            println!("{strategy:<9?} {batch:>5} {ms:>10.2} {:>12.2} {load_s:>8.2}", ms / batch as f64);
        }
    }
    Ok(())
}

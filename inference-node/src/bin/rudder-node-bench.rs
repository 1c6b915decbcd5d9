//! `rudder-node-bench`: load generator and plan benchmark for the inference node.
//!
//! `http` drives running servers (the node and, in the same run, a baseline) with N concurrent
//! keep-alive clients for a fixed time and prints images/s and latency percentiles for each.
//! `plans` times tract's symbolic-batch plan against one plan per batch size.
//!
//! Every request carries different bytes — the PNG gets a `tEXt` chunk holding a request counter
//! (PNG 1.2 §4.2.3.1; decoders ignore it) — so neither the node's result cache nor any other
//! cache keyed on the body can answer: each request is a real decode + preprocess + inference.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
        Bench::Http { targets, images, concurrency, seconds, warmup } => {
            let mut bodies = Vec::new();
            for path in &images {
                let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                anyhow::ensure!(bytes.starts_with(PNG_SIGNATURE), "{} is not a PNG", path.display());
                bodies.push(Arc::new(bytes));
            }
            println!(
                "{:<12} {:>8} {:>9} {:>9} {:>9} {:>7}  mean server stages (ms)",
                "target", "images/s", "p50_ms", "p99_ms", "requests", "errors"
            );
            for (name, addr) in targets {
                drive(addr, &bodies, concurrency, Duration::from_secs(warmup)).await?;
                let report = drive(addr, &bodies, concurrency, Duration::from_secs(seconds)).await?;
                println!(
                    "{name:<12} {:>8.1} {:>9.1} {:>9.1} {:>9} {:>7}  {}",
                    report.ok as f64 / report.elapsed.as_secs_f64(),
                    report.percentile(0.50),
                    report.percentile(0.99),
                    report.ok,
                    report.errors,
                    report.stages()
                );
            }
        }
        Bench::Plans { model_dir, max_batch, runs } => plans(&model_dir, max_batch, runs)?,
    }
    Ok(())
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Stage names in the node's `timings_ms`, summed over responses.
const STAGES: [&str; 4] = ["decode", "preprocess", "inference", "total"];

/// `png` with a `tEXt` chunk (`rudder-bench` = `counter`) right after `IHDR`, so every request
/// has distinct bytes. `png` must start with the signature and `IHDR` (checked at start-up).
fn unique_png(png: &[u8], counter: u64) -> Vec<u8> {
    const IHDR_END: usize = 8 + 4 + 4 + 13 + 4; // signature, length, type, data, CRC
    let split = IHDR_END.min(png.len());
    let mut data = b"rudder-bench\0".to_vec();
    data.extend_from_slice(counter.to_string().as_bytes());
    let mut chunk = Vec::with_capacity(data.len() + 12);
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(&data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend_from_slice(&png[..split]);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[split..]);
    out
}

/// CRC-32 (ISO-HDLC, the PNG chunk CRC, PNG 1.2 §3.4), bitwise: a few hundred bytes per request.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

struct Report {
    ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
    /// Sums of the node's per-stage timings and how many responses reported them.
    stage_sums: [f64; 4],
    stage_count: usize,
}

impl Report {
    fn stages(&self) -> String {
        if self.stage_count == 0 {
            return "-".into();
        }
        let n = self.stage_count as f64;
        STAGES
            .iter()
            .zip(self.stage_sums)
            .map(|(s, v)| format!("{s} {:.1}", v / n))
            .collect::<Vec<_>>()
            .join(", ")
    }

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
    bodies: &[Arc<Vec<u8>>],
    concurrency: usize,
    length: Duration,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::new();
    let clients = concurrency.max(1) as u64;
    for client in 0..clients {
        let bodies = bodies.to_vec();
        // Distinct counters across clients and runs: client i sends i, i + clients, ...
        let epoch = started.elapsed().as_nanos() as u64
            ^ SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut stage_sums = [0.0f64; 4];
            let mut stage_count = 0usize;
            let mut counter = client;
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
                let source = &bodies[(counter / clients) as usize % bodies.len()];
                let body = unique_png(source, epoch.wrapping_add(counter));
                counter += clients;
                let sent = Instant::now();
                match c.request("POST", "/predict", &[("content-type", "image/png")], &body).await {
                    Ok(r) if r.status == 200 => {
                        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                        if let Ok(json) = r.json()
                            && json["timings_ms"]["inference"].is_number()
                        {
                            stage_count += 1;
                            for (sum, stage) in stage_sums.iter_mut().zip(STAGES) {
                                *sum += json["timings_ms"][stage].as_f64().unwrap_or(0.0);
                            }
                        }
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = None;
                    }
                }
            }
            (latencies, errors, stage_sums, stage_count)
        }));
    }
    let mut report = Report {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_ms: Vec::new(),
        stage_sums: [0.0; 4],
        stage_count: 0,
    };
    for task in tasks {
        let (latencies, errors, sums, count) = task.await?;
        report.ok += latencies.len();
        report.errors += errors;
        report.latencies_ms.extend(latencies);
        report.stage_count += count;
        report.stage_sums.iter_mut().zip(sums).for_each(|(a, b)| *a += b);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_png_iend_chunk() {
        // Every PNG ends with IEND, whose CRC over "IEND" is AE 42 60 82.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn unique_pngs_differ_and_still_decode_to_the_same_pixels() {
        let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/samples/coffee.png"))
            .expect("sample");
        let (a, b) = (unique_png(&png, 1), unique_png(&png, 2));
        assert_ne!(a, b);
        let decode = |bytes: &[u8]| image::load_from_memory(bytes).expect("decodes").into_rgb8();
        assert_eq!(decode(&a), decode(&png));
        assert_eq!(decode(&b), decode(&png));
    }
}

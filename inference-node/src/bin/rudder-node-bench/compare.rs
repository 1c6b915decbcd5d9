//! `compare`: the whole node-vs-baseline comparison in one command. Starts every server (each
//! `--node` configuration of `rudder-node` and each `--baseline` configuration of the FastAPI +
//! onnxruntime server), all pinned to the same CPUs, waits until each is ready, then drives them
//! one at a time in interleaved rounds (A B C, then C B A, ...) so a change in machine load hits
//! every server alike, and prints images/s, latency, server CPU per image and the ratio of each
//! node configuration to each baseline. Every process it starts is killed before it returns,
//! also on an error, SIGINT or SIGTERM.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use rudder_node::http_client;
use tokio::process::{Child, Command};

use crate::load::{self, Report};

/// The repository this binary was built from (default paths are looked up there when they are
/// not found relative to the working directory).
const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The `rudder-node` binary. Default: env `RUDDER_NODE_BIN`, then `rudder-node` next to this
    /// executable (so a release bench runs the release node), then `PATH`.
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// A node configuration to measure, `name=<rudder-node serve flags>` (repeatable), e.g.
    /// `--node 'w2b1=--workers 2 --max-batch 1'`. Default: `rudder=` (the node's defaults).
    #[arg(long = "node", value_parser = parse_named_args)]
    nodes: Vec<(String, Vec<String>)>,
    /// A baseline configuration, `name=<baseline_server.py flags>` (repeatable), e.g.
    /// `--baseline 'ort-1t=--threads 1'`. Default: `fastapi-ort=` (onnxruntime's default threads).
    #[arg(long = "baseline", value_parser = parse_named_args)]
    baselines: Vec<(String, Vec<String>)>,
    /// Python with onnxruntime, fastapi and uvicorn (`make venv`).
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    #[arg(long, default_value = "inference-node/bench/baseline_server.py")]
    baseline_script: PathBuf,
    /// Model directory served by every server.
    #[arg(long, default_value = "models/v1")]
    model_dir: PathBuf,
    /// CPU list every server is pinned to (`taskset -c`); empty for no pinning.
    #[arg(long, default_value = "0,1")]
    cpus: String,
    /// Concurrent clients (repeatable: each value is a separate comparison).
    #[arg(long = "concurrency", default_values_t = [4, 8])]
    concurrency: Vec<usize>,
    /// Interleaved rounds per concurrency; every server is measured once per round.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Measured seconds per server per round.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Unmeasured warm-up seconds before each measured period.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// PNG images to send (requests cycle through them).
    #[arg(long = "image", default_values = [
        "models/samples/chelsea.png", "models/samples/coffee.png",
        "models/samples/astronaut.png", "models/samples/camera.png",
    ])]
    images: Vec<PathBuf>,
    /// Seconds to wait for each server to become ready.
    #[arg(long, default_value_t = 180)]
    ready_timeout: u64,
}

fn parse_named_args(s: &str) -> Result<(String, Vec<String>), String> {
    let (name, flags) = s.split_once('=').ok_or("expected name=flags (flags may be empty)")?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("`{name}` is not a usable name"));
    }
    Ok((name.to_owned(), flags.split_whitespace().map(str::to_owned).collect()))
}

/// `path` as given if it exists, else relative to the repository root.
fn resolve(path: &Path) -> PathBuf {
    if path.is_relative() && !path.exists() {
        let in_repo = Path::new(REPO_ROOT).join(path);
        if in_repo.exists() {
            return in_repo;
        }
    }
    path.to_path_buf()
}

/// The node binary: env `RUDDER_NODE_BIN`, then next to the running executable, then `PATH`.
pub fn find_node_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("RUDDER_NODE_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        anyhow::ensure!(path.is_file(), "RUDDER_NODE_BIN={} does not exist", path.display());
        return Ok(path);
    }
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("rudder-node")));
    if let Some(path) = beside.filter(|p| p.is_file()) {
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("rudder-node")).find(|p| p.is_file()));
    on_path.context(
        "no rudder-node binary: set RUDDER_NODE_BIN or build it with `cargo build --release -p rudder-node`",
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Node,
    Baseline,
}

struct Server {
    name: String,
    kind: Kind,
    addr: SocketAddr,
    pid: u32,
    child: Child,
    log: PathBuf,
}

impl Server {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}) before it was ready; its log:\n{}", self.name, self.log_tail());
            }
            if let Ok(r) = http_client::request(self.addr, "GET", "/health", &[], &[]).await
                && r.status == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("{} was not ready after {timeout:?}; its log:\n{}", self.name, self.log_tail())
    }

    async fn stop(mut self) {
        self.child.start_kill().ok();
        self.child.wait().await.ok();
        std::fs::remove_file(&self.log).ok();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Spawns `program args` pinned to `cpus`, output to a log file, killed if dropped.
fn spawn(
    name: &str,
    kind: Kind,
    cpus: &str,
    program: &Path,
    args: &[String],
    port: u16,
) -> anyhow::Result<Server> {
    let log = std::env::temp_dir().join(format!("rudder-node-bench-{}-{name}.log", std::process::id()));
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = if cpus.is_empty() {
        Command::new(program)
    } else {
        // taskset execs the program, so the child's PID is the server's own.
        let mut c = Command::new("taskset");
        c.arg("-c").arg(cpus).arg(program);
        c
    };
    command.args(args).stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).kill_on_drop(true);
    let child = command.spawn().with_context(|| format!("starting {name} ({})", program.display()))?;
    let pid = child.id().context("child has no PID")?;
    Ok(Server {
        name: name.to_owned(),
        kind,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        pid,
        child,
        log,
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

pub async fn run(args: CompareArgs) -> anyhow::Result<()> {
    let mut servers = Vec::new();
    let outcome = {
        let work = start_and_measure(&args, &mut servers);
        tokio::select! {
            result = work => result,
            signal = stop_signal() => Err(anyhow::anyhow!("stopped by {signal}")),
        }
    };
    for server in servers {
        server.stop().await;
    }
    outcome
}

async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        Err(_) => {
            tokio::signal::ctrl_c().await.ok();
            "SIGINT"
        }
    }
}

async fn start_and_measure(args: &CompareArgs, servers: &mut Vec<Server>) -> anyhow::Result<()> {
    let images: Vec<PathBuf> = args.images.iter().map(|p| resolve(p)).collect();
    let bodies = load::load_bodies(&images)?;
    let model_dir = resolve(&args.model_dir);
    anyhow::ensure!(
        model_dir.join("model.json").is_file(),
        "{}/model.json not found (run `make model`)",
        model_dir.display()
    );
    let node_bin = match &args.node_bin {
        Some(p) => p.clone(),
        None => find_node_binary()?,
    };
    let python = resolve(&args.python);
    anyhow::ensure!(python.is_file(), "{} not found (run `make venv`)", python.display());
    let script = resolve(&args.baseline_script);
    let default = |name: &str| vec![(name.to_owned(), Vec::new())];
    let nodes = if args.nodes.is_empty() { default("rudder") } else { args.nodes.clone() };
    let baselines = if args.baselines.is_empty() { default("fastapi-ort") } else { args.baselines.clone() };

    println!("node binary: {}", node_bin.display());
    println!("baseline:    {} {}", python.display(), script.display());
    println!(
        "model: {}  cpus: {}  images: {}",
        model_dir.display(),
        if args.cpus.is_empty() { "all" } else { &args.cpus },
        images.len()
    );
    println!("load average at start: {}", load_average());
    let model = model_dir.to_string_lossy().into_owned();
    for (name, flags) in &nodes {
        let port = free_port()?;
        let mut argv: Vec<String> =
            ["serve", "--listen", &format!("127.0.0.1:{port}"), "--model-dir", &model, "--node-id", name]
                .map(str::to_owned)
                .into();
        argv.extend(flags.iter().cloned());
        servers.push(spawn(name, Kind::Node, &args.cpus, &node_bin, &argv, port)?);
    }
    for (name, flags) in &baselines {
        let port = free_port()?;
        let mut argv = vec![script.to_string_lossy().into_owned()];
        argv.extend(["--model-dir", &model, "--port", &port.to_string()].map(str::to_owned));
        argv.extend(flags.iter().cloned());
        servers.push(spawn(name, Kind::Baseline, &args.cpus, &python, &argv, port)?);
    }
    for server in servers.iter_mut() {
        server.wait_ready(Duration::from_secs(args.ready_timeout)).await?;
    }
    let ticks = load::clock_ticks_per_second();
    for &concurrency in &args.concurrency {
        measure(args, servers, &bodies, concurrency, ticks).await?;
    }
    println!("load average at end: {}", load_average());
    Ok(())
}

async fn measure(
    args: &CompareArgs,
    servers: &[Server],
    bodies: &[Arc<Vec<u8>>],
    concurrency: usize,
    ticks: u64,
) -> anyhow::Result<()> {
    println!("\n== concurrency {concurrency}, {} round(s) of {} s per server", args.rounds, args.seconds);
    println!(
        "{:<5} {:<14} {:>8} {:>8} {:>8} {:>10} {:>6} {:>15}  node stages (mean ms)",
        "round", "target", "images/s", "p50_ms", "p99_ms", "cpu_ms/img", "errors", "load"
    );
    let mut rounds: Vec<Vec<Report>> = vec![Vec::new(); servers.len()];
    for round in 0..args.rounds.max(1) {
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let server = &servers[i];
            let pid = Some((server.pid, ticks));
            load::drive(server.addr, bodies, concurrency, Duration::from_secs(args.warmup), None).await?;
            let report =
                load::drive(server.addr, bodies, concurrency, Duration::from_secs(args.seconds), pid).await?;
            println!(
                "{:<5} {:<14} {:>8.1} {:>8.1} {:>8.1} {:>10} {:>6} {:>15}  {}",
                round + 1,
                server.name,
                report.images_per_second(),
                report.percentile(0.50),
                report.percentile(0.99),
                report.cpu_ms_per_image().map_or("?".into(), |c| format!("{c:.1}")),
                report.errors,
                load_average(),
                report.stages()
            );
            rounds[i].push(report);
        }
    }
    println!("-- pooled over rounds (concurrency {concurrency})");
    let pooled: Vec<Report> = rounds
        .iter()
        .map(|reports| {
            let mut total = Report::default();
            reports.iter().for_each(|r| total.merge(r));
            total
        })
        .collect();
    for (server, total) in servers.iter().zip(&pooled) {
        println!(
            "{:<20} {:>8.1} images/s  p50 {:>7.1} ms  p99 {:>7.1} ms  cpu {:>6} ms/image",
            server.name,
            total.images_per_second(),
            total.percentile(0.50),
            total.percentile(0.99),
            total.cpu_ms_per_image().map_or("?".into(), |c| format!("{c:.1}"))
        );
    }
    for (n, node) in servers.iter().enumerate().filter(|(_, s)| s.kind == Kind::Node) {
        for (b, base) in servers.iter().enumerate().filter(|(_, s)| s.kind == Kind::Baseline) {
            let per_round: Vec<String> = rounds[n]
                .iter()
                .zip(&rounds[b])
                .map(|(x, y)| format!("{:.2}", x.images_per_second() / y.images_per_second()))
                .collect();
            let cpu = match (pooled[n].cpu_ms_per_image(), pooled[b].cpu_ms_per_image()) {
                (Some(x), Some(y)) => format!("{:.2}", y / x),
                _ => "?".into(),
            };
            println!(
                "RATIO c={concurrency} {} / {}: {:.2}x images/s (rounds: {}), {cpu}x images per CPU-second",
                node.name,
                base.name,
                pooled[n].images_per_second() / pooled[b].images_per_second(),
                per_round.join(", ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_args_split_into_name_and_flags() {
        assert_eq!(
            parse_named_args("w2b1=--workers 2  --max-batch 1").expect("parse"),
            ("w2b1".to_owned(), vec!["--workers".into(), "2".into(), "--max-batch".into(), "1".into()])
        );
        assert_eq!(parse_named_args("plain=").expect("parse"), ("plain".to_owned(), Vec::new()));
        assert!(parse_named_args("no-equals").is_err());
        assert!(parse_named_args("=--workers 1").is_err());
    }

    #[test]
    fn relative_paths_fall_back_to_the_repository() {
        let found = resolve(Path::new("models/v1/model.json"));
        assert!(found.is_file(), "{}", found.display());
        assert_eq!(resolve(Path::new("/nonexistent/x")), PathBuf::from("/nonexistent/x"));
    }

    #[tokio::test]
    async fn a_server_that_exits_early_is_reported_with_its_log() {
        let script = ["-c".to_owned(), "echo the-reason >&2; exit 3".to_owned()];
        let mut server =
            spawn("dies", Kind::Baseline, "", Path::new("/bin/sh"), &script, free_port().expect("port"))
                .expect("spawn");
        let err = server.wait_ready(Duration::from_secs(10)).await.expect_err("not ready");
        let text = format!("{err:#}");
        assert!(text.contains("exited") && text.contains("the-reason"), "{text}");
        server.stop().await;
    }

    #[tokio::test]
    async fn stop_kills_a_running_server() {
        let args = ["30".to_owned()];
        let server = spawn("sleeper", Kind::Baseline, "", Path::new("/bin/sleep"), &args, 1).expect("spawn");
        let pid = server.pid;
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        server.stop().await;
        // Reaped, so the PID's /proc entry is gone (or reused by an unrelated, non-sleep process).
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert_ne!(comm.trim(), "sleep");
    }
}

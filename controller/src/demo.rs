//! `rudder demo`: the one-command tour. Brings a topology up (Open vSwitch, namespaces, the controller
//! with the load balancer and the dashboard, the inference nodes), waits until the load balancer sees
//! every backend healthy, sends the sample photos through each pool's virtual IP and prints what came
//! back and which node served it, then keeps running until Ctrl-C (or, with `--once`, exits at once
//! with status 0 only if every request succeeded) and tears everything down.
//!
//! The photos go from this machine through the topology's host-access port into the switch, so every
//! request is steered by the flow rules the load balancer installs, like a client's.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

use crate::lab::state;
use crate::lab::topology::Topology;
use crate::lab::{down, resolve_topology, up};

/// `rudder demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Topology file, or the name of one in `topologies/`.
    #[arg(default_value = "default")]
    pub topology: String,
    /// Classify the samples once, tear down and exit: status 0 only if every request succeeded.
    #[arg(long)]
    pub once: bool,
    /// How many times each sample photo is sent through each pool.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub rounds: u32,
    /// Directory of sample photos (PNG/JPEG); default: `samples/` in the models directory.
    #[arg(long, value_name = "DIR")]
    pub samples: Option<PathBuf>,
    /// Leave the topology running on exit (remove it later with `rudder down`).
    #[arg(long)]
    pub keep: bool,
    /// The rudder-node binary (default: $RUDDER_NODE_BIN, next to this binary, then PATH).
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// Directory holding the model directories (v1/, v2/, labels/, samples/).
    #[arg(long, value_name = "DIR", env = "RUDDER_MODELS_DIR")]
    pub models: Option<PathBuf>,
    /// Where state, logs and the private Open vSwitch live.
    #[arg(long, value_name = "DIR", env = "RUDDER_STATE_DIR", default_value = state::DEFAULT_ROOT)]
    pub state_dir: PathBuf,
    /// Longest wait, in seconds, for the switches, the nodes and the health checks.
    #[arg(long, default_value_t = 180.0, value_name = "SECONDS")]
    pub timeout: f64,
}

/// One classification through a VIP, as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub label: String,
    pub confidence: f64,
    pub node: String,
    pub model_version: String,
    pub elapsed: Duration,
}

/// `rudder demo`.
pub async fn run_demo(args: DemoArgs) -> anyhow::Result<std::process::ExitCode> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    let file = resolve_topology(&args.topology)?;
    let topology = Topology::from_file(&file)?;
    if topology.pools.is_empty() {
        bail!("topology {:?} has no [[pools]]: the demo sends photos through a pool's VIP", topology.name);
    }
    if topology.host_access.is_none() {
        bail!("topology {:?} has no [host_access]: this machine could not reach the VIPs", topology.name);
    }
    let samples = sample_photos(&samples_dir(&args, &file))?;
    let timeout = Duration::from_secs_f64(args.timeout.min(3600.0));

    println!("==> bringing up topology {:?} ({})", topology.name, file.display());
    let opts = up::UpOptions {
        file: file.clone(),
        state_root: args.state_dir.clone(),
        ovs_db: None,
        start_controller: true,
        start_nodes: true,
        node_bin: args.node_bin.clone(),
        models: args.models.clone(),
        timeout,
    };
    let teardown = Teardown { root: args.state_dir.clone(), name: topology.name.clone(), keep: args.keep };
    tokio::task::spawn_blocking(move || up::up(&opts)).await.context("rudder up panicked")??;

    let result = tour(&topology, &samples, args.rounds, timeout, args.once).await;
    let exit = match &result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    };
    tokio::task::spawn_blocking(move || teardown.run()).await.context("rudder down panicked")??;
    Ok(exit)
}

/// Sends the photos, prints the results and, unless `once`, waits for Ctrl-C. `Ok(true)` when every
/// request succeeded.
async fn tour(
    topology: &Topology,
    samples: &[(String, Vec<u8>)],
    rounds: u32,
    timeout: Duration,
    once: bool,
) -> anyhow::Result<bool> {
    let api = topology.controller.api;
    let client = reqwest::Client::builder()
        .no_proxy()
        // A new TCP connection per request: each one is a new flow the load balancer steers.
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()?;
    println!("==> waiting for the load balancer to see every backend healthy");
    wait_healthy(&client, api, timeout).await?;

    let mut failures = 0usize;
    let mut total = 0usize;
    for pool in &topology.pools {
        let port = pool.ports.first().copied().unwrap_or(8000);
        println!("==> pool {:?}: VIP {}:{} ({})", pool.name, pool.vip, port, pool.algorithm.name());
        for _ in 0..rounds.max(1) {
            for (name, bytes) in samples {
                total += 1;
                match classify(&client, pool.vip, port, bytes).await {
                    Ok(o) => println!(
                        "    {name:<16} -> {:<24} {:>5.1}%  served by {} (model {}) in {} ms",
                        o.label,
                        o.confidence * 100.0,
                        o.node,
                        o.model_version,
                        o.elapsed.as_millis()
                    ),
                    Err(e) => {
                        failures += 1;
                        println!("    {name:<16} -> FAILED: {e:#}");
                    }
                }
            }
        }
    }
    print_shares(&client, api).await;
    println!("==> {} of {total} requests succeeded", total - failures);
    println!(
        "==> dashboard: http://{api}/dashboard/   REST: http://{api}/lb/stats   metrics: http://{api}/metrics"
    );
    if !once {
        println!("==> running; press Ctrl-C to stop and tear everything down");
        wait_for_signal().await;
        println!("==> stopping");
    }
    Ok(failures == 0)
}

/// Removes the topology when the demo ends, unless asked to keep it.
struct Teardown {
    root: PathBuf,
    name: String,
    keep: bool,
}

impl Teardown {
    fn run(self) -> anyhow::Result<()> {
        if self.keep {
            println!("==> leaving topology {:?} up; remove it with `rudder down {}`", self.name, self.name);
            return Ok(());
        }
        println!("==> tearing down topology {:?}", self.name);
        let report = down::down(&self.root, &self.name)?;
        if !report.problems.is_empty() {
            for p in &report.problems {
                eprintln!("problem: {p}");
            }
            bail!("some of topology {:?} is left; run `rudder down {}` again", self.name, self.name);
        }
        println!("==> topology {:?} is down", self.name);
        Ok(())
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Polls `/lb/stats` until every backend of every pool is healthy.
async fn wait_healthy(client: &reqwest::Client, api: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        match stats(client, api).await {
            Ok(v) => {
                let (healthy, total) = count_healthy(&v);
                if total > 0 && healthy == total {
                    println!("    {healthy}/{total} backends healthy");
                    return Ok(());
                }
                last = format!("{healthy}/{total} backends healthy");
            }
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("the load balancer did not see every backend healthy within {timeout:?} ({last})")
}

async fn stats(client: &reqwest::Client, api: SocketAddr) -> anyhow::Result<Value> {
    let r = client.get(format!("http://{api}/lb/stats")).send().await?.error_for_status()?;
    Ok(r.json().await?)
}

/// (healthy, total) backends over every pool of a `/lb/stats` document.
pub fn count_healthy(stats: &Value) -> (usize, usize) {
    let backends = stats["pools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["backends"].as_array().into_iter().flatten());
    backends.fold((0, 0), |(h, t), b| (h + usize::from(b["health"] == "healthy"), t + 1))
}

async fn print_shares(client: &reqwest::Client, api: SocketAddr) {
    let Ok(v) = stats(client, api).await else { return };
    for pool in v["pools"].as_array().into_iter().flatten() {
        let parts: Vec<String> = pool["backends"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                let who = b["node_id"].as_str().or(b["ip"].as_str()).unwrap_or("?");
                format!("{who} {} flows", b["total_flows"].as_u64().unwrap_or(0))
            })
            .collect();
        println!("    pool {}: {}", pool["name"].as_str().unwrap_or("?"), parts.join(", "));
    }
}

/// POSTs one photo to `http://vip:port/predict` and reads the top class and the serving node.
async fn classify(
    client: &reqwest::Client,
    vip: Ipv4Addr,
    port: u16,
    image: &[u8],
) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let resp = client
        .post(format!("http://{vip}:{port}/predict?top_k=1"))
        .header(reqwest::header::CONTENT_TYPE, "image/png")
        .body(image.to_vec())
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await.context("the answer is not JSON")?;
    if !status.is_success() {
        bail!("HTTP {status}: {}", body["error"].as_str().unwrap_or("no reason given"));
    }
    parse_prediction(&body, start.elapsed())
}

/// The top prediction and the serving node of a `/predict` answer.
pub fn parse_prediction(body: &Value, elapsed: Duration) -> anyhow::Result<Outcome> {
    let top = body["predictions"].get(0).context("no predictions in the answer")?;
    Ok(Outcome {
        label: top["label"].as_str().context("prediction without a label")?.to_string(),
        confidence: top["confidence"].as_f64().context("prediction without a confidence")?,
        node: body["node_id"].as_str().unwrap_or("?").to_string(),
        model_version: body["model"]["version"].as_str().unwrap_or("?").to_string(),
        elapsed,
    })
}

fn samples_dir(args: &DemoArgs, topology_file: &Path) -> PathBuf {
    if let Some(dir) = &args.samples {
        return dir.clone();
    }
    if let Some(models) = &args.models {
        return models.join("samples");
    }
    // `models/` beside the topologies directory (the checkout), else ./models.
    let beside = topology_file.parent().and_then(Path::parent).map(|root| root.join("models/samples"));
    beside.filter(|d| d.is_dir()).unwrap_or_else(|| PathBuf::from("models/samples"))
}

/// The PNG and JPEG files of `dir`, sorted by name.
pub fn sample_photos(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading sample photos in {} (run `make model`)", dir.display()))?;
    let mut photos = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if matches!(ext.as_str(), "png" | "jpg" | "jpeg") {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
            photos.push((name, std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?));
        }
    }
    photos.sort_by(|a, b| a.0.cmp(&b.0));
    if photos.is_empty() {
        bail!("no PNG or JPEG photos in {} (run `make model`)", dir.display());
    }
    Ok(photos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_healthy_backends_over_pools() {
        let v = json!({"pools": [
            {"backends": [{"health": "healthy"}, {"health": "ejected"}]},
            {"backends": [{"health": "healthy"}]}
        ]});
        assert_eq!(count_healthy(&v), (2, 3));
        assert_eq!(count_healthy(&json!({})), (0, 0));
    }

    #[test]
    fn reads_top_prediction_and_serving_node() {
        let body = json!({
            "predictions": [{"class_id": 282, "label": "tiger cat", "confidence": 0.38}],
            "model": {"name": "efficientnet-lite0", "version": "v1"},
            "node_id": "n2"
        });
        let o = parse_prediction(&body, Duration::from_millis(40)).unwrap();
        assert_eq!((o.label.as_str(), o.node.as_str(), o.model_version.as_str()), ("tiger cat", "n2", "v1"));
        assert!((o.confidence - 0.38).abs() < 1e-9);
        let err = parse_prediction(&json!({"predictions": []}), Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("no predictions"), "{err}");
    }

    #[test]
    fn sample_photos_are_the_images_of_a_directory_sorted() {
        let dir = std::env::temp_dir().join(format!("rudder-demo-samples-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.png"), b"png").unwrap();
        std::fs::write(dir.join("a.JPG"), b"jpg").unwrap();
        std::fs::write(dir.join("expected.json"), b"{}").unwrap();
        let photos = sample_photos(&dir).unwrap();
        let names: Vec<&str> = photos.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(names, ["a.JPG", "b.png"]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(sample_photos(&dir).unwrap_err().to_string().contains("make model"));
    }
}

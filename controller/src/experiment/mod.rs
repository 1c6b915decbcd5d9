//! Experiments that compare load-balancing algorithms, for researchers.
//!
//! - `rudder load` ([`workload`], [`client`]): the workload generator, open or closed loop, run
//!   inside a client namespace; one [`record`] per request.
//! - `rudder experiment` (this module, [`run`], [`lab`], [`api`]): for every algorithm ×
//!   repetition, reset the pool on a running topology, run the workload in every client namespace,
//!   carry out the [`scenario`] steps, sample the controller, and collect.
//! - [`stats`], [`summary`], [`report`], [`plot`], [`output`]: the numbers, `report.md`, the plots
//!   and every file under `--out`.

pub mod api;
pub mod client;
pub mod duration;
pub mod lab;
pub mod output;
pub mod plot;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod summary;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

pub use workload::{LoadArgs, run_load};

use self::api::ControllerApi;
use self::duration::{format_duration, parse_duration};
use self::lab::Lab;
use self::report::{ReportMeta, RunResult};
use self::run::RunPlan;
use self::scenario::{ScenarioContext, ScenarioStep, parse_step_arg, split_topology_text, validate};
use crate::apps::lb::algorithm::Algorithm;
use crate::lab::state::{StateDir, state_root};
use crate::lab::topology::{Role, Topology};
use crate::lab::{down, preflight, up};

/// `rudder experiment`: compare load-balancing algorithms on a topology, with repetitions, a
/// scenario, and a report with plots.
#[derive(Debug, Clone, Args)]
pub struct ExperimentArgs {
    /// Topology file, or the name of one in `topologies/` (e.g. `hetero`). Its `[[scenario]]`
    /// tables are the scenario steps (see docs/experiments.md).
    pub topology: String,
    /// Algorithms to compare, comma-separated (e.g. round_robin,least_connections,wildcard).
    #[arg(long, value_delimiter = ',', required = true)]
    pub algorithms: Vec<String>,
    /// The pool to balance (default: the topology's first pool).
    #[arg(long)]
    pub pool: Option<String>,
    /// Length of each run's workload, e.g. 60s.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub duration: Duration,
    /// Open loop: total Poisson arrival rate (requests/s), split evenly over the client hosts.
    #[arg(long, conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Closed loop: concurrent clients per client host (default 1 when --rate is not given).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Repetitions of every algorithm.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Seed of the workload (each run and client derives its own from it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created; an existing report in it is overwritten).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Images to classify: files or directories (default: the samples/ directory of the models
    /// directory).
    #[arg(long, num_args = 1.., value_name = "DIR|FILE")]
    pub images: Vec<PathBuf>,
    /// Send `GET /health` instead of classifications (cheap requests: measures the balancer, not
    /// the model).
    #[arg(long, conflicts_with = "images")]
    pub health_only: bool,
    /// Reuse TCP connections (default: a new connection, hence a new flow, per request).
    #[arg(long)]
    pub keep_alive: bool,
    /// Per-request timeout.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Extra scenario step (repeatable): 20s:kill:n2, 40s:restart:n2, 30s:delay:n1=50ms,
    /// 30s:delay:s1-s2=20ms, 45s:weight:v1/n1=3.
    #[arg(long = "step", value_name = "STEP", value_parser = parse_step_arg)]
    pub steps: Vec<ScenarioStep>,
    /// Ignore the topology file's [[scenario]] steps.
    #[arg(long)]
    pub no_file_steps: bool,
    /// Leave the topology up at the end even if this command brought it up.
    #[arg(long)]
    pub keep_up: bool,
    /// Bearer token of the controller's mutating REST routes.
    #[arg(long, env = "RUDDER_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// The rudder-node binary (default: $RUDDER_NODE_BIN, next to this binary, then PATH).
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// Directory holding the model directories (default as for `rudder up`).
    #[arg(long, value_name = "DIR", env = "RUDDER_MODELS_DIR")]
    pub models: Option<PathBuf>,
    /// Where `rudder up` keeps its state.
    #[arg(long, value_name = "DIR", env = "RUDDER_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Checks an algorithm name against the load balancer's list.
pub fn parse_algorithm(name: &str) -> anyhow::Result<Algorithm> {
    Algorithm::ALL.iter().copied().find(|a| a.name() == name).with_context(|| {
        let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        format!("--algorithms: unknown algorithm {name:?} (known: {})", known.join(", "))
    })
}

/// The topology and its scenario steps from a file that may hold `[[scenario]]` tables.
pub fn load_topology(file: &Path) -> anyhow::Result<(Topology, String, Vec<ScenarioStep>)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let origin = file.display().to_string();
    let (rest, steps) = split_topology_text(&text, &origin)?;
    let topology = Topology::from_toml(&rest, &origin)?;
    Ok((topology, rest, steps))
}

fn scenario_context(t: &Topology) -> ScenarioContext {
    ScenarioContext {
        inference_hosts: t.inference_hosts().map(|h| h.name.clone()).collect(),
        other_hosts: t.hosts.iter().filter(|h| h.role != Role::Inference).map(|h| h.name.clone()).collect(),
        links: t.links.iter().map(|l| (l.a.clone(), l.b.clone())).collect(),
        pools: t
            .pools
            .iter()
            .map(|p| (p.name.clone(), p.backends.iter().map(|b| b.host.clone()).collect()))
            .collect(),
    }
}

/// `rudder experiment`.
pub async fn run_experiment(args: ExperimentArgs) -> anyhow::Result<()> {
    let command_line = std::env::args()
        .map(|a| if a.contains(' ') { format!("{a:?}") } else { a })
        .collect::<Vec<_>>()
        .join(" ");
    let file = crate::lab::resolve_topology(&args.topology)?;
    let (topology, lab_text, file_steps) = load_topology(&file)?;
    for name in &args.algorithms {
        parse_algorithm(name)?;
    }
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        bail!("--rate must be a positive number");
    }
    let pool = match &args.pool {
        Some(p) => topology
            .pools
            .iter()
            .find(|x| &x.name == p)
            .with_context(|| format!("--pool: no pool {p:?} in the topology"))?,
        None => topology.pools.first().context("the topology defines no [[pools]]")?,
    };
    let clients: Vec<String> =
        topology.hosts.iter().filter(|h| h.role == Role::Client).map(|h| h.name.clone()).collect();
    if clients.is_empty() {
        bail!("the topology has no host with role = \"client\" to send the workload from");
    }
    let mut steps = if args.no_file_steps { Vec::new() } else { file_steps };
    steps.extend(args.steps.iter().cloned());
    let steps = validate(&steps, &scenario_context(&topology), args.duration)?;
    if !preflight::is_root() {
        bail!("rudder experiment drives network namespaces and Open vSwitch: run it as root");
    }
    let node_bin = preflight::find_node_binary(args.node_bin.as_deref())?;
    let models = preflight::models_dir(args.models.as_deref(), &file);
    let images = if args.health_only {
        Vec::new()
    } else if args.images.is_empty() {
        vec![models.join("samples")]
    } else {
        args.images.clone()
    };
    if !images.is_empty() {
        client::load_images(&images)?;
    }

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating --out {}", args.out.display()))?;
    let out = args.out.canonicalize()?;
    std::fs::copy(&file, out.join("topology.toml")).context("copying the topology file")?;
    let _ = std::fs::remove_file(out.join("requests.csv"));
    // `rudder up` reads the topology without the [[scenario]] tables.
    let lab_file = out.join("topology.lab.toml");
    std::fs::write(&lab_file, &lab_text)?;
    let root = state_root(args.state_dir.as_deref());
    let opts = up::UpOptions {
        file: lab_file,
        state_root: root.clone(),
        ovs_db: None,
        start_controller: true,
        start_nodes: true,
        node_bin: Some(node_bin.clone()),
        models: Some(models.clone()),
        timeout: Duration::from_secs(120),
    };
    eprintln!("experiment: bringing up topology {} (or reusing it)", topology.name);
    let brought_up = tokio::task::spawn_blocking(move || lab::ensure_up(&opts)).await??;

    let api = ControllerApi::new(topology.controller.api, args.api_token.clone())?;
    let lab = Arc::new(Lab {
        topology: topology.clone(),
        state_dir: StateDir::new(&root, &topology.name),
        node_bin,
        models,
        api,
        pool: pool.name.clone(),
    });
    let result = tokio::select! {
        r = run_all(&args, lab.clone(), &steps, &images, &clients, &out, &command_line) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; the runs finished so far are in {}", out.display())),
    };
    if brought_up && !args.keep_up {
        eprintln!("experiment: taking topology {} down", topology.name);
        let name = topology.name.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || down::down(&root, &name)).await? {
            eprintln!("warning: rudder down {}: {e:#}", topology.name);
        }
    }
    result
}

async fn run_all(
    args: &ExperimentArgs,
    lab: Arc<Lab>,
    steps: &[ScenarioStep],
    images: &[PathBuf],
    clients: &[String],
    out: &Path,
    command_line: &str,
) -> anyhow::Result<()> {
    let topology = &lab.topology;
    let lb = crate::lab::plan::lb_config(topology);
    let pool_config =
        lb.pools.iter().find(|p| p.name == lab.pool).context("pool missing from the lb config")?;
    let spec = topology.pools.iter().find(|p| p.name == lab.pool).context("pool missing")?;
    let backends: Vec<(String, std::net::Ipv4Addr)> =
        spec.backends.iter().filter_map(|b| Some((b.host.clone(), topology.host(&b.host)?.ip))).collect();
    let port = spec.ports.first().copied().unwrap_or(8000);
    let path = if images.is_empty() { "health" } else { "predict" };
    let plan = RunPlan {
        lab: lab.clone(),
        pool_config: serde_json::to_value(pool_config)?,
        backends,
        clients: clients.to_vec(),
        url: format!("http://{}:{port}/{path}", spec.vip),
        images: images.to_vec(),
        duration: args.duration,
        rate: args.rate,
        concurrency: args.concurrency.unwrap_or(1),
        keep_alive: args.keep_alive,
        timeout: args.timeout,
        steps: steps.to_vec(),
        exe: std::env::current_exe().context("locating the rudder binary")?,
    };
    let total_runs = args.algorithms.len() as u64 * u64::from(args.repeat);
    let progress = indicatif::ProgressBar::new(total_runs * args.duration.as_secs().max(1));
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len}s  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut runs: Vec<RunResult> = Vec::new();
    let mut records = Vec::new();
    let mut index = 0;
    for algorithm in &args.algorithms {
        for repetition in 1..=args.repeat {
            index += 1;
            let seed = args.seed.wrapping_add(u64::from(repetition - 1));
            let label = format!("run {index}/{total_runs}: {algorithm} repetition {repetition}");
            progress.set_message(format!("{label}: resetting"));
            progress.suspend(|| eprintln!("experiment: {label}"));
            plan.reset(algorithm).await.with_context(|| format!("{label}: resetting the pool"))?;
            progress.set_message(label.clone());
            let dir = output::run_dir(out, algorithm, repetition);
            let (result, per_client) = plan
                .run_once(algorithm, repetition, seed, &dir, &progress)
                .await
                .with_context(|| label.clone())?;
            progress.set_position(index * args.duration.as_secs().max(1));
            output::write_run(&dir, &result)?;
            output::append_requests(&out.join("requests.csv"), algorithm, repetition, &per_client)?;
            progress.suspend(|| eprintln!("{}", result.summary));
            records.push((
                algorithm.clone(),
                repetition,
                per_client.into_iter().flat_map(|c| c.records).collect(),
            ));
            runs.push(result);
        }
    }
    progress.finish_with_message("all runs done");

    let plots =
        output::draw_plots(out, &runs, &records, args.duration.as_secs_f64()).map_err(|e| e.to_string());
    if let Err(why) = &plots {
        eprintln!("warning: plots not drawn: {why}");
    }
    let meta = ReportMeta {
        topology: topology.name.clone(),
        pool: lab.pool.clone(),
        command_line: command_line.to_string(),
        seed: args.seed,
        duration_s: args.duration.as_secs_f64(),
        workload: workload_text(args, images),
        repetitions: args.repeat,
        rudder_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: output::git_commit(Path::new(env!("CARGO_MANIFEST_DIR"))),
        date: output::utc_now(),
        plots,
    };
    let report_path = out.join("report.md");
    std::fs::write(&report_path, report::render_report(&meta, &runs))?;
    let experiment = serde_json::json!({
        "meta": meta_json(&meta),
        "algorithms": args.algorithms,
        "repetitions": args.repeat,
        "duration": format_duration(args.duration),
        "rate": args.rate,
        "concurrency": args.concurrency,
        "keep_alive": args.keep_alive,
        "url": plan.url,
        "clients": clients,
        "steps": steps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "reset": "before every run: dead nodes restarted, delays restored, pool recreated (DELETE + POST /lb/pools), all backends healthy",
        "runs": runs.iter().map(|r| output::run_dir(Path::new("."), &r.algorithm, r.repetition)).collect::<Vec<_>>(),
    });
    std::fs::write(out.join("experiment.json"), serde_json::to_string_pretty(&experiment)?)?;
    eprintln!("experiment: report in {}", report_path.display());
    Ok(())
}

fn meta_json(meta: &ReportMeta) -> serde_json::Value {
    serde_json::json!({
        "topology": meta.topology, "pool": meta.pool, "command_line": meta.command_line, "seed": meta.seed,
        "rudder_version": meta.rudder_version, "git_commit": meta.git_commit, "date": meta.date,
        "workload": meta.workload,
    })
}

fn workload_text(args: &ExperimentArgs, images: &[PathBuf]) -> String {
    let pacing = match args.rate {
        Some(r) => format!("open loop, Poisson {r} req/s in total"),
        None => format!("closed loop, {} client(s) per client host", args.concurrency.unwrap_or(1)),
    };
    let what = if images.is_empty() {
        "GET /health".to_string()
    } else {
        "POST /predict with sample images".to_string()
    };
    let conn = if args.keep_alive { "keep-alive" } else { "a new TCP connection per request" };
    format!("{pacing}, {what}, {conn}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_are_checked_against_the_load_balancer() {
        assert_eq!(parse_algorithm("round_robin").unwrap(), Algorithm::RoundRobin);
        let e = parse_algorithm("fastest").unwrap_err().to_string();
        assert!(e.contains("fastest") && e.contains("least_connections"), "{e}");
    }

    #[test]
    fn topology_files_with_scenarios_load() {
        let dir = std::env::temp_dir().join(format!("rudder-exp-topo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../topologies/default.toml"))
                .unwrap();
        let file = dir.join("t.toml");
        std::fs::write(
            &file,
            format!("{base}\n[[scenario]]\nat = \"2s\"\naction = \"kill\"\nhost = \"n2\"\n"),
        )
        .unwrap();
        let (topology, rest, steps) = load_topology(&file).unwrap();
        assert_eq!(topology.name, "default");
        assert!(!rest.contains("scenario"));
        assert_eq!(steps.len(), 1);
        let ctx = scenario_context(&topology);
        assert!(validate(&steps, &ctx, Duration::from_secs(5)).is_ok());
        assert!(validate(&[parse_step_arg("1s:kill:c1").unwrap()], &ctx, Duration::from_secs(5)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! `rudder`: the command line. Parses flags and the config file, sets up logging, and hands over to
//! the library (`rudder_controller::run`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use rudder_controller::Config;
use rudder_controller::dashboard::{self, DashboardState};
use rudder_controller::ofp::OpenFlowListener;
use rudder_controller::rest::{self, ApiState, spawn_port_stats_poller};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "rudder",
    version,
    about = "Rudder: an OpenFlow 1.3 controller that steers traffic to inference nodes"
)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "RUDDER_LOG_FORMAT", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller: accept switches on TCP 6653, run the selected apps, serve the REST API.
    Serve(ServeArgs),
    /// Print OpenFlow 1.3 messages from a hex string, a binary file or a pcap/pcapng capture.
    Ofdump(rudder_controller::ofdump::OfdumpArgs),
    /// Benchmark an OpenFlow 1.3 controller (cbench-style)
    Bench(rudder_controller::bench::BenchArgs),
    /// The one-command demo: bring a topology up, classify sample photos through the load balancer's
    /// VIPs, print who served them, run until Ctrl-C (or `--once`), tear down.
    Demo(rudder_controller::demo::DemoArgs),
    /// Build a topology (Open vSwitch + network namespaces), start the controller and the nodes.
    Up(rudder_controller::lab::UpArgs),
    /// Remove everything `rudder up` created for a topology, also after a crash.
    Down(rudder_controller::lab::DownArgs),
    /// Check topology files and print the controller config they imply.
    Topology(rudder_controller::lab::TopologyArgs),
    /// Send a bounded HTTP workload (open or closed loop) and report latency, errors and serving nodes.
    Load(rudder_controller::experiment::LoadArgs),
    /// Compare load-balancing algorithms on a topology: repetitions, scenario steps, report and plots.
    Experiment(rudder_controller::experiment::ExperimentArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// TOML config file; flags given here override it.
    #[arg(long, short, env = "RUDDER_CONFIG")]
    config: Option<PathBuf>,
    /// OpenFlow listen address (repeatable), e.g. 0.0.0.0:6653 and 0.0.0.0:6633.
    #[arg(long = "listen", value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// Unix socket to accept switches on as well (repeatable): Open vSwitch's `unix:PATH` controller
    /// target, for switches on this machine, also in other network namespaces.
    #[arg(long = "listen-unix", value_name = "PATH")]
    listen_unix: Vec<PathBuf>,
    /// App to run (repeatable): l2switch or topology.
    #[arg(long = "app", value_name = "NAME")]
    apps: Vec<String>,
    /// REST API and /metrics address (loopback by default).
    #[arg(long, value_name = "ADDR", env = "RUDDER_API_LISTEN")]
    api_listen: Option<SocketAddr>,
    /// Bearer token required by mutating REST routes.
    #[arg(long, env = "RUDDER_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Idle timeout in seconds of flows installed by l2switch (0: never expire).
    #[arg(long)]
    idle_timeout: Option<u16>,
    /// Seconds of silence before the controller sends an ECHO_REQUEST.
    #[arg(long, value_name = "SECONDS")]
    echo_interval: Option<f64>,
    /// Unanswered ECHO_REQUESTs before a switch is disconnected.
    #[arg(long)]
    echo_missed_limit: Option<u32>,
    /// Most switches connected at once.
    #[arg(long)]
    max_switches: Option<usize>,
    /// Keep the flows a switch already has when it connects (default: delete them).
    #[arg(long)]
    keep_flows: bool,
    /// Seconds between port-statistics polls feeding the `of_port_*` metrics (0: off).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    port_stats_interval: f64,
    /// Do not serve the web dashboard (`/dashboard/`) on the REST listener.
    #[arg(long)]
    no_dashboard: bool,
    /// Sample photos the dashboard offers (default: `models/samples` here or in the checkout this
    /// binary was built from).
    #[arg(long, value_name = "DIR", env = "RUDDER_SAMPLES_DIR")]
    samples_dir: Option<PathBuf>,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if !self.listen.is_empty() {
            config.listen = self.listen;
        }
        config.listen_unix.extend(self.listen_unix);
        if !self.apps.is_empty() {
            config.apps = self.apps;
        }
        if self.api_listen.is_some() {
            config.api_listen = self.api_listen;
        }
        if self.api_token.is_some() {
            config.api_token = self.api_token;
        }
        if let Some(t) = self.idle_timeout {
            config.l2switch.idle_timeout = t;
        }
        if let Some(s) = self.echo_interval {
            config.openflow.echo_interval_ms = (s * 1000.0) as u64;
        }
        if let Some(n) = self.echo_missed_limit {
            config.openflow.echo_missed_limit = n;
        }
        if let Some(n) = self.max_switches {
            config.max_switches = n;
        }
        if self.keep_flows {
            config.openflow.clear_flows_on_connect = false;
        }
        Ok(config)
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match cli.command {
        Command::Ofdump(args) => Ok(rudder_controller::ofdump::main(&args, "rudder ofdump")),
        Command::Bench(args) => {
            rudder_controller::bench::run_bench(args).await.map(|()| std::process::ExitCode::SUCCESS)
        }
        Command::Demo(args) => rudder_controller::demo::run_demo(args).await,
        Command::Up(args) => rudder_controller::lab::run_up(args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Down(args) => {
            rudder_controller::lab::run_down(args).map(|()| std::process::ExitCode::SUCCESS)
        }
        Command::Load(args) => {
            rudder_controller::experiment::run_load(args).await.map(|()| std::process::ExitCode::SUCCESS)
        }
        Command::Experiment(args) => rudder_controller::experiment::run_experiment(args)
            .await
            .map(|()| std::process::ExitCode::SUCCESS),
        Command::Topology(args) => {
            rudder_controller::lab::run_topology(args).map(|()| std::process::ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            rudder_http::raise_open_file_limit();
            let poll_every =
                std::time::Duration::try_from_secs_f64(args.port_stats_interval).map_err(|_| {
                    anyhow::anyhow!(
                        "--port-stats-interval: expected seconds (0 or more), got {}",
                        args.port_stats_interval
                    )
                })?;
            let dashboard_samples = (!args.no_dashboard).then(|| samples_dir(args.samples_dir.clone()));
            let config = args.into_config()?;
            let mut listeners: Vec<OpenFlowListener> = Vec::new();
            for addr in &config.listen {
                let bound =
                    TcpListener::bind(addr).await.with_context(|| format!("binding OpenFlow port {addr}"))?;
                listeners.push(bound.into());
            }
            for path in &config.listen_unix {
                listeners.push(
                    OpenFlowListener::bind_unix(path)
                        .with_context(|| format!("binding OpenFlow socket {}", path.display()))?,
                );
            }
            let api_listener = match config.api_listen {
                Some(addr) => Some(
                    TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("binding the REST API on {addr}"))?,
                ),
                None => None,
            };
            let stop = CancellationToken::new();
            tokio::spawn({
                let stop = stop.clone();
                async move {
                    shutdown_signal().await;
                    stop.cancel();
                }
            });
            let api_stop = stop.clone();
            rudder_controller::run(config, listeners, stop.clone().cancelled_owned(), move |controller| {
                if !poll_every.is_zero() {
                    spawn_port_stats_poller(
                        controller.clone(),
                        poll_every,
                        api_stop.clone().cancelled_owned(),
                    );
                }
                if let Some(listener) = api_listener {
                    let token = controller.config.api_token.clone();
                    // ApiState::new adds the topology routes when that app runs.
                    let mut state = ApiState::new(controller.clone(), token);
                    if let Some(samples) = dashboard_samples {
                        match DashboardState::for_controller(&controller, samples) {
                            Ok(d) => state = state.with_routes(dashboard::router(d)),
                            Err(e) => tracing::error!(cause = %e, "dashboard disabled"),
                        }
                    }
                    tokio::spawn(async move {
                        if let Err(e) = rest::serve(listener, state, api_stop.cancelled_owned()).await {
                            tracing::error!(cause = %e, "REST API stopped");
                        }
                    });
                }
            })
            .await
            .map(|()| std::process::ExitCode::SUCCESS)
        }
    }
}

/// The dashboard's sample photos: the flag, else `models/samples` in the working directory, else in
/// the checkout this binary was built from.
fn samples_dir(flag: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag {
        return dir;
    }
    let here = PathBuf::from("models/samples");
    if here.is_dir() {
        return here;
    }
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/samples");
    if checkout.is_dir() { checkout } else { here }
}

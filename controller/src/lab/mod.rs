//! Declarative topologies and `rudder up` / `rudder down`: a topology file ([`topology`]) becomes
//! a [`plan`] of namespaces, veth pairs, userspace Open vSwitch bridges and `tc netem` shaping,
//! which [`up`] builds (starting a private OVS, the controller and one `rudder-node` per inference
//! host) while [`state`] records every resource on disk, so [`down`] removes it all, also after a
//! crash. The command-line entry points are [`run_up`], [`run_down`] and [`run_topology`].

/// `println!` that ignores a closed stdout (`rudder up | head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that ignores a closed stderr instead of panicking.
macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod command;
pub mod cpu;
pub mod down;
pub mod monitoring;
pub mod net;
pub mod netns;
pub mod ovs;
pub mod plan;
pub mod preflight;
pub mod process;
pub mod state;
pub mod summary;
pub mod topology;
pub mod units;
pub mod up;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use self::topology::Topology;

/// `rudder up`: build a topology with Open vSwitch and network namespaces and start it.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Topology file, or the name of one in `topologies/` (e.g. `default`).
    pub topology: String,
    /// Print the controller configuration the topology implies and exit (builds nothing).
    #[arg(long)]
    pub print_config: bool,
    /// Do not start a controller: the bridges connect to the `[controller] openflow` address,
    /// where you run your own.
    #[arg(long)]
    pub no_controller: bool,
    /// Do not start the inference nodes.
    #[arg(long)]
    pub no_nodes: bool,
    /// The rudder-node binary (default: $RUDDER_NODE_BIN, next to this binary, then PATH).
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// Directory holding the model directories (v1/, v2/, ...); default: the `models/` beside the
    /// topology's directory, else ./models.
    #[arg(long, value_name = "DIR", env = "RUDDER_MODELS_DIR")]
    pub models: Option<PathBuf>,
    /// Use this Open vSwitch database (e.g. unix:/var/run/openvswitch/db.sock) instead of starting
    /// a private one; its ovs-vswitchd must run in this machine's network namespace.
    #[arg(long, value_name = "unix:PATH")]
    pub ovs_db: Option<String>,
    /// Where state, logs and the private OVS live (one subdirectory per topology).
    #[arg(long, value_name = "DIR", env = "RUDDER_STATE_DIR", default_value = state::DEFAULT_ROOT)]
    pub state_dir: PathBuf,
    /// Longest wait, in seconds, for the switches to connect and, separately, for the nodes.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    pub timeout: f64,
}

/// `rudder down`: remove everything `rudder up` created for a topology.
#[derive(Debug, Clone, Args)]
pub struct DownArgs {
    /// Topology name or file (default: the only topology that is up).
    pub topology: Option<String>,
    /// Tear down every topology recorded in the state directory.
    #[arg(long, conflicts_with = "topology")]
    pub all: bool,
    /// Where `rudder up` recorded its state.
    #[arg(long, value_name = "DIR", env = "RUDDER_STATE_DIR", default_value = state::DEFAULT_ROOT)]
    pub state_dir: PathBuf,
}

/// `rudder topology`: inspect topology files.
#[derive(Debug, Clone, Args)]
pub struct TopologyArgs {
    #[command(subcommand)]
    pub command: TopologyCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TopologyCommand {
    /// Print the controller configuration (TOML) a topology implies, for `rudder serve --config`.
    Config {
        /// Topology file or name.
        topology: String,
    },
    /// Validate a topology and print the steps `rudder up` would take.
    Check {
        /// Topology file or name.
        topology: String,
    },
    /// Print a Prometheus configuration (prometheus.yml) that scrapes the topology's controller
    /// (job rudder-controller) and every inference node (job rudder-node, labels node and model).
    Prometheus {
        /// Topology file or name.
        topology: String,
        /// Scrape (and rule evaluation) interval in seconds.
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
        scrape_interval: f64,
    },
    /// Relay a Unix socket to a TCP address (used by `rudder up` between the switch namespace and
    /// the controller).
    #[command(hide = true)]
    Relay {
        #[arg(long)]
        unix: PathBuf,
        #[arg(long)]
        to: SocketAddr,
    },
    /// Exit 0 if `GET PATH` from ADDR answers 200 (used by `rudder up` inside namespaces).
    #[command(hide = true)]
    Probe { addr: SocketAddr, path: String },
}

/// A topology argument: an existing file, else `topologies/<name>.toml` in the current directory
/// or in a directory above this executable (so `target/release/rudder up default` works from
/// anywhere in a checkout).
pub fn resolve_topology(arg: &str) -> anyhow::Result<PathBuf> {
    let direct = PathBuf::from(arg);
    if direct.is_file() {
        return Ok(direct);
    }
    let file = if arg.ends_with(".toml") { arg.to_string() } else { format!("{arg}.toml") };
    let mut candidates = vec![Path::new("topologies").join(&file)];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|d| d.join("topologies").join(&file)));
    }
    candidates.into_iter().find(|c| c.is_file()).with_context(|| {
        format!("topology {arg:?} not found: give a file, or a name from topologies/ (e.g. default, tree)")
    })
}

/// `rudder up`.
pub fn run_up(args: UpArgs) -> anyhow::Result<()> {
    let file = resolve_topology(&args.topology)?;
    if args.print_config {
        let topology = Topology::from_file(&file)?;
        say!("{}", plan::controller_config(&topology)?.trim_end());
        return Ok(());
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    up::up(&up::UpOptions {
        file,
        state_root: args.state_dir,
        ovs_db: args.ovs_db,
        start_controller: !args.no_controller,
        start_nodes: !args.no_nodes,
        node_bin: args.node_bin,
        models: args.models,
        timeout: Duration::from_secs_f64(args.timeout.min(3600.0)),
    })
    .map(drop)
}

/// `rudder down`.
pub fn run_down(args: DownArgs) -> anyhow::Result<()> {
    let root = args.state_dir;
    let names: Vec<String> = if args.all {
        state::recorded_topologies(&root)?
    } else if let Some(arg) = &args.topology {
        vec![topology_name(arg)?]
    } else {
        let recorded = state::recorded_topologies(&root)?;
        match recorded.len() {
            0 => {
                say!("no topology is up (nothing recorded in {})", root.display());
                return Ok(());
            }
            1 => recorded,
            _ => bail!("several topologies are up ({}): name one, or pass --all", recorded.join(", ")),
        }
    };
    if names.is_empty() {
        say!("no topology is up (nothing recorded in {})", root.display());
    }
    let mut failed = Vec::new();
    for name in names {
        let report = down::down(&root, &name)?;
        for line in &report.removed {
            say!("removed {line}");
        }
        if !report.found && report.problems.is_empty() {
            say!("topology {name:?} is not up (nothing recorded)");
        } else if report.problems.is_empty() {
            say!("topology {name:?} is down");
        } else {
            for p in &report.problems {
                warn!("problem: {p}");
            }
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        bail!(
            "could not remove everything of {}; its state is kept: run `rudder down` again",
            failed.join(", ")
        );
    }
    Ok(())
}

/// A topology name from a name or a file (whose `name` key is read).
fn topology_name(arg: &str) -> anyhow::Result<String> {
    let looks_like_file = arg.contains('/') || arg.ends_with(".toml");
    if !looks_like_file {
        return Ok(arg.to_string());
    }
    let text = std::fs::read_to_string(arg).with_context(|| format!("reading {arg}"))?;
    let value: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {arg}"))?;
    value
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .with_context(|| format!("{arg} has no `name`"))
}

/// `rudder topology ...`.
pub fn run_topology(args: TopologyArgs) -> anyhow::Result<()> {
    match args.command {
        TopologyCommand::Config { topology } => {
            let topology = Topology::from_file(&resolve_topology(&topology)?)?;
            say!("{}", plan::controller_config(&topology)?.trim_end());
        }
        TopologyCommand::Check { topology } => {
            let file = resolve_topology(&topology)?;
            let topology = Topology::from_file(&file)?;
            let plan = plan::Plan::new(&topology, true)?;
            plan::controller_config(&topology)?;
            say!("{}: topology {:?} is valid; `rudder up` would:", file.display(), topology.name);
            for (i, step) in plan.steps(true, true).iter().enumerate() {
                say!("{:>3}. {step}", i + 1);
            }
        }
        TopologyCommand::Prometheus { topology, scrape_interval } => {
            if !(scrape_interval.is_finite() && (0.001..=3600.0).contains(&scrape_interval)) {
                bail!("--scrape-interval must be between 0.001 and 3600 seconds");
            }
            let topology = Topology::from_file(&resolve_topology(&topology)?)?;
            let interval = Duration::from_secs_f64(scrape_interval);
            say!("{}", monitoring::prometheus_config(&topology, interval)?.trim_end());
        }
        TopologyCommand::Relay { unix, to } => {
            net::relay(&unix, to).with_context(|| format!("relaying {} to {to}", unix.display()))?;
        }
        TopologyCommand::Probe { addr, path } => {
            let (code, _) = net::http_get(addr, &path, Duration::from_secs(2))
                .with_context(|| format!("GET http://{addr}{path}"))?;
            if code != 200 {
                bail!("GET http://{addr}{path}: status {code}");
            }
        }
    }
    Ok(())
}

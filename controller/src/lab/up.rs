//! `rudder up`: builds a topology step by step from its [`Plan`], recording each resource in the
//! state directory before creating it, then starts the controller and the nodes and waits until
//! every switch is connected and every node answers `/health`. On failure it removes what it built.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::command::{log_tail, run};
use super::cpu::{self, CpuLimit};
use super::down;
use super::net::http_get;
use super::netns::{self, Shaped};
use super::ovs::{self, OvsDb};
use super::plan::{HostPlan, Plan, Step, controller_config};
use super::preflight;
use super::process::{ProcessRecord, spawn_detached};
use super::state::{LabState, OvsRecord, QdiscRecord, StateDir};
use super::summary::summary;
use super::topology::Topology;

/// What `rudder up` was asked to do.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub file: PathBuf,
    pub state_root: PathBuf,
    /// An external OVS database (`unix:/path`); `None` starts a private OVS.
    pub ovs_db: Option<String>,
    pub start_controller: bool,
    pub start_nodes: bool,
    pub node_bin: Option<PathBuf>,
    pub models: Option<PathBuf>,
    /// Longest wait for the switches, and separately for the nodes.
    pub timeout: Duration,
}

/// How `up` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpOutcome {
    Started,
    /// Everything recorded is still running; nothing was changed.
    AlreadyUp,
}

/// Whether a recorded topology is fully up: `up` finished and every process still runs.
pub fn is_up(state: &LabState) -> bool {
    state.complete
        && state.processes.iter().all(ProcessRecord::is_running)
        && state.namespaces.iter().all(|ns| netns::namespace_exists(ns))
}

/// `rudder up`.
pub fn up(opts: &UpOptions) -> anyhow::Result<UpOutcome> {
    let topology = Topology::from_file(&opts.file)?;
    let private_ovs = opts.ovs_db.is_none();
    let plan = Plan::new(&topology, private_ovs)?;
    let config_text = controller_config(&topology)?;
    let dir = StateDir::new(&opts.state_root, &topology.name);
    if let Some(state) = dir.load()? {
        if is_up(&state) {
            say!(
                "topology {:?} is already up (state in {}); nothing to do",
                topology.name,
                dir.dir.display()
            );
            say!("{}", summary(&topology, &plan, &dir.dir).trim_end());
            return Ok(UpOutcome::AlreadyUp);
        }
        say!("found a topology {:?} that is not fully up (a crash?): tearing it down first", topology.name);
        let report = down::down_dir(&dir)?;
        if !report.problems.is_empty() {
            bail!("could not clean up the earlier run: {}", report.problems.join("; "));
        }
    }
    preflight::check_tools(&plan, private_ovs)?;
    let has_nodes = topology.inference_hosts().next().is_some();
    let node_bin = match opts.start_nodes && has_nodes {
        true => Some(preflight::find_node_binary(opts.node_bin.as_deref())?),
        false => None,
    };
    let models = preflight::models_dir(opts.models.as_deref(), &opts.file);
    if node_bin.is_some() {
        preflight::check_models(&topology, &models)?;
    }
    preflight::check_conflicts(&topology, &plan, opts.start_controller)?;
    let models = std::fs::canonicalize(&models).unwrap_or(models);
    let file = std::fs::canonicalize(&opts.file).unwrap_or_else(|_| opts.file.clone());
    let exe = std::env::current_exe().context("finding this executable (to start the controller)")?;
    let state = LabState {
        topology: topology.name.clone(),
        file,
        started_at: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        // An external OVS keeps the bridges `up` adds until they are deleted: `down` reads this
        // record to know where (a private one is recorded when it starts, and takes them along).
        ovs: opts.ovs_db.as_ref().map(|db| OvsRecord { db: db.clone(), private_dir: None }),
        ..LabState::default()
    };
    dir.save(&state).with_context(|| format!("writing the state to {}", dir.dir.display()))?;
    let mut builder = Builder {
        topology: &topology,
        plan: &plan,
        opts,
        dir: dir.clone(),
        state,
        db: opts.ovs_db.as_deref().map(OvsDb::external),
        exe,
        node_bin,
        models,
        config_text,
    };
    let steps = plan.steps(opts.start_controller, opts.start_nodes);
    say!("bringing up topology {:?} ({} steps)", topology.name, steps.len());
    for (i, step) in steps.iter().enumerate() {
        say!("[{}/{}] {step}", i + 1, steps.len());
        if let Err(e) = builder.run_step(step) {
            warn!("rudder up: {step}: {e:#}\nremoving what was created...");
            let report = down::down_dir(&dir);
            if let Ok(r) = &report
                && !r.problems.is_empty()
            {
                warn!("cleanup problems: {}", r.problems.join("; "));
            }
            return Err(e.context(format!("rudder up {}: {step}", topology.name)));
        }
    }
    builder.state.complete = true;
    builder.save()?;
    say!("{}", summary(&topology, &plan, &dir.dir).trim_end());
    Ok(UpOutcome::Started)
}

struct Builder<'a> {
    topology: &'a Topology,
    plan: &'a Plan,
    opts: &'a UpOptions,
    dir: StateDir,
    state: LabState,
    db: Option<OvsDb>,
    exe: PathBuf,
    node_bin: Option<PathBuf>,
    models: PathBuf,
    config_text: String,
}

impl Builder<'_> {
    fn save(&self) -> anyhow::Result<()> {
        self.dir.save(&self.state).with_context(|| format!("writing {}", self.dir.file().display()))
    }

    /// Records with `f`, then saves: called before creating what `f` records.
    fn record(&mut self, f: impl FnOnce(&mut LabState)) -> anyhow::Result<()> {
        f(&mut self.state);
        self.save()
    }

    fn switch_ns(&self) -> Option<&str> {
        self.plan.switch_namespace.as_deref()
    }

    fn db(&self) -> anyhow::Result<&OvsDb> {
        self.db.as_ref().context("Open vSwitch is not running (internal order error)")
    }

    /// The socket a private OVS's bridges use to reach the controller: the controller's own, or the
    /// relay's when `up` does not start the controller.
    fn openflow_socket(&self) -> PathBuf {
        self.dir.dir.join("ovs").join("openflow.sock")
    }

    fn controller_target(&self) -> String {
        match self.switch_ns() {
            Some(_) => format!("unix:{}", self.openflow_socket().display()),
            None => format!("tcp:{}", self.plan.controller.openflow),
        }
    }

    fn run_step(&mut self, step: &Step) -> anyhow::Result<()> {
        match step {
            Step::StartOvs { namespace } => self.start_ovs(namespace),
            Step::AddBridge(b) => {
                self.record(|s| s.bridges.push(b.name.clone()))?;
                let target = self.controller_target();
                Ok(self.db()?.add_bridge(&b.name, b.dpid, &target)?)
            }
            Step::AddHost(h) => self.add_host(h),
            Step::AddLink(l) => {
                let ns = self.switch_ns().map(str::to_string);
                if ns.is_none() {
                    self.record(|s| s.root_interfaces.push(l.a.name.clone()))?;
                }
                netns::add_veth(&l.a.name, ns.as_deref(), &l.b.name, ns.as_deref())?;
                for end in [&l.a, &l.b] {
                    netns::set_up(ns.as_deref(), &end.name, None)?;
                    self.db()?.add_port(&end.bridge, &end.name, end.ofport)?;
                }
                Ok(())
            }
            Step::AddHostAccess(a) => {
                let ns = self.switch_ns().map(str::to_string);
                self.record(|s| {
                    s.root_interfaces.push(a.interface.clone());
                    if ns.is_none() {
                        s.root_interfaces.push(a.port.name.clone());
                    }
                })?;
                netns::add_veth(&a.interface, None, &a.port.name, ns.as_deref())?;
                // No IPv6 chatter (router solicitations, MLD) from the machine into the topology.
                let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", a.interface), "1");
                netns::set_up(None, &a.interface, Some(a.mac))?;
                netns::add_address(None, &a.interface, a.ip, a.prefix)?;
                netns::set_up(ns.as_deref(), &a.port.name, None)?;
                Ok(self.db()?.add_port(&a.port.bridge, &a.port.name, a.port.ofport)?)
            }
            Step::Shape { namespace, interface, netem } => {
                let ns = namespace.clone().or_else(|| self.switch_ns().map(str::to_string));
                self.record(|s| {
                    s.qdiscs.push(QdiscRecord { namespace: ns.clone(), interface: interface.clone() })
                })?;
                if let Shaped::WithoutNetem { dropped } = netns::shape(ns.as_deref(), interface, netem)?
                    && !dropped.is_empty()
                {
                    warn!(
                        "warning: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): {dropped} on {interface} \
                         not applied{}",
                        if netem.rate.is_some() { " (the rate is, with tbf)" } else { "" }
                    );
                }
                Ok(())
            }
            Step::StartController => self.start_controller(),
            Step::StartNode(h) => self.start_node(h),
            Step::WaitNodes => self.wait_nodes(),
        }
    }

    fn start_ovs(&mut self, namespace: &str) -> anyhow::Result<()> {
        let ovs_dir = self.dir.dir.join("ovs");
        let db = OvsDb::private(&ovs_dir);
        self.record(|s| {
            s.namespaces.push(namespace.to_string());
            s.ovs = Some(OvsRecord { db: db.target.clone(), private_dir: Some(ovs_dir.clone()) });
        })?;
        std::fs::create_dir_all(&ovs_dir).with_context(|| format!("creating {}", ovs_dir.display()))?;
        netns::add_namespace(namespace)?;
        let started = ovs::start_private(&ovs_dir, namespace);
        // Record whichever daemon came up, even when the other failed, so `down` stops it.
        for daemon in ["ovsdb-server", "ovs-vswitchd"] {
            if let Some(p) =
                ovs::read_pid(&ovs_dir, daemon).and_then(|pid| ProcessRecord::of(daemon, daemon, pid))
            {
                self.record(|s| s.processes.push(p))?;
            }
        }
        if let Err(e) = started {
            let logs: Vec<String> = ["ovsdb-server", "ovs-vswitchd"]
                .iter()
                .map(|d| format!("{d}.log:\n{}", log_tail(&ovs::log_file(&ovs_dir, d), 10)))
                .collect();
            bail!("{e}\n{}", logs.join("\n"));
        }
        self.db = Some(db);
        // The bridges connect to a Unix socket, which every namespace can see. The controller `up`
        // starts listens on it itself; one started elsewhere (`--no-controller`) listens on TCP on
        // this machine's loopback, which the switch namespace cannot reach, so a relay carries it.
        if self.opts.start_controller {
            return Ok(());
        }
        let socket = self.openflow_socket();
        let mut cmd = Command::new(&self.exe);
        cmd.args(["topology", "relay", "--unix"])
            .arg(&socket)
            .args(["--to", &self.plan.controller.openflow.to_string()]);
        let pid = spawn_detached(cmd, &self.dir.log("relay")).context("starting the OpenFlow relay")?;
        if let Some(p) = ProcessRecord::of("relay", "openflow", pid) {
            self.record(|s| s.processes.push(p))?;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            if Instant::now() > deadline {
                bail!("the OpenFlow relay did not start:\n{}", log_tail(&self.dir.log("relay"), 10));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn add_host(&mut self, h: &HostPlan) -> anyhow::Result<()> {
        let ns = self.switch_ns().map(str::to_string);
        self.record(|s| {
            s.namespaces.push(h.namespace.clone());
            if ns.is_none() {
                s.root_interfaces.push(h.port.name.clone());
            }
        })?;
        netns::add_namespace(&h.namespace)?;
        // IPv6 off before the interface exists: no router solicitations or MLD reports flooding
        // through the controller.
        let _ = run(netns::exec_in(&h.namespace, Path::new("sh")).args([
            "-c",
            "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6",
        ]));
        netns::add_veth(&h.port.name, ns.as_deref(), &h.interface, Some(&h.namespace))?;
        netns::set_up(Some(&h.namespace), &h.interface, Some(h.mac))?;
        netns::add_address(Some(&h.namespace), &h.interface, h.ip, h.prefix)?;
        netns::set_up(ns.as_deref(), &h.port.name, None)?;
        Ok(self.db()?.add_port(&h.port.bridge, &h.port.name, h.port.ofport)?)
    }

    fn start_controller(&mut self) -> anyhow::Result<()> {
        let config = self.dir.dir.join("controller.toml");
        std::fs::write(&config, &self.config_text)
            .with_context(|| format!("writing {}", config.display()))?;
        let log = self.dir.log("controller");
        let mut cmd = Command::new(&self.exe);
        cmd.arg("serve").arg("--config").arg(&config);
        if self.switch_ns().is_some() {
            cmd.arg("--listen-unix").arg(self.openflow_socket());
        }
        let pid = spawn_detached(cmd, &log).context("starting the controller")?;
        let api = self.plan.controller.api;
        let record = ProcessRecord::of("controller", "controller", pid);
        self.record(|s| {
            s.processes.extend(record.clone());
            s.api = Some(api);
        })?;
        let dpids: Vec<u64> = self.plan.bridges.iter().map(|b| b.dpid).collect();
        let deadline = Instant::now() + self.opts.timeout;
        loop {
            if !record.as_ref().is_some_and(ProcessRecord::is_running) {
                bail!("the controller exited; {}:\n{}", log.display(), log_tail(&log, 20));
            }
            let connected = connected_switches(api);
            if let Some(ids) = &connected
                && dpids.iter().all(|d| ids.contains(d))
            {
                say!("      controller at http://{api}: {} switch(es) connected", dpids.len());
                return Ok(());
            }
            if Instant::now() > deadline {
                let missing: Vec<String> = dpids
                    .iter()
                    .filter(|d| !connected.as_ref().is_some_and(|ids| ids.contains(d)))
                    .map(|d| d.to_string())
                    .collect();
                bail!(
                    "after {:?}, switches with dpid {} are not connected (REST API {}); {}:\n{}",
                    self.opts.timeout,
                    missing.join(", "),
                    if connected.is_some() { "answers" } else { "does not answer" },
                    log.display(),
                    log_tail(&log, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start_node(&mut self, h: &HostPlan) -> anyhow::Result<()> {
        let (Some(node), Some(bin)) = (&h.node, &self.node_bin) else {
            return Ok(());
        };
        let mut cmd = netns::exec_in(&h.namespace, bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(node.listen.to_string())
            .arg("--model-dir")
            .arg(self.models.join(&node.model))
            .args(["--node-id", &h.name]);
        if let Some(workers) = node.workers {
            cmd.args(["--workers", &workers.to_string()]);
        }
        // `ip netns exec` enters the namespace and execs the node: the PID is the node's.
        let pid = spawn_detached(cmd, &self.dir.log(&h.name))
            .with_context(|| format!("starting node {}", h.name))?;
        if let Some(p) = ProcessRecord::of("node", &h.name, pid) {
            self.record(|s| s.processes.push(p))?;
        }
        if let Some(share) = node.cpu {
            match cpu::limit(&self.topology.name, &h.name, pid, share) {
                CpuLimit::Cgroup(dir) => {
                    say!("      {} limited to {share} CPU (cgroup {})", h.name, dir.display());
                    self.record(|s| s.cgroups.push(dir))?;
                }
                CpuLimit::Pinned(cores) => {
                    say!("      {} pinned to cores {cores} (no writable cgroup)", h.name)
                }
                CpuLimit::NotApplied(why) => warn!("warning: CPU share of {} not applied: {why}", h.name),
            }
        }
        Ok(())
    }

    /// Polls each node's `/health` from inside its own namespace until it answers 200.
    fn wait_nodes(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let deadline = started + self.opts.timeout;
        let mut pending: Vec<&HostPlan> = self.plan.hosts.iter().filter(|h| h.node.is_some()).collect();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for h in pending {
                let Some(node) = &h.node else { continue };
                let record = self.state.processes.iter().find(|p| p.role == "node" && p.name == h.name);
                let log = self.dir.log(&h.name);
                if !record.is_some_and(ProcessRecord::is_running) {
                    bail!("node {} exited; {}:\n{}", h.name, log.display(), log_tail(&log, 20));
                }
                if self.probe(&h.namespace, node.listen) {
                    say!(
                        "      node {} ready on {} after {:.1}s",
                        h.name,
                        node.listen,
                        started.elapsed().as_secs_f64()
                    );
                } else {
                    still.push(h);
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                let names: Vec<&str> = pending.iter().map(|h| h.name.as_str()).collect();
                let first = self.dir.log(names[0]);
                bail!(
                    "after {:?}, /health of {} does not answer 200; {}:\n{}",
                    self.opts.timeout,
                    names.join(", "),
                    first.display(),
                    log_tail(&first, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(())
    }

    /// `GET /health` == 200, asked from inside `namespace` by this binary's hidden probe.
    fn probe(&self, namespace: &str, addr: SocketAddr) -> bool {
        let mut cmd = netns::exec_in(namespace, &self.exe);
        cmd.args(["topology", "probe", &addr.to_string(), "/health"]);
        run(&mut cmd).is_ok()
    }
}

/// The dpids `/stats/switches` lists, `None` when the API does not answer.
fn connected_switches(api: SocketAddr) -> Option<Vec<u64>> {
    let (code, body) = http_get(api, "/stats/switches", Duration::from_secs(2)).ok()?;
    if code != 200 {
        return None;
    }
    serde_json::from_str::<Vec<u64>>(&body).ok()
}

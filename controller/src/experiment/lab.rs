//! The running topology as an experiment sees it: bringing it up (or reusing it) through
//! [`crate::lab`], its inference-node processes (killed and restarted by scenario steps, recorded in
//! the lab's state file so `rudder down` still stops them), link delays (`tc qdisc replace ... netem`),
//! and backend weights through the controller's REST API.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::api::ControllerApi;
use super::scenario::{DelayTarget, ScenarioStep, StepAction};
use crate::lab::cpu::{self, CpuLimit};
use crate::lab::plan::{Netem, Plan, host_namespace};
use crate::lab::process::{ProcessRecord, spawn_detached};
use crate::lab::state::{LabState, StateDir};
use crate::lab::topology::{Delay, Topology};
use crate::lab::{netns, up};

/// A topology that is up, and how to act on it.
#[derive(Debug, Clone)]
pub struct Lab {
    pub topology: Topology,
    pub state_dir: StateDir,
    pub node_bin: PathBuf,
    pub models: PathBuf,
    pub api: ControllerApi,
    /// The pool under test.
    pub pool: String,
}

impl Lab {
    pub fn state(&self) -> anyhow::Result<LabState> {
        self.state_dir.load()?.with_context(|| {
            format!("{} is gone: is the topology still up?", self.state_dir.file().display())
        })
    }

    fn plan(&self) -> anyhow::Result<Plan> {
        let private = self.state()?.ovs.is_some_and(|o| o.private_dir.is_some());
        Ok(Plan::new(&self.topology, private)?)
    }

    /// The node process of `host` as recorded, if it still runs.
    pub fn running_node(&self, host: &str) -> anyhow::Result<Option<ProcessRecord>> {
        Ok(self.state()?.processes.into_iter().find(|p| p.role == "node" && p.name == host && p.is_running()))
    }

    /// Inference hosts whose node is not running.
    pub fn dead_nodes(&self) -> anyhow::Result<Vec<String>> {
        let mut dead = Vec::new();
        for h in self.topology.inference_hosts() {
            if self.running_node(&h.name)?.is_none() {
                dead.push(h.name.clone());
            }
        }
        Ok(dead)
    }

    /// SIGKILL: a crash, with no graceful shutdown (its open connections are reset by the kernel).
    pub fn kill_node(&self, host: &str) -> anyhow::Result<()> {
        let Some(record) = self.running_node(host)? else {
            bail!("node {host} is not running");
        };
        let status =
            Command::new("kill").args(["-KILL", &record.pid.to_string()]).status().context("running kill")?;
        if !status.success() {
            bail!("kill -KILL {} (node {host}) failed", record.pid);
        }
        Ok(())
    }

    /// Starts the node of `host` (stopping a running one first) the way `rudder up` does, and
    /// records it in the lab state so `rudder down` stops it.
    pub fn start_node(&self, host: &str) -> anyhow::Result<()> {
        let spec = self.topology.host(host).with_context(|| format!("no host {host}"))?;
        if let Some(old) = self.running_node(host)? {
            old.stop(Duration::from_secs(2));
        }
        let name = &self.topology.name;
        let mut cmd = netns::exec_in(&host_namespace(name, host), &self.node_bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("{}:{}", spec.ip, spec.serve_port()))
            .arg("--model-dir")
            .arg(self.models.join(spec.model_name()))
            .args(["--node-id", host]);
        if let Some(share) = spec.cpu {
            cmd.args(["--workers", &(share.ceil() as u32).max(1).to_string()]);
        }
        let pid = spawn_detached(cmd, &self.state_dir.log(host))
            .with_context(|| format!("starting node {host}"))?;
        let mut state = self.state()?;
        state.processes.retain(|p| !(p.role == "node" && p.name == host));
        state.processes.extend(ProcessRecord::of("node", host, pid));
        if let Some(share) = spec.cpu
            && let CpuLimit::Cgroup(dir) = cpu::limit(name, host, pid, share)
            && !state.cgroups.contains(&dir)
        {
            state.cgroups.push(dir);
        }
        self.state_dir.save(&state)?;
        Ok(())
    }

    /// Sets the one-way delay of a host's access link or a switch link (both ends), keeping the
    /// jitter, loss and rate the topology gives it; `None` restores the topology's own shaping.
    pub fn set_delay(&self, target: &DelayTarget, delay: Option<Duration>) -> anyhow::Result<()> {
        let plan = self.plan()?;
        let as_delay = |d: Duration| Delay { micros: d.as_micros() as u64 };
        // (namespace, interface) of both ends; `None` namespace: the switch side.
        let (ends, spec): (Vec<(Option<String>, String)>, Option<Netem>) = match target {
            DelayTarget::Host(host) => {
                let hp =
                    plan.hosts.iter().find(|h| &h.name == host).with_context(|| format!("no host {host}"))?;
                let hs = self.topology.host(host).with_context(|| format!("no host {host}"))?;
                let netem = match delay {
                    Some(d) => Netem::new(Some(as_delay(d)), hs.jitter, hs.loss, hs.rate),
                    None => hp.shaping,
                };
                (
                    vec![(Some(hp.namespace.clone()), hp.interface.clone()), (None, hp.port.name.clone())],
                    netem,
                )
            }
            DelayTarget::Link(a, b) => {
                let (i, l) = self
                    .topology
                    .links
                    .iter()
                    .enumerate()
                    .find(|(_, l)| (&l.a == a && &l.b == b) || (&l.a == b && &l.b == a))
                    .with_context(|| format!("no link {a}-{b}"))?;
                let lp = &plan.links[i];
                let netem = match delay {
                    Some(d) => Netem::new(Some(as_delay(d)), l.jitter, l.loss, l.rate),
                    None => lp.shaping,
                };
                (vec![(None, lp.a.name.clone()), (None, lp.b.name.clone())], netem)
            }
        };
        for (namespace, interface) in ends {
            let namespace = namespace.or_else(|| plan.switch_namespace.clone());
            let args = match &spec {
                Some(netem) => netem.tc_args(&interface),
                None => ["qdisc", "del", "dev", &interface, "root"].iter().map(|s| s.to_string()).collect(),
            };
            let mut cmd = match &namespace {
                Some(ns) => {
                    let mut c = Command::new("ip");
                    c.args(["netns", "exec", ns, "tc"]);
                    c
                }
                None => Command::new("tc"),
            };
            let output = cmd.args(&args).output().context("running tc")?;
            // Deleting a qdisc that is not there is fine: the link is unshaped either way.
            if !output.status.success() && spec.is_some() {
                bail!(
                    "tc {} (namespace {}) failed: {}",
                    args.join(" "),
                    namespace.as_deref().unwrap_or("-"),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
        }
        Ok(())
    }

    pub fn host_ip(&self, host: &str) -> anyhow::Result<Ipv4Addr> {
        Ok(self.topology.host(host).with_context(|| format!("no host {host}"))?.ip)
    }

    /// Carries out one scenario step.
    pub async fn execute(&self, step: &ScenarioStep) -> anyhow::Result<()> {
        match &step.action {
            StepAction::Kill { host } => self.kill_node(host),
            StepAction::Restart { host } => self.start_node(host),
            StepAction::Delay { target, value } => self.set_delay(target, Some(*value)),
            StepAction::Weight { pool, host, weight } => {
                self.api.set_weight(pool, self.host_ip(host)?, *weight).await
            }
        }
    }

    /// Whether the node of `host` answers `GET /health` with 200 (loaded and ready), asked from
    /// inside its own namespace by `rudder topology probe`.
    pub fn node_ready(&self, host: &str) -> anyhow::Result<bool> {
        let spec = self.topology.host(host).with_context(|| format!("no host {host}"))?;
        let exe = std::env::current_exe().context("locating the rudder binary")?;
        let status = netns::exec_in(&host_namespace(&self.topology.name, host), &exe)
            .args(["topology", "probe", &format!("{}:{}", spec.ip, spec.serve_port()), "/health"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("running rudder topology probe")?;
        Ok(status.success())
    }

    /// Waits until every node in `hosts` is ready (a restarted node loads its model first).
    pub fn wait_ready(&self, hosts: &[String], timeout: Duration) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        for host in hosts {
            while !self.node_ready(host)? {
                if std::time::Instant::now() >= deadline {
                    bail!(
                        "node {host} not ready after {}s; see {}",
                        timeout.as_secs(),
                        self.state_dir.log(host).display()
                    );
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        Ok(())
    }

    /// Undoes what steps changed outside the pool (which is recreated anyway): restarts dead nodes
    /// (and waits until they are ready) and restores the topology's delays.
    pub fn restore(&self, steps: &[ScenarioStep]) -> anyhow::Result<()> {
        let dead = self.dead_nodes()?;
        for host in &dead {
            self.start_node(host)?;
        }
        self.wait_ready(&dead, Duration::from_secs(180))?;
        for step in steps {
            if let StepAction::Delay { target, .. } = &step.action
                && let Err(e) = self.set_delay(target, None)
            {
                // Not fatal: without netem (or if the step never ran) there is nothing to restore;
                // a delay step that cannot run is reported as not carried out.
                tracing::warn!(step = %step, error = %format!("{e:#}"), "could not restore the delay");
            }
        }
        Ok(())
    }
}

/// Brings the topology in `file` up unless it already is. True if this call started it.
pub fn ensure_up(opts: &up::UpOptions) -> anyhow::Result<bool> {
    match up::up(opts)? {
        up::UpOutcome::Started => Ok(true),
        up::UpOutcome::AlreadyUp => Ok(false),
    }
}

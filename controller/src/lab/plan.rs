//! From a validated [`Topology`] to what `rudder up` builds, without touching the system: the
//! names of every namespace, bridge and interface, OpenFlow port numbers, link shaping, the ordered
//! [`Step`]s, and the controller configuration the topology implies.
//!
//! Naming rules (also in `docs/topologies.md`):
//! - host namespace `rudder-<topology>-<host>`; inside it the host's interface is `eth0`;
//! - the private ovs-vswitchd runs in namespace `rudder-<topology>-ovs` (the userspace datapath
//!   opens one `ovs-netdev` tap per namespace, so two topologies cannot share one);
//! - bridge `r-<topology>-<switch>`, the topology part cut so the whole fits in 15 characters
//!   (Linux's interface name limit); switch names are whole, so bridges never collide;
//! - a host's switch-side port is named after the host; a link's ports `<a>-<b>` (on a) and
//!   `<b>-<a>` (on b), or `l<index>a`/`l<index>b` when that is longer than 15 characters;
//! - host access: a veth pair named `rudder-<topology>` (cut to 15) on both sides, one end on the
//!   switch, the other in the machine's own namespace with `[host_access] ip`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use ofproto::MacAddr;
use serde::Serialize;

use super::topology::{ControllerSpec, Delay, HostSpec, Rate, Role, Topology};
use crate::apps::lb::config::{BackendConfig, LbConfig, PoolConfig};

/// Linux's limit on interface names (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// The namespace a host runs in.
pub fn host_namespace(topology: &str, host: &str) -> String {
    format!("rudder-{topology}-{host}")
}

/// The namespace the private ovs-vswitchd (and every switch port) lives in.
pub fn switch_namespace(topology: &str) -> String {
    format!("rudder-{topology}-ovs")
}

/// `r-<topology>-<switch>`, the topology part cut to fit 15 characters.
pub fn bridge_name(topology: &str, switch: &str) -> String {
    let room = IFNAME_MAX.saturating_sub(3 + switch.len()).max(1);
    let short: String = topology.chars().take(room).collect();
    format!("r-{short}-{switch}")
}

/// The host-access interface: `rudder-<topology>` cut to 15 characters.
pub fn access_interface(topology: &str) -> String {
    format!("rudder-{topology}").chars().take(IFNAME_MAX).collect()
}

/// `tc netem` parameters of one direction of a link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Netem {
    pub delay: Option<Delay>,
    pub jitter: Option<Delay>,
    /// Percent.
    pub loss: Option<f64>,
    pub rate: Option<Rate>,
}

impl Netem {
    /// `None` when nothing is shaped.
    pub fn new(
        delay: Option<Delay>,
        jitter: Option<Delay>,
        loss: Option<f64>,
        rate: Option<Rate>,
    ) -> Option<Netem> {
        let loss = loss.filter(|l| *l > 0.0);
        (delay.is_some() || loss.is_some() || rate.is_some()).then_some(Netem { delay, jitter, loss, rate })
    }

    /// `tc` arguments that install this as the root qdisc of `device` (run inside its namespace).
    /// One netem qdisc does delay, jitter, loss and rate (netem's own `rate`), so nothing is chained.
    pub fn tc_args(&self, device: &str) -> Vec<String> {
        let mut args: Vec<String> =
            ["qdisc", "replace", "dev", device, "root", "netem"].iter().map(|s| s.to_string()).collect();
        if let Some(delay) = self.delay {
            args.extend(["delay".to_string(), delay.to_string()]);
            if let Some(jitter) = self.jitter {
                args.push(jitter.to_string());
            }
        }
        if let Some(loss) = self.loss {
            args.extend(["loss".to_string(), format!("{loss}%")]);
        }
        if let Some(rate) = self.rate {
            args.extend(["rate".to_string(), rate.to_string()]);
        }
        args
    }

    /// `tc` arguments for kernels without netem (`CONFIG_NET_SCH_NETEM` unset, as in some VMs): a
    /// token bucket for the rate alone, `None` when there is no rate. Delay, jitter and loss have
    /// no such substitute.
    pub fn tbf_args(&self, device: &str) -> Option<Vec<String>> {
        let rate = self.rate?;
        // The bucket must hold at least one full-size frame and about 10 ms of traffic.
        let burst = (rate.bits_per_second / 8 / 100).max(3_000);
        let args = ["qdisc", "replace", "dev", device, "root", "tbf", "rate"];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.extend([rate.to_string(), "burst".into(), burst.to_string(), "latency".into(), "100ms".into()]);
        Some(args)
    }

    /// What only netem can do: delay, jitter and loss (empty when only a rate is set).
    pub fn netem_only(&self) -> String {
        let only = Netem { rate: None, ..*self };
        only.to_string()
    }
}

impl fmt::Display for Netem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(d) = self.delay {
            parts.push(match self.jitter {
                Some(j) => format!("delay {d} ±{j}"),
                None => format!("delay {d}"),
            });
        }
        if let Some(l) = self.loss {
            parts.push(format!("loss {l}%"));
        }
        if let Some(r) = self.rate {
            parts.push(format!("rate {r}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// A port on a bridge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortPlan {
    pub bridge: String,
    pub name: String,
    pub ofport: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BridgePlan {
    pub switch: String,
    pub name: String,
    pub dpid: u64,
}

/// What an inference host runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodePlan {
    pub listen: SocketAddr,
    pub model: String,
    pub cpu: Option<f64>,
    /// Inference worker threads: the CPU share rounded up (the node's default when no share).
    pub workers: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostPlan {
    pub name: String,
    pub role: Role,
    pub namespace: String,
    /// The interface inside the namespace.
    pub interface: String,
    pub mac: MacAddr,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub port: PortPlan,
    /// Applied to both ends of the access link, so a 2 ms delay adds 4 ms to a round trip.
    pub shaping: Option<Netem>,
    pub node: Option<NodePlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkPlan {
    pub a: PortPlan,
    pub b: PortPlan,
    pub shaping: Option<Netem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessPlan {
    /// The interface in the machine's own namespace.
    pub interface: String,
    pub port: PortPlan,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub mac: MacAddr,
}

/// Everything `rudder up` creates, named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub topology: String,
    /// Where ovs-vswitchd and the switch ports live; `None` for an external OVS in the machine's
    /// own namespace (`--ovs-db`).
    pub switch_namespace: Option<String>,
    pub bridges: Vec<BridgePlan>,
    pub hosts: Vec<HostPlan>,
    pub links: Vec<LinkPlan>,
    pub access: Option<AccessPlan>,
    pub controller: ControllerSpec,
}

/// One action of `rudder up`, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    StartOvs {
        namespace: String,
    },
    AddBridge(BridgePlan),
    AddHost(HostPlan),
    AddLink(LinkPlan),
    AddHostAccess(AccessPlan),
    /// `namespace` `None`: the switch namespace.
    Shape {
        namespace: Option<String>,
        interface: String,
        netem: Netem,
    },
    StartController,
    StartNode(HostPlan),
    WaitNodes,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::StartOvs { namespace } => {
                write!(f, "start a private Open vSwitch in namespace {namespace}")
            }
            Step::AddBridge(b) => write!(f, "bridge {} for switch {} (dpid {})", b.name, b.switch, b.dpid),
            Step::AddHost(h) => write!(
                f,
                "host {} ({:?}): namespace {}, {} {}/{} {} <-> {} port {}",
                h.name, h.role, h.namespace, h.interface, h.ip, h.prefix, h.mac, h.port.bridge, h.port.ofport
            ),
            Step::AddLink(l) => {
                write!(f, "link {} port {} <-> {} port {}", l.a.bridge, l.a.ofport, l.b.bridge, l.b.ofport)
            }
            Step::AddHostAccess(a) => write!(
                f,
                "host access {} {}/{} <-> {} port {}",
                a.interface, a.ip, a.prefix, a.port.bridge, a.port.ofport
            ),
            Step::Shape { namespace, interface, netem } => {
                write!(f, "shape {interface}")?;
                if let Some(ns) = namespace {
                    write!(f, " in {ns}")?;
                }
                write!(f, ": {netem}")
            }
            Step::StartController => f.write_str("start the controller and wait for every switch"),
            Step::StartNode(h) => match &h.node {
                Some(n) => write!(f, "start node {} on {} (model {})", h.name, n.listen, n.model),
                None => write!(f, "start node {}", h.name),
            },
            Step::WaitNodes => f.write_str("wait until every node's /health answers 200"),
        }
    }
}

/// A plan that cannot be built (names that collide after shortening).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl Plan {
    /// Names everything; `private_ovs` puts the switch side in the topology's own namespace.
    pub fn new(topology: &Topology, private_ovs: bool) -> Result<Plan, PlanError> {
        let name = &topology.name;
        let prefix = topology.subnet.prefix;
        let bridges: Vec<BridgePlan> = topology
            .switches
            .iter()
            .map(|s| BridgePlan { switch: s.name.clone(), name: bridge_name(name, &s.name), dpid: s.dpid() })
            .collect();
        let bridge_of: HashMap<&str, &str> =
            bridges.iter().map(|b| (b.switch.as_str(), b.name.as_str())).collect();
        let mut next_ofport: HashMap<String, u16> = HashMap::new();
        let mut port = |switch: &str, port_name: String| {
            let bridge = bridge_of.get(switch).copied().unwrap_or_default().to_string();
            let n = next_ofport.entry(bridge.clone()).or_insert(1);
            let ofport = *n;
            *n += 1;
            PortPlan { bridge, name: port_name, ofport }
        };
        let hosts: Vec<HostPlan> = topology
            .hosts
            .iter()
            .map(|h| HostPlan {
                name: h.name.clone(),
                role: h.role,
                namespace: host_namespace(name, &h.name),
                interface: "eth0".to_string(),
                mac: h.mac(),
                ip: h.ip,
                prefix,
                port: port(&h.switch, h.name.clone()),
                shaping: Netem::new(h.delay, h.jitter, h.loss, h.rate),
                node: node_plan(h),
            })
            .collect();
        let links: Vec<LinkPlan> = topology
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (a_name, b_name) = if l.a.len() + l.b.len() < IFNAME_MAX {
                    (format!("{}-{}", l.a, l.b), format!("{}-{}", l.b, l.a))
                } else {
                    (format!("l{i}a"), format!("l{i}b"))
                };
                LinkPlan {
                    a: port(&l.a, a_name),
                    b: port(&l.b, b_name),
                    shaping: Netem::new(l.delay, l.jitter, l.loss, l.rate),
                }
            })
            .collect();
        let access = topology.host_access.as_ref().map(|a| {
            let interface = access_interface(name);
            // With an external OVS both ends are in the machine's namespace and need two names.
            let switch_side = if private_ovs {
                interface.clone()
            } else {
                format!("ha-{name}").chars().take(IFNAME_MAX).collect()
            };
            AccessPlan { interface, port: port(&a.switch, switch_side), ip: a.ip, prefix, mac: a.mac() }
        });
        let plan = Plan {
            topology: name.clone(),
            switch_namespace: private_ovs.then(|| switch_namespace(name)),
            bridges,
            hosts,
            links,
            access,
            controller: topology.controller.clone(),
        };
        plan.check_names()?;
        Ok(plan)
    }

    /// Interface names in the switch namespace (bridges and ports) must be distinct.
    fn check_names(&self) -> Result<(), PlanError> {
        let mut seen = HashSet::new();
        let ports = self
            .hosts
            .iter()
            .map(|h| &h.port.name)
            .chain(self.links.iter().flat_map(|l| [&l.a.name, &l.b.name]));
        let access = self.access.iter().flat_map(|a| [&a.port.name]);
        for name in self.bridges.iter().map(|b| &b.name).chain(ports).chain(access) {
            if name.len() > IFNAME_MAX {
                return Err(PlanError(format!(
                    "interface name {name:?} is longer than {IFNAME_MAX} characters"
                )));
            }
            if !seen.insert(name) {
                return Err(PlanError(format!(
                    "two interfaces would both be named {name:?}: shorten the topology or switch names"
                )));
            }
        }
        Ok(())
    }

    /// The steps of `rudder up`, in order.
    pub fn steps(&self, start_controller: bool, start_nodes: bool) -> Vec<Step> {
        let mut steps = Vec::new();
        if let Some(ns) = &self.switch_namespace {
            steps.push(Step::StartOvs { namespace: ns.clone() });
        }
        steps.extend(self.bridges.iter().cloned().map(Step::AddBridge));
        steps.extend(self.hosts.iter().cloned().map(Step::AddHost));
        steps.extend(self.links.iter().cloned().map(Step::AddLink));
        steps.extend(self.access.iter().cloned().map(Step::AddHostAccess));
        for h in &self.hosts {
            if let Some(netem) = h.shaping {
                let ns = Some(h.namespace.clone());
                steps.push(Step::Shape { namespace: ns, interface: h.interface.clone(), netem });
                steps.push(Step::Shape { namespace: None, interface: h.port.name.clone(), netem });
            }
        }
        for l in &self.links {
            if let Some(netem) = l.shaping {
                for end in [&l.a, &l.b] {
                    steps.push(Step::Shape { namespace: None, interface: end.name.clone(), netem });
                }
            }
        }
        if start_controller {
            steps.push(Step::StartController);
        }
        if start_nodes {
            let nodes: Vec<Step> =
                self.hosts.iter().filter(|h| h.node.is_some()).cloned().map(Step::StartNode).collect();
            if !nodes.is_empty() {
                steps.extend(nodes);
                steps.push(Step::WaitNodes);
            }
        }
        steps
    }
}

fn node_plan(host: &HostSpec) -> Option<NodePlan> {
    (host.role == Role::Inference).then(|| NodePlan {
        listen: SocketAddr::from((host.ip, host.serve_port())),
        model: host.model_name().to_string(),
        cpu: host.cpu,
        workers: host.cpu.map(|c| (c.ceil() as u32).max(1)),
    })
}

/// The `[lb]` section a topology implies: one pool per `[[pools]]`, backends from the inference
/// hosts' address, port, MAC and model.
pub fn lb_config(topology: &Topology) -> LbConfig {
    let mut lb = LbConfig::default();
    if let Some(interval) = topology.controller.probe_interval {
        lb.probe_interval_ms = interval.micros.div_ceil(1000);
    }
    if let Some(timeout) = topology.controller.probe_timeout {
        lb.probe_timeout_ms = timeout.micros.div_ceil(1000);
    }
    lb.pools.extend(topology.pools.iter().map(|p| {
        let defaults = PoolConfig::default();
        PoolConfig {
            name: p.name.clone(),
            vip: p.vip,
            vip_mac: p.vip_mac(),
            ports: p.ports.clone(),
            algorithm: p.algorithm,
            idle_timeout: p.idle_timeout.unwrap_or(defaults.idle_timeout),
            steering: p.steering,
            backends: p
                .backends
                .iter()
                .filter_map(|b| {
                    let host = topology.host(&b.host)?;
                    Some(BackendConfig {
                        ip: host.ip,
                        mac: Some(host.mac()),
                        port: host.serve_port(),
                        weight: b.weight,
                        health_url: None,
                        model_version: Some(host.model_name().to_string()),
                    })
                })
                .collect(),
            ..defaults
        }
    }));
    lb
}

#[derive(Serialize)]
struct GeneratedConfig<'a> {
    listen: [SocketAddr; 1],
    api_listen: SocketAddr,
    apps: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    lb: Option<LbConfig>,
}

/// The controller configuration (TOML) a topology implies: its apps, the OpenFlow and REST
/// addresses, and an `[lb]` section when it has pools.
pub fn controller_config(topology: &Topology) -> Result<String, PlanError> {
    let lb = (!topology.pools.is_empty()).then(|| lb_config(topology));
    if let Some(lb) = &lb {
        lb.validate().map_err(|e| PlanError(format!("the generated [lb] section is invalid: {e}")))?;
    }
    let config = GeneratedConfig {
        listen: [topology.controller.openflow],
        api_listen: topology.controller.api,
        apps: &topology.controller.apps,
        lb,
    };
    let body =
        toml::to_string(&config).map_err(|e| PlanError(format!("writing the controller config: {e}")))?;
    Ok(format!(
        "# Controller configuration implied by topology {:?} (generated by rudder; edits are overwritten).\n{body}",
        topology.name
    ))
}

#[cfg(test)]
mod tests;

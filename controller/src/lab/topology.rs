//! The topology file (`topologies/NAME.toml`): its serde model and the checks serde cannot make.
//!
//! One file describes switches, switch-to-switch links, hosts (clients and inference nodes), load
//! balancer pools and how the machine itself reaches the hosts. `rudder up`, the Mininet runner and
//! the experiments all read the same files; `docs/topologies.md` documents every key. Every struct
//! rejects unknown keys, and [`Topology::validate`] names the offending key in its error, e.g.
//! `links[0].b: unknown switch "s9"`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use ofproto::MacAddr;
use serde::{Deserialize, Serialize};

pub use super::units::{Delay, Rate, Subnet};
use crate::apps::lb::algorithm::Algorithm;
use crate::apps::lb::config::SteeringMode;

/// Apps the controller knows, as named in `[controller] apps`.
pub const KNOWN_APPS: [&str; 3] = ["l2switch", "topology", "lb"];

/// A whole topology file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Names the namespaces, bridges and state directory of this topology.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The one IPv4 subnet (one L2 domain) every host, VIP and the host-access port are in.
    pub subnet: Subnet,
    #[serde(default)]
    pub controller: ControllerSpec,
    pub switches: Vec<SwitchSpec>,
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
    #[serde(default)]
    pub pools: Vec<PoolSpec>,
    #[serde(default)]
    pub host_access: Option<HostAccessSpec>,
}

/// `[controller]`: what the controller runs and where it listens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerSpec {
    pub apps: Vec<String>,
    /// Where switches connect (OpenFlow).
    pub openflow: SocketAddr,
    /// The REST API (and `/metrics`, the dashboard).
    pub api: SocketAddr,
    /// How often the load balancer probes each backend's `/health` (`"1s"`); the balancer's own
    /// default (5 s, as the seed system) when absent. A dead node is ejected after three failed
    /// probes, so this sets how fast failover reacts.
    pub probe_interval: Option<Delay>,
    /// How long one probe may take before it counts as failed (the balancer's default, 1 s).
    pub probe_timeout: Option<Delay>,
}

impl Default for ControllerSpec {
    fn default() -> Self {
        ControllerSpec {
            apps: vec!["l2switch".to_string()],
            openflow: SocketAddr::from(([127, 0, 0, 1], 6653)),
            api: SocketAddr::from(([127, 0, 0, 1], 8080)),
            probe_interval: None,
            probe_timeout: None,
        }
    }
}

/// `[[switches]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchSpec {
    pub name: String,
    /// Datapath id; defaults to the number in the name (`s12` → 12).
    #[serde(default)]
    pub dpid: Option<u64>,
}

/// `[[links]]`: a switch-to-switch link.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub a: String,
    pub b: String,
    #[serde(default)]
    pub delay: Option<Delay>,
    #[serde(default)]
    pub jitter: Option<Delay>,
    /// Packet loss in percent (0–100).
    #[serde(default)]
    pub loss: Option<f64>,
    #[serde(default)]
    pub rate: Option<Rate>,
}

/// What a host does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sends requests; runs nothing.
    Client,
    /// Runs `rudder-node serve`.
    Inference,
}

/// `[[hosts]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    pub role: Role,
    pub switch: String,
    pub ip: Ipv4Addr,
    /// Defaults to `02:00:00:00:00:<last octet of ip>`.
    #[serde(default)]
    pub mac: Option<String>,
    /// Inference hosts: the TCP port the node serves on (default 8000).
    #[serde(default)]
    pub port: Option<u16>,
    /// Inference hosts: the model directory under `models/` (default "v1").
    #[serde(default)]
    pub model: Option<String>,
    /// Inference hosts: CPU share in cores.
    #[serde(default)]
    pub cpu: Option<f64>,
    #[serde(default)]
    pub delay: Option<Delay>,
    #[serde(default)]
    pub jitter: Option<Delay>,
    #[serde(default)]
    pub loss: Option<f64>,
    #[serde(default)]
    pub rate: Option<Rate>,
}

/// `[[pools]]`: a load-balanced service; becomes a `[[lb.pools]]` entry of the controller config.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    pub name: String,
    pub vip: Ipv4Addr,
    /// Defaults to `02:00:00:00:01:<last octet of vip>`, so every pool answers ARP with its own MAC.
    #[serde(default)]
    pub vip_mac: Option<String>,
    #[serde(default = "default_pool_ports")]
    pub ports: Vec<u16>,
    #[serde(default = "default_algorithm")]
    pub algorithm: Algorithm,
    /// Idle timeout in seconds of per-flow steering rules (the LB's default when absent).
    #[serde(default)]
    pub idle_timeout: Option<u16>,
    /// `flow_rules` (default) or `conntrack` (Open vSwitch's connection tracker pins each flow).
    #[serde(default)]
    pub steering: SteeringMode,
    pub backends: Vec<PoolBackendSpec>,
}

fn default_pool_ports() -> Vec<u16> {
    vec![8000]
}

fn default_algorithm() -> Algorithm {
    Algorithm::RoundRobin
}

/// One backend of a pool: an inference host.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolBackendSpec {
    pub host: String,
    #[serde(default = "default_weight")]
    pub weight: u16,
}

fn default_weight() -> u16 {
    1
}

/// `[host_access]`: a port on a switch whose other end is in the machine's own namespace.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostAccessSpec {
    pub switch: String,
    pub ip: Ipv4Addr,
    /// Defaults to `02:00:00:00:00:<last octet of ip>`.
    #[serde(default)]
    pub mac: Option<String>,
}

/// A topology file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("reading topology {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("topology {path}: {source}")]
    Parse { path: String, source: Box<toml::de::Error> },
    /// `key` is the path of the offending key, e.g. `hosts[2] (n1).switch`.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// Switch and host names: a lowercase letter, then lowercase letters and digits (no `-`, so the
/// interface names built from them cannot collide), at most this many characters.
pub const MAX_NODE_NAME: usize = 11;
/// Topology names: lowercase letters, digits and `-`.
pub const MAX_TOPOLOGY_NAME: usize = 32;

/// The MAC a host gets when the file gives none: `02:00:00:00:00:<last octet>`.
pub fn derived_mac(ip: Ipv4Addr) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, ip.octets()[3]])
}

/// The MAC a pool's VIP gets when the file gives none: `02:00:00:00:01:<last octet>`.
pub fn derived_vip_mac(vip: Ipv4Addr) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0x01, vip.octets()[3]])
}

/// The number in a switch name (`s12` → 12), its default datapath id.
fn number_in(name: &str) -> Option<u64> {
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl HostSpec {
    pub fn mac(&self) -> MacAddr {
        self.mac.as_deref().and_then(|m| m.parse().ok()).unwrap_or_else(|| derived_mac(self.ip))
    }

    /// The TCP port an inference host serves on.
    pub fn serve_port(&self) -> u16 {
        self.port.unwrap_or(8000)
    }

    /// The model directory name of an inference host.
    pub fn model_name(&self) -> &str {
        self.model.as_deref().unwrap_or("v1")
    }
}

impl HostAccessSpec {
    pub fn mac(&self) -> MacAddr {
        self.mac.as_deref().and_then(|m| m.parse().ok()).unwrap_or_else(|| derived_mac(self.ip))
    }
}

impl PoolSpec {
    pub fn vip_mac(&self) -> MacAddr {
        self.vip_mac.as_deref().and_then(|m| m.parse().ok()).unwrap_or_else(|| derived_vip_mac(self.vip))
    }
}

impl SwitchSpec {
    /// The datapath id: explicit, else the number in the name (validated to exist).
    pub fn dpid(&self) -> u64 {
        self.dpid.or_else(|| number_in(&self.name)).unwrap_or(0)
    }
}

impl Topology {
    /// Reads, parses and validates a topology file.
    pub fn from_file(path: &Path) -> Result<Topology, TopologyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TopologyError::Read { path: path.display().to_string(), source })?;
        Topology::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates topology text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Topology, TopologyError> {
        let topology: Topology = toml::from_str(text)
            .map_err(|source| TopologyError::Parse { path: origin.to_string(), source: Box::new(source) })?;
        topology.validate()?;
        Ok(topology)
    }

    pub fn switch(&self, name: &str) -> Option<&SwitchSpec> {
        self.switches.iter().find(|s| s.name == name)
    }

    pub fn host(&self, name: &str) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The inference hosts, in file order.
    pub fn inference_hosts(&self) -> impl Iterator<Item = &HostSpec> {
        self.hosts.iter().filter(|h| h.role == Role::Inference)
    }
}

mod validate;

#[cfg(test)]
mod tests;

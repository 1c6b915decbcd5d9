//! The topology file (`topologies/NAME.toml`): its serde model and the checks serde cannot make.
//!
//! One file describes switches, switch-to-switch links, hosts (clients and inference nodes), load
//! balancer pools and how the machine itself reaches the hosts. `rudder up`, the Mininet runner and
//! the experiments all read the same files; `docs/topologies.md` documents every key. Every struct
//! rejects unknown keys, and [`Topology::validate`] names the offending key in its error, e.g.
//! `links[0].b: unknown switch "s9"`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::str::FromStr;

use ofproto::MacAddr;
use serde::{Deserialize, Serialize};

use crate::apps::lb::algorithm::Algorithm;

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
}

impl Default for ControllerSpec {
    fn default() -> Self {
        ControllerSpec {
            apps: vec!["l2switch".to_string()],
            openflow: SocketAddr::from(([127, 0, 0, 1], 6653)),
            api: SocketAddr::from(([127, 0, 0, 1], 8080)),
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

/// An IPv4 subnet, `10.0.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    fn mask(self) -> u32 {
        if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) }
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    /// The network or the broadcast address: not usable by a host.
    pub fn is_reserved(self, ip: Ipv4Addr) -> bool {
        let host_bits = u32::from(ip) & !self.mask();
        self.prefix < 31 && (host_bits == 0 || host_bits == !self.mask())
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an IPv4 subnet like \"10.0.0.0/24\"");
        let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
        let network: Ipv4Addr = ip.trim().parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.trim().parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(format!("{s:?}: the prefix length must be 8..=30"));
        }
        let subnet = Subnet { network, prefix };
        if u32::from(network) & !subnet.mask() != 0 {
            return Err(format!("{s:?}: host bits are set (did you mean {}?)", Ipv4Addr::from(u32::from(network) & subnet.mask())));
        }
        Ok(subnet)
    }
}

/// A one-way delay (or jitter), written `"5ms"`, `"250us"`, `"1.5ms"`, `"1s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub micros: u64,
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}us", self.micros)
    }
}

impl FromStr for Delay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_unit(s);
        let scale = match unit {
            "us" => 1.0,
            "ms" => 1_000.0,
            "s" => 1_000_000.0,
            _ => return Err(format!("{s:?} is not a delay: write e.g. \"5ms\", \"250us\" or \"1s\"")),
        };
        let value: f64 = number.parse().map_err(|_| format!("{s:?} is not a delay: bad number"))?;
        let micros = value * scale;
        if !micros.is_finite() || !(0.0..=60_000_000.0).contains(&micros) {
            return Err(format!("{s:?}: a delay must be between 0 and 60s"));
        }
        Ok(Delay { micros: micros.round() as u64 })
    }
}

/// A rate limit in bits per second, written `"100mbit"`, `"512kbit"`, `"1gbit"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub bits_per_second: u64,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}bit", self.bits_per_second)
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_unit(s);
        let scale = match unit.to_ascii_lowercase().as_str() {
            "bit" => 1.0,
            "kbit" => 1e3,
            "mbit" => 1e6,
            "gbit" => 1e9,
            _ => return Err(format!("{s:?} is not a rate: write e.g. \"100mbit\", \"512kbit\" or \"1gbit\"")),
        };
        let value: f64 = number.parse().map_err(|_| format!("{s:?} is not a rate: bad number"))?;
        let bits = value * scale;
        if !bits.is_finite() || !(8_000.0..=100e9).contains(&bits) {
            return Err(format!("{s:?}: a rate must be between 8kbit and 100gbit"));
        }
        Ok(Rate { bits_per_second: bits.round() as u64 })
    }
}

fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    let at = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    (s[..at].trim(), s[at..].trim())
}

macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serde_via_str!(Subnet, Delay, Rate);

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

fn invalid(key: impl Into<String>, message: impl Into<String>) -> TopologyError {
    TopologyError::Invalid { key: key.into(), message: message.into() }
}

/// Switch and host names: a lowercase letter, then lowercase letters and digits (no `-`, so the
/// interface names built from them cannot collide), at most this many characters.
pub const MAX_NODE_NAME: usize = 11;
/// Topology names: lowercase letters, digits and `-`.
pub const MAX_TOPOLOGY_NAME: usize = 32;

fn check_node_name(key: &str, name: &str) -> Result<(), TopologyError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= MAX_NODE_NAME;
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "{name:?} is not a valid name: use a lowercase letter then lowercase letters or digits, \
                 at most {MAX_NODE_NAME} characters (it names network interfaces)"
            ),
        ))
    }
}

/// Parses a MAC for `key`; must be unicast and not all zeros.
fn parse_mac(key: &str, text: &str) -> Result<MacAddr, TopologyError> {
    let mac: MacAddr = text.parse().map_err(|e: ofproto::types::MacAddrParseError| invalid(key, e.to_string()))?;
    if mac.is_multicast() || mac == MacAddr::ZERO {
        return Err(invalid(key, format!("{mac} is not a unicast MAC")));
    }
    Ok(mac)
}

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

    /// Checks everything serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), TopologyError> {
        self.validate_name()?;
        self.validate_controller()?;
        self.validate_switches()?;
        self.validate_links()?;
        let mut addresses: HashMap<Ipv4Addr, String> = HashMap::new();
        let mut macs: HashMap<MacAddr, String> = HashMap::new();
        self.validate_hosts(&mut addresses, &mut macs)?;
        if let Some(access) = &self.host_access {
            let key = "host_access";
            if self.switch(&access.switch).is_none() {
                return Err(invalid(format!("{key}.switch"), format!("unknown switch {:?}", access.switch)));
            }
            self.check_address(&format!("{key}.ip"), access.ip, &mut addresses)?;
            let mac = match &access.mac {
                Some(text) => parse_mac(&format!("{key}.mac"), text)?,
                None => access.mac(),
            };
            check_unique_mac(&format!("{key}.mac"), mac, &mut macs)?;
        }
        self.validate_pools(&mut addresses, &mut macs)
    }

    fn validate_name(&self) -> Result<(), TopologyError> {
        let ok = !self.name.is_empty()
            && self.name.len() <= MAX_TOPOLOGY_NAME
            && self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !self.name.starts_with('-')
            && !self.name.ends_with('-');
        if ok {
            Ok(())
        } else {
            Err(invalid(
                "name",
                format!(
                    "{:?} is not a valid topology name: use lowercase letters, digits and '-', \
                     at most {MAX_TOPOLOGY_NAME} characters",
                    self.name
                ),
            ))
        }
    }

    fn validate_controller(&self) -> Result<(), TopologyError> {
        let apps = &self.controller.apps;
        for (i, app) in apps.iter().enumerate() {
            if !KNOWN_APPS.contains(&app.as_str()) {
                return Err(invalid(
                    format!("controller.apps[{i}]"),
                    format!("unknown app {app:?} (known: {})", KNOWN_APPS.join(", ")),
                ));
            }
            if apps[..i].contains(app) {
                return Err(invalid(format!("controller.apps[{i}]"), format!("{app:?} is listed twice")));
            }
        }
        let has = |name: &str| apps.iter().any(|a| a == name);
        if has("l2switch") && has("topology") {
            return Err(invalid("controller.apps", "l2switch and topology both forward packets: pick one"));
        }
        if !has("l2switch") && !has("topology") {
            return Err(invalid(
                "controller.apps",
                "nothing forwards ordinary traffic: add \"l2switch\" (one switch, no loops) or \"topology\"",
            ));
        }
        if self.controller.openflow == self.controller.api {
            return Err(invalid("controller.api", "the REST API and OpenFlow cannot share one address"));
        }
        Ok(())
    }

    fn validate_switches(&self) -> Result<(), TopologyError> {
        if self.switches.is_empty() {
            return Err(invalid("switches", "at least one switch is needed"));
        }
        let mut dpids: HashMap<u64, &str> = HashMap::new();
        for (i, sw) in self.switches.iter().enumerate() {
            let key = format!("switches[{i}]");
            check_node_name(&format!("{key}.name"), &sw.name)?;
            if self.switches[..i].iter().any(|s| s.name == sw.name) {
                return Err(invalid(format!("{key}.name"), format!("two switches are named {:?}", sw.name)));
            }
            let key = format!("{key} ({}).dpid", sw.name);
            let dpid = match sw.dpid {
                Some(d) => d,
                None => number_in(&sw.name).ok_or_else(|| {
                    invalid(&key, "the name holds no number to derive a datapath id from: set dpid")
                })?,
            };
            if dpid == 0 || dpid >> 48 != 0 {
                return Err(invalid(&key, format!("datapath id {dpid} must be 1..2^48 (the low 48 bits)")));
            }
            if let Some(other) = dpids.insert(dpid, &sw.name) {
                return Err(invalid(&key, format!("datapath id {dpid} is also switch {other:?}'s")));
            }
        }
        Ok(())
    }

    fn validate_links(&self) -> Result<(), TopologyError> {
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for (i, link) in self.links.iter().enumerate() {
            let key = format!("links[{i}]");
            for (end, name) in [("a", &link.a), ("b", &link.b)] {
                if self.switch(name).is_none() {
                    return Err(invalid(format!("{key}.{end}"), format!("unknown switch {name:?}")));
                }
            }
            if link.a == link.b {
                return Err(invalid(format!("{key}.b"), format!("a link from {:?} to itself", link.a)));
            }
            let pair = if link.a < link.b { (&*link.a, &*link.b) } else { (&*link.b, &*link.a) };
            if !seen.insert(pair) {
                return Err(invalid(key, format!("{} and {} are already linked", link.a, link.b)));
            }
            check_shaping(&key, link.delay, link.jitter, link.loss)?;
        }
        if self.controller.apps.iter().any(|a| a == "l2switch") && self.has_loop() {
            return Err(invalid(
                "controller.apps",
                "the links form a loop, where l2switch floods forever: use \"topology\" instead",
            ));
        }
        Ok(())
    }

    /// Whether the switch graph has a cycle (union-find over the links).
    fn has_loop(&self) -> bool {
        let index: HashMap<&str, usize> =
            self.switches.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let mut parent: Vec<usize> = (0..self.switches.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for link in &self.links {
            let (Some(&a), Some(&b)) = (index.get(link.a.as_str()), index.get(link.b.as_str())) else {
                continue;
            };
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            if ra == rb {
                return true;
            }
            parent[ra] = rb;
        }
        false
    }

    fn check_address(
        &self,
        key: &str,
        ip: Ipv4Addr,
        addresses: &mut HashMap<Ipv4Addr, String>,
    ) -> Result<(), TopologyError> {
        if !self.subnet.contains(ip) {
            return Err(invalid(key, format!("{ip} is outside the subnet {}", self.subnet)));
        }
        if self.subnet.is_reserved(ip) {
            return Err(invalid(key, format!("{ip} is the network or broadcast address of {}", self.subnet)));
        }
        if let Some(other) = addresses.insert(ip, key.to_string()) {
            return Err(invalid(key, format!("{ip} is already used by {other}")));
        }
        Ok(())
    }

    fn validate_hosts(
        &self,
        addresses: &mut HashMap<Ipv4Addr, String>,
        macs: &mut HashMap<MacAddr, String>,
    ) -> Result<(), TopologyError> {
        for (i, host) in self.hosts.iter().enumerate() {
            let key = format!("hosts[{i}]");
            check_node_name(&format!("{key}.name"), &host.name)?;
            if self.hosts[..i].iter().any(|h| h.name == host.name) {
                return Err(invalid(format!("{key}.name"), format!("two hosts are named {:?}", host.name)));
            }
            let key = format!("{key} ({})", host.name);
            if host.name == "ovs" {
                return Err(invalid(format!("{key}.name"), "\"ovs\" is reserved for the switch namespace"));
            }
            if self.switch(&host.switch).is_none() {
                return Err(invalid(format!("{key}.switch"), format!("unknown switch {:?}", host.switch)));
            }
            self.check_address(&format!("{key}.ip"), host.ip, addresses)?;
            let mac = match &host.mac {
                Some(text) => parse_mac(&format!("{key}.mac"), text)?,
                None => host.mac(),
            };
            check_unique_mac(&format!("{key}.mac"), mac, macs)?;
            check_shaping(&key, host.delay, host.jitter, host.loss)?;
            match host.role {
                Role::Client => {
                    for (field, set) in
                        [("port", host.port.is_some()), ("model", host.model.is_some()), ("cpu", host.cpu.is_some())]
                    {
                        if set {
                            return Err(invalid(
                                format!("{key}.{field}"),
                                "only inference hosts serve a model (role = \"inference\")",
                            ));
                        }
                    }
                }
                Role::Inference => {
                    if host.port == Some(0) {
                        return Err(invalid(format!("{key}.port"), "0 is not a TCP port"));
                    }
                    let model = host.model_name();
                    let model_ok = !model.is_empty()
                        && !model.starts_with('.')
                        && model.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !model_ok {
                        return Err(invalid(
                            format!("{key}.model"),
                            format!("{model:?} must be a directory name under models/, e.g. \"v1\""),
                        ));
                    }
                    if let Some(cpu) = host.cpu
                        && !(cpu.is_finite() && (0.01..=256.0).contains(&cpu))
                    {
                        return Err(invalid(format!("{key}.cpu"), format!("{cpu} cores: must be 0.01..=256")));
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_pools(
        &self,
        addresses: &mut HashMap<Ipv4Addr, String>,
        macs: &mut HashMap<MacAddr, String>,
    ) -> Result<(), TopologyError> {
        if !self.pools.is_empty() && !self.controller.apps.iter().any(|a| a == "lb") {
            return Err(invalid("controller.apps", "pools are defined but the \"lb\" app is not listed"));
        }
        for (i, pool) in self.pools.iter().enumerate() {
            let key = format!("pools[{i}]");
            if pool.name.is_empty() {
                return Err(invalid(format!("{key}.name"), "must not be empty"));
            }
            if self.pools[..i].iter().any(|p| p.name == pool.name) {
                return Err(invalid(format!("{key}.name"), format!("two pools are named {:?}", pool.name)));
            }
            let key = format!("{key} ({})", pool.name);
            self.check_address(&format!("{key}.vip"), pool.vip, addresses)?;
            let mac = match &pool.vip_mac {
                Some(text) => parse_mac(&format!("{key}.vip_mac"), text)?,
                None => pool.vip_mac(),
            };
            check_unique_mac(&format!("{key}.vip_mac"), mac, macs)?;
            if pool.ports.is_empty() || pool.ports.contains(&0) {
                return Err(invalid(format!("{key}.ports"), "at least one TCP port, and 0 is not one"));
            }
            if pool.backends.is_empty() {
                return Err(invalid(format!("{key}.backends"), "a pool needs at least one backend"));
            }
            for (j, backend) in pool.backends.iter().enumerate() {
                let bkey = format!("{key}.backends[{j}]");
                let Some(host) = self.host(&backend.host) else {
                    return Err(invalid(format!("{bkey}.host"), format!("unknown host {:?}", backend.host)));
                };
                if host.role != Role::Inference {
                    return Err(invalid(
                        format!("{bkey}.host"),
                        format!("{:?} is a {:?} host, not an inference host", host.name, host.role),
                    ));
                }
                if pool.backends[..j].iter().any(|b| b.host == backend.host) {
                    return Err(invalid(format!("{bkey}.host"), format!("{:?} is listed twice", backend.host)));
                }
                if backend.weight == 0 {
                    return Err(invalid(format!("{bkey}.weight"), "must be at least 1"));
                }
                // The LB rewrites only the destination IP (and MAC), so the node must listen on
                // the port the client dialled at the VIP.
                if !pool.ports.contains(&host.serve_port()) {
                    return Err(invalid(
                        format!("{bkey}.host"),
                        format!(
                            "{:?} serves on port {}, which is not one of the pool's ports {:?}",
                            host.name,
                            host.serve_port(),
                            pool.ports
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check_unique_mac(key: &str, mac: MacAddr, macs: &mut HashMap<MacAddr, String>) -> Result<(), TopologyError> {
    if let Some(other) = macs.insert(mac, key.to_string()) {
        return Err(invalid(key, format!("MAC {mac} is already used by {other}")));
    }
    Ok(())
}

fn check_shaping(
    key: &str,
    delay: Option<Delay>,
    jitter: Option<Delay>,
    loss: Option<f64>,
) -> Result<(), TopologyError> {
    if jitter.is_some() && delay.is_none() {
        return Err(invalid(format!("{key}.jitter"), "jitter needs a delay"));
    }
    if let (Some(j), Some(d)) = (jitter, delay)
        && j.micros > d.micros
    {
        return Err(invalid(format!("{key}.jitter"), format!("jitter {j} is larger than the delay {d}")));
    }
    if let Some(loss) = loss
        && !(loss.is_finite() && (0.0..=100.0).contains(&loss))
    {
        return Err(invalid(format!("{key}.loss"), format!("{loss} is not a percentage (0 to 100)")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

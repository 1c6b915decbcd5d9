//! [`Topology::validate`]: the checks serde cannot make (references between tables, unique names,
//! addresses and MACs, loops under l2switch, ...), each error naming the offending key.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ofproto::MacAddr;

use super::*;

fn invalid(key: impl Into<String>, message: impl Into<String>) -> TopologyError {
    TopologyError::Invalid { key: key.into(), message: message.into() }
}

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
    let mac: MacAddr =
        text.parse().map_err(|e: ofproto::types::MacAddrParseError| invalid(key, e.to_string()))?;
    if mac.is_multicast() || mac == MacAddr::ZERO {
        return Err(invalid(key, format!("{mac} is not a unicast MAC")));
    }
    Ok(mac)
}

impl Topology {
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
    pub(super) fn has_loop(&self) -> bool {
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
                    for (field, set) in [
                        ("port", host.port.is_some()),
                        ("model", host.model.is_some()),
                        ("cpu", host.cpu.is_some()),
                    ] {
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
                        return Err(invalid(
                            format!("{key}.cpu"),
                            format!("{cpu} cores: must be 0.01..=256"),
                        ));
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
                    return Err(invalid(
                        format!("{bkey}.host"),
                        format!("{:?} is listed twice", backend.host),
                    ));
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

fn check_unique_mac(
    key: &str,
    mac: MacAddr,
    macs: &mut HashMap<MacAddr, String>,
) -> Result<(), TopologyError> {
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

//! The topology graph: switches and their ports, switch-to-switch links learned from LLDP, and hosts
//! learned from the traffic they send. Pure data and decisions, no I/O, so everything here is
//! unit-tested without a switch.
//!
//! Links are directed, as LLDP sees them (a probe sent from `src` arrived at `dst`), but paths and the
//! spanning tree treat the switches as connected when either direction has been seen: one probe is
//! enough to know that both ports face a switch rather than a host.
//!
//! Every iteration runs over `BTreeMap`s, so paths and trees depend only on the graph's contents, never
//! on the order in which things were learned.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ofproto::{MacAddr, PortNo};

/// One port of one switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub dpid: u64,
    pub port: PortNo,
}

impl Endpoint {
    pub fn new(dpid: u64, port: PortNo) -> Endpoint {
        Endpoint { dpid, port }
    }
}

/// One step of a path: leave switch `dpid` through `out_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Hop {
    pub dpid: u64,
    pub out_port: PortNo,
}

/// What the graph keeps about a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    pub port_no: PortNo,
    pub hw_addr: MacAddr,
    pub name: String,
    /// Administratively up and with a link (OF1.3.5 §7.2.1: no PORT_DOWN config, no LINK_DOWN state).
    pub up: bool,
}

impl From<&ofproto::port::Port> for PortInfo {
    fn from(p: &ofproto::port::Port) -> PortInfo {
        PortInfo { port_no: p.port_no, hw_addr: p.hw_addr, name: p.name.as_str().into_owned(), up: p.is_up() }
    }
}

/// A connected switch.
#[derive(Debug, Clone)]
pub struct SwitchNode {
    /// Physical ports only (reserved ports such as LOCAL are left out: nothing is discovered on them).
    pub ports: BTreeMap<PortNo, PortInfo>,
    pub up_since: Instant,
}

/// A host: a unicast MAC address seen on an edge port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub mac: MacAddr,
    pub location: Endpoint,
    pub ipv4: BTreeSet<Ipv4Addr>,
    pub ipv6: BTreeSet<Ipv6Addr>,
}

/// What learning from one frame did to the host table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostUpdate {
    /// Not learned: a multicast source, an unknown switch or port, or an inter-switch port.
    Ignored,
    New,
    /// Seen before at the same place (addresses may have been added).
    Known,
    /// The host now appears somewhere else; flows towards it are stale.
    Moved {
        from: Endpoint,
    },
}

/// What one LLDP probe did to the link table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkUpdate {
    /// Not a link: an unknown switch or port, or a probe that came back to the switch it left.
    Ignored,
    /// A link not known before (or a port that now faces a different peer). Paths and the spanning
    /// tree change, and hosts wrongly learned on its ports were removed (listed here).
    New {
        removed_hosts: Vec<MacAddr>,
    },
    Refreshed,
}

fn is_physical(port: PortNo) -> bool {
    port.0 != 0 && port.0 <= PortNo::MAX.0
}

/// Switches, links and hosts.
#[derive(Debug, Clone, Default)]
pub struct TopologyGraph {
    switches: BTreeMap<u64, SwitchNode>,
    /// Directed links by source port: a port has at most one peer (the last one heard).
    links: BTreeMap<Endpoint, (Endpoint, Instant)>,
    hosts: BTreeMap<MacAddr, Host>,
    /// Counts changes of the link set (a link found, lost or expired; not a refresh), so apps that
    /// install rules along paths know when to recompute them.
    link_generation: u64,
}

impl TopologyGraph {
    pub fn new() -> TopologyGraph {
        TopologyGraph::default()
    }

    /// How many times the link set has changed (see the field).
    pub fn link_generation(&self) -> u64 {
        self.link_generation
    }

    fn links_changed(&mut self, changed: bool) -> bool {
        if changed {
            self.link_generation += 1;
        }
        changed
    }

    pub fn switches(&self) -> &BTreeMap<u64, SwitchNode> {
        &self.switches
    }

    pub fn switch(&self, dpid: u64) -> Option<&SwitchNode> {
        self.switches.get(&dpid)
    }

    pub fn port(&self, ep: Endpoint) -> Option<&PortInfo> {
        self.switches.get(&ep.dpid)?.ports.get(&ep.port)
    }

    /// Directed links (src → dst), ordered by source.
    pub fn links(&self) -> impl Iterator<Item = (Endpoint, Endpoint)> + '_ {
        self.links.iter().map(|(src, (dst, _))| (*src, *dst))
    }

    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    pub fn host(&self, mac: &MacAddr) -> Option<&Host> {
        self.hosts.get(mac)
    }

    /// Adds (or re-adds, after a reconnect) a switch. Links and hosts of an earlier incarnation are
    /// dropped: its ports may have been rewired while it was away.
    pub fn add_switch(&mut self, dpid: u64, ports: impl IntoIterator<Item = PortInfo>, now: Instant) {
        self.remove_switch(dpid);
        let ports = ports.into_iter().filter(|p| is_physical(p.port_no)).map(|p| (p.port_no, p)).collect();
        self.switches.insert(dpid, SwitchNode { ports, up_since: now });
    }

    /// Removes a switch with its links and hosts. Returns whether any link went away.
    pub fn remove_switch(&mut self, dpid: u64) -> bool {
        self.switches.remove(&dpid);
        self.hosts.retain(|_, h| h.location.dpid != dpid);
        let before = self.links.len();
        self.links.retain(|src, (dst, _)| src.dpid != dpid && dst.dpid != dpid);
        self.links_changed(self.links.len() != before)
    }

    /// Records a port's new description. A port that is down (or deleted, `info` None) loses its links
    /// and hosts; returns (links removed?, hosts removed).
    pub fn update_port(&mut self, dpid: u64, port: PortNo, info: Option<PortInfo>) -> (bool, Vec<MacAddr>) {
        let Some(sw) = self.switches.get_mut(&dpid) else { return (false, Vec::new()) };
        if !is_physical(port) {
            return (false, Vec::new());
        }
        let up = info.as_ref().is_some_and(|i| i.up);
        match info {
            Some(i) => {
                sw.ports.insert(port, i);
            }
            None => {
                sw.ports.remove(&port);
            }
        }
        if up {
            return (false, Vec::new());
        }
        let ep = Endpoint::new(dpid, port);
        let before = self.links.len();
        self.links.retain(|src, (dst, _)| *src != ep && *dst != ep);
        (self.links_changed(self.links.len() != before), self.remove_hosts_at(ep))
    }

    fn remove_hosts_at(&mut self, ep: Endpoint) -> Vec<MacAddr> {
        let gone: Vec<MacAddr> = self.hosts.values().filter(|h| h.location == ep).map(|h| h.mac).collect();
        for mac in &gone {
            self.hosts.remove(mac);
        }
        gone
    }

    /// Learns from a probe sent out of `src` that arrived at `dst`.
    pub fn learn_link(&mut self, src: Endpoint, dst: Endpoint, now: Instant) -> LinkUpdate {
        if src.dpid == dst.dpid || self.port(src).is_none() || self.port(dst).is_none() {
            return LinkUpdate::Ignored;
        }
        match self.links.insert(src, (dst, now)) {
            Some((old, _)) if old == dst => LinkUpdate::Refreshed,
            _ => {
                self.links_changed(true);
                let mut removed_hosts = self.remove_hosts_at(src);
                removed_hosts.extend(self.remove_hosts_at(dst));
                LinkUpdate::New { removed_hosts }
            }
        }
    }

    /// Forgets links not heard from for `timeout`; returns them.
    pub fn expire_links(&mut self, now: Instant, timeout: Duration) -> Vec<(Endpoint, Endpoint)> {
        let expired: Vec<(Endpoint, Endpoint)> = self
            .links
            .iter()
            .filter(|(_, (_, seen))| now.saturating_duration_since(*seen) > timeout)
            .map(|(src, (dst, _))| (*src, *dst))
            .collect();
        for (src, _) in &expired {
            self.links.remove(src);
        }
        self.links_changed(!expired.is_empty());
        expired
    }

    /// Whether a link (either direction) ends at this port.
    pub fn is_inter_switch(&self, ep: Endpoint) -> bool {
        self.links.contains_key(&ep) || self.links.values().any(|(dst, _)| *dst == ep)
    }

    /// Learns a host from a frame with source `mac` that arrived at `at`, with the addresses it used.
    pub fn learn_host(
        &mut self,
        mac: MacAddr,
        at: Endpoint,
        ipv4: Option<Ipv4Addr>,
        ipv6: Option<Ipv6Addr>,
    ) -> HostUpdate {
        if mac.is_multicast() || mac == MacAddr::ZERO || self.port(at).is_none() || self.is_inter_switch(at) {
            return HostUpdate::Ignored;
        }
        let update = match self.hosts.get_mut(&mac) {
            None => {
                self.hosts
                    .insert(mac, Host { mac, location: at, ipv4: BTreeSet::new(), ipv6: BTreeSet::new() });
                HostUpdate::New
            }
            Some(host) if host.location == at => HostUpdate::Known,
            Some(host) => {
                let from = host.location;
                // A host that moved keeps no addresses from its old place: they may be someone else's now.
                host.location = at;
                host.ipv4.clear();
                host.ipv6.clear();
                HostUpdate::Moved { from }
            }
        };
        if let Some(host) = self.hosts.get_mut(&mac) {
            if let Some(ip) = ipv4.filter(|ip| !ip.is_unspecified()) {
                host.ipv4.insert(ip);
            }
            if let Some(ip) = ipv6.filter(|ip| !ip.is_unspecified()) {
                host.ipv6.insert(ip);
            }
        }
        update
    }

    /// Switch adjacency, undirected: for each switch, its inter-switch ports and the far end of each.
    fn adjacency(&self) -> BTreeMap<u64, BTreeMap<PortNo, Endpoint>> {
        let mut adj: BTreeMap<u64, BTreeMap<PortNo, Endpoint>> = BTreeMap::new();
        for (src, (dst, _)) in &self.links {
            adj.entry(src.dpid).or_default().entry(src.port).or_insert(*dst);
            adj.entry(dst.dpid).or_default().entry(dst.port).or_insert(*src);
        }
        adj
    }

    /// Shortest path (fewest switch-to-switch hops) from switch `src` to switch `dst`: the hops that
    /// leave `src` and every switch after it, up to but not including `dst` (empty when src == dst).
    /// None when either switch is unknown or they are not connected.
    ///
    /// Ties are broken deterministically: the search runs backwards from `dst`, visiting each switch's
    /// ports in ascending order, and every switch keeps the first neighbour that reached it. So all
    /// paths towards one destination agree with each other (they form a tree rooted at `dst`), which
    /// keeps per-destination flows on shared switches consistent.
    pub fn shortest_path(&self, src: u64, dst: u64) -> Option<Vec<Hop>> {
        if !self.switches.contains_key(&src) || !self.switches.contains_key(&dst) {
            return None;
        }
        let adj = self.adjacency();
        // next[v] = the port of v that leads one step closer to dst.
        let mut next: BTreeMap<u64, PortNo> = BTreeMap::new();
        let mut seen = BTreeSet::from([dst]);
        let mut queue = VecDeque::from([dst]);
        while let Some(u) = queue.pop_front() {
            if u == src {
                break;
            }
            for far in adj.get(&u).into_iter().flat_map(|ports| ports.values()) {
                if self.switches.contains_key(&far.dpid) && seen.insert(far.dpid) {
                    next.insert(far.dpid, far.port);
                    queue.push_back(far.dpid);
                }
            }
        }
        if !seen.contains(&src) {
            return None;
        }
        let mut path = Vec::new();
        let mut at = src;
        while at != dst {
            let out_port = *next.get(&at)?;
            path.push(Hop { dpid: at, out_port });
            at = adj.get(&at)?.get(&out_port)?.dpid;
            if path.len() > self.switches.len() {
                return None; // cannot happen with a BFS tree; guards against a corrupt graph
            }
        }
        Some(path)
    }

    /// The full path from switch `src` to host `mac`, ending with the hop onto the host's port.
    pub fn path_to_host(&self, src: u64, mac: &MacAddr) -> Option<Vec<Hop>> {
        let host = self.hosts.get(mac)?;
        let mut path = self.shortest_path(src, host.location.dpid)?;
        path.push(Hop { dpid: host.location.dpid, out_port: host.location.port });
        Some(path)
    }

    /// The inter-switch ports on the spanning tree: a BFS tree per connected component, rooted at its
    /// lowest dpid, visiting ports in ascending order. Both ends of every tree link are listed.
    pub fn spanning_tree(&self) -> BTreeSet<Endpoint> {
        let adj = self.adjacency();
        let mut tree = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for &root in self.switches.keys() {
            if !seen.insert(root) {
                continue;
            }
            let mut queue = VecDeque::from([root]);
            while let Some(u) = queue.pop_front() {
                for (port, far) in adj.get(&u).into_iter().flatten() {
                    if self.switches.contains_key(&far.dpid) && seen.insert(far.dpid) {
                        tree.insert(Endpoint::new(u, *port));
                        tree.insert(*far);
                        queue.push_back(far.dpid);
                    }
                }
            }
        }
        tree
    }

    /// Where to flood a broadcast (or unknown-destination) frame that arrived at `in_port` of `dpid`:
    /// every up port that is an edge port or on the spanning tree, except the one it came in on.
    /// None means drop it: it came in on an inter-switch port that is not on the tree, so it is a copy
    /// that travelled around a loop (or will be delivered via the tree anyway).
    pub fn flood_ports(&self, dpid: u64, in_port: PortNo) -> Option<Vec<PortNo>> {
        let sw = self.switches.get(&dpid)?;
        let tree = self.spanning_tree();
        let arrived = Endpoint::new(dpid, in_port);
        if self.is_inter_switch(arrived) && !tree.contains(&arrived) {
            return None;
        }
        let ports = sw
            .ports
            .values()
            .filter(|p| p.up && p.port_no != in_port)
            .map(|p| Endpoint::new(dpid, p.port_no))
            .filter(|ep| tree.contains(ep) || !self.is_inter_switch(*ep))
            .map(|ep| ep.port)
            .collect();
        Some(ports)
    }
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;

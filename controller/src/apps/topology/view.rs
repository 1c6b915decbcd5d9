//! `TopologyView`: the read side of the topology app, shared with the REST API and with apps that
//! route traffic (the load balancer). A cheap `Clone` over the graph the app updates; every read takes
//! the lock briefly and never across an `.await`.
//!
//! Snapshots serialise in the JSON shapes of Ryu's `ryu/topology/switches.py` `to_dict()` (dpid as 16
//! hex digits, port_no as 8), which is what `rest_topology.py` returns.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ofproto::{MacAddr, PortNo};
use serde::{Serialize, Serializer};

use super::graph::{Endpoint, Hop, TopologyGraph};

fn dpid_hex<S: Serializer>(dpid: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{dpid:016x}"))
}

fn port_hex<S: Serializer>(port: &PortNo, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{:08x}", port.0))
}

/// Ryu's `Port.to_dict()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortView {
    #[serde(serialize_with = "dpid_hex")]
    pub dpid: u64,
    #[serde(serialize_with = "port_hex")]
    pub port_no: PortNo,
    pub hw_addr: MacAddr,
    pub name: String,
}

/// Ryu's `Switch.to_dict()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchView {
    #[serde(serialize_with = "dpid_hex")]
    pub dpid: u64,
    pub ports: Vec<PortView>,
}

/// Ryu's `Link.to_dict()`: one direction of a switch-to-switch link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkView {
    pub src: PortView,
    pub dst: PortView,
}

/// Ryu's `Host.to_dict()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostView {
    pub mac: MacAddr,
    pub ipv4: Vec<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
    pub port: PortView,
}

/// Everything the app knows at one instant, ordered by dpid, port and MAC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TopologySnapshot {
    pub switches: Vec<SwitchView>,
    pub links: Vec<LinkView>,
    pub hosts: Vec<HostView>,
}

/// Where a host is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HostLocation {
    pub dpid: u64,
    pub port: PortNo,
}

/// Read access to the topology. Cheap to clone.
#[derive(Clone, Default)]
pub struct TopologyView {
    graph: Arc<RwLock<TopologyGraph>>,
}

impl std::fmt::Debug for TopologyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.read();
        write!(f, "TopologyView({} switches, {} hosts)", g.switches().len(), g.hosts().count())
    }
}

impl TopologyView {
    pub fn new(graph: TopologyGraph) -> TopologyView {
        TopologyView { graph: Arc::new(RwLock::new(graph)) }
    }

    /// A panic elsewhere while holding the lock leaves the graph consistent enough to read (every
    /// mutation is a single map operation), so poisoning is ignored rather than spread.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, TopologyGraph> {
        self.graph.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, TopologyGraph> {
        self.graph.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes so far of the link set: when it moves, paths may have too.
    pub fn link_generation(&self) -> u64 {
        self.read().link_generation()
    }

    /// Switches, links and hosts as they are now.
    pub fn snapshot(&self) -> TopologySnapshot {
        let g = self.read();
        let port_view = |ep: Endpoint| {
            g.port(ep).map(|p| PortView {
                dpid: ep.dpid,
                port_no: ep.port,
                hw_addr: p.hw_addr,
                name: p.name.clone(),
            })
        };
        let switches = g
            .switches()
            .iter()
            .map(|(&dpid, sw)| SwitchView {
                dpid,
                ports: sw.ports.keys().filter_map(|&p| port_view(Endpoint::new(dpid, p))).collect(),
            })
            .collect();
        let links = g
            .links()
            .filter_map(|(src, dst)| Some(LinkView { src: port_view(src)?, dst: port_view(dst)? }))
            .collect();
        let hosts = g
            .hosts()
            .filter_map(|h| {
                Some(HostView {
                    mac: h.mac,
                    ipv4: h.ipv4.iter().copied().collect(),
                    ipv6: h.ipv6.iter().copied().collect(),
                    port: port_view(h.location)?,
                })
            })
            .collect();
        TopologySnapshot { switches, links, hosts }
    }

    /// Shortest path between two switches: the hops leaving `src_dpid` and each following switch, up
    /// to but not including `dst_dpid` (empty when they are the same switch). See
    /// [`TopologyGraph::shortest_path`] for the tie-break.
    pub fn shortest_path(&self, src_dpid: u64, dst_dpid: u64) -> Option<Vec<Hop>> {
        self.read().shortest_path(src_dpid, dst_dpid)
    }

    /// The full path from a switch to a known host, ending with the hop onto the host's port.
    pub fn path_to_host(&self, src_dpid: u64, mac: &MacAddr) -> Option<Vec<Hop>> {
        self.read().path_to_host(src_dpid, mac)
    }

    /// Where a host was last seen.
    pub fn host_location(&self, mac: &MacAddr) -> Option<HostLocation> {
        self.read().host(mac).map(|h| HostLocation { dpid: h.location.dpid, port: h.location.port })
    }

    /// The MAC address of the host using `ip`, if one has been seen with it.
    pub fn host_by_ipv4(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.read().hosts().find(|h| h.ipv4.contains(&ip)).map(|h| h.mac)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::apps::topology::graph::PortInfo;

    fn port(n: u32) -> PortInfo {
        PortInfo {
            port_no: PortNo(n),
            hw_addr: MacAddr([2, 0, 0, 0, 0, n as u8]),
            name: format!("s-eth{n}"),
            up: true,
        }
    }

    #[test]
    fn snapshot_serialises_in_ryus_shapes() {
        let now = Instant::now();
        let mut g = TopologyGraph::new();
        g.add_switch(1, [port(1), port(2)], now);
        g.add_switch(0x1f, [port(1)], now);
        g.learn_link(Endpoint::new(1, PortNo(1)), Endpoint::new(0x1f, PortNo(1)), now);
        let mac = MacAddr([0, 0, 0, 0, 0, 1]);
        g.learn_host(mac, Endpoint::new(1, PortNo(2)), Some(Ipv4Addr::new(10, 0, 0, 1)), None);
        let view = TopologyView::new(g);

        let json = serde_json::to_value(view.snapshot()).unwrap();
        let p1 = serde_json::json!({"dpid": "0000000000000001", "port_no": "00000001", "hw_addr": "02:00:00:00:00:01", "name": "s-eth1"});
        assert_eq!(json["switches"][0]["dpid"], "0000000000000001");
        assert_eq!(json["switches"][0]["ports"][0], p1);
        assert_eq!(json["switches"][1]["dpid"], "000000000000001f");
        assert_eq!(json["links"][0]["src"], p1);
        assert_eq!(json["links"][0]["dst"]["dpid"], "000000000000001f");
        assert_eq!(json["hosts"][0]["mac"], "00:00:00:00:00:01");
        assert_eq!(json["hosts"][0]["ipv4"], serde_json::json!(["10.0.0.1"]));
        assert_eq!(json["hosts"][0]["ipv6"], serde_json::json!([]));
        assert_eq!(json["hosts"][0]["port"]["port_no"], "00000002");

        assert_eq!(view.host_location(&mac), Some(HostLocation { dpid: 1, port: PortNo(2) }));
        assert_eq!(view.host_by_ipv4(Ipv4Addr::new(10, 0, 0, 1)), Some(mac));
        assert_eq!(view.shortest_path(1, 0x1f), Some(vec![Hop { dpid: 1, out_port: PortNo(1) }]));
        assert_eq!(
            view.path_to_host(0x1f, &mac),
            Some(vec![Hop { dpid: 0x1f, out_port: PortNo(1) }, Hop { dpid: 1, out_port: PortNo(2) }])
        );
    }
}

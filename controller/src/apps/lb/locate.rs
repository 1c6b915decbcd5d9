//! Where hosts are: the edge port of each IPv4 address the LB app has seen in a PACKET_IN, and the
//! hops between switches to reach it.
//!
//! Every LB PACKET_IN comes from a trap rule (ARP for a VIP, TCP to a VIP) that is installed on every
//! switch, so a host's packet is trapped at the first switch it enters: the PACKET_IN's switch and
//! in_port are the host's edge location. That holds for clients (ARP request or SYN to the VIP) and for
//! backends (their ARP reply to the VIP). With several switches, paths between edges come from the
//! topology app's [`TopologyView`]; without it, only hosts on the switch itself can be reached.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Instant;

use ofproto::{MacAddr, PortNo};

use crate::apps::topology::{Hop, TopologyView};

/// One host's edge location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub mac: MacAddr,
    pub dpid: u64,
    pub port: PortNo,
    pub at: Instant,
}

/// Why no path to a host is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocateError {
    #[error("{0} has not been seen on any switch yet")]
    Unknown(Ipv4Addr),
    #[error(
        "{ip} is on switch {host_dpid:#x}; switch {from:#x} has no path to it (multi-switch steering needs the topology app)"
    )]
    NoPath { ip: Ipv4Addr, from: u64, host_dpid: u64 },
}

/// Edge locations by IPv4 address.
#[derive(Debug, Default)]
pub struct Locations {
    by_ip: HashMap<Ipv4Addr, Seen>,
}

impl Locations {
    /// Records `ip`/`mac` at `dpid`/`port`. Returns true when this is new or moved.
    pub fn learn(&mut self, ip: Ipv4Addr, mac: MacAddr, dpid: u64, port: PortNo) -> bool {
        if ip.is_unspecified() || ip.is_broadcast() || mac.is_multicast() {
            return false;
        }
        let seen = Seen { mac, dpid, port, at: Instant::now() };
        match self.by_ip.insert(ip, seen) {
            Some(old) => old.mac != mac || old.dpid != dpid || old.port != port,
            None => true,
        }
    }

    pub fn get(&self, ip: Ipv4Addr) -> Option<Seen> {
        self.by_ip.get(&ip).copied()
    }

    /// Where host `ip` (MAC `mac`) is: where the LB app last saw it, else where the topology app
    /// saw its MAC (a backend that has not answered the VIP's ARP on this controller run).
    pub fn find(&self, ip: Ipv4Addr, mac: MacAddr, topology: Option<&TopologyView>) -> Option<Seen> {
        self.get(ip).or_else(|| {
            let loc = topology?.host_location(&mac)?;
            Some(Seen { mac, dpid: loc.dpid, port: loc.port, at: Instant::now() })
        })
    }

    /// Forgets everything seen on a switch that went away.
    pub fn forget_switch(&mut self, dpid: u64) {
        self.by_ip.retain(|_, s| s.dpid != dpid);
    }

    /// Clients seen on any switch (not in `exclude`), for the switch-side modes' reverse rules.
    pub fn all(&self) -> impl Iterator<Item = (Ipv4Addr, Seen)> + '_ {
        self.by_ip.iter().map(|(ip, s)| (*ip, *s))
    }

    /// The hops from switch `from` to `ip`'s edge port: one hop on the same switch, else the topology
    /// path followed by the edge hop.
    pub fn path(
        &self,
        from: u64,
        ip: Ipv4Addr,
        topology: Option<&TopologyView>,
    ) -> Result<Vec<Hop>, LocateError> {
        let seen = self.get(ip).ok_or(LocateError::Unknown(ip))?;
        path_to(from, ip, seen, topology)
    }
}

/// The hops from switch `from` to a host at `seen`.
pub fn path_to(
    from: u64,
    ip: Ipv4Addr,
    seen: Seen,
    topology: Option<&TopologyView>,
) -> Result<Vec<Hop>, LocateError> {
    let edge = Hop { dpid: seen.dpid, out_port: seen.port };
    if from == seen.dpid {
        return Ok(vec![edge]);
    }
    let no_path = LocateError::NoPath { ip, from, host_dpid: seen.dpid };
    let mut hops = topology.and_then(|t| t.shortest_path(from, seen.dpid)).ok_or(no_path)?;
    hops.push(edge);
    Ok(hops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_moves_and_paths_on_one_switch() {
        let mut l = Locations::default();
        let ip = Ipv4Addr::new(10, 0, 0, 11);
        let mac = MacAddr([2, 0, 0, 0, 0, 11]);
        assert!(l.learn(ip, mac, 1, PortNo(3)));
        assert!(!l.learn(ip, mac, 1, PortNo(3)), "same place is not news");
        assert!(l.learn(ip, mac, 1, PortNo(4)), "a move is");
        assert!(!l.learn(Ipv4Addr::UNSPECIFIED, mac, 1, PortNo(4)), "DHCP-style sources are ignored");
        assert_eq!(l.path(1, ip, None), Ok(vec![Hop { dpid: 1, out_port: PortNo(4) }]));
        assert_eq!(l.path(2, ip, None), Err(LocateError::NoPath { ip, from: 2, host_dpid: 1 }));
        let other = Ipv4Addr::new(10, 0, 0, 12);
        assert_eq!(l.path(1, other, None), Err(LocateError::Unknown(other)));
        l.forget_switch(1);
        assert_eq!(l.get(ip), None);
    }
}

//! `topology`: link discovery, host discovery and shortest-path forwarding (Ryu's `--observe-links`
//! switches app plus a shortest-path forwarder, in one app).
//!
//! - Links: every switch gets a flow that traps LLDP to the controller; every `lldp_interval` (and at
//!   once when a switch or port comes up) a probe goes out of every up port ([`lldp`]). A probe that
//!   comes back from another switch is a link; links not heard from for `link_timeout` expire, and
//!   port-down, port-delete and switch-down remove them at once.
//! - Hosts: unicast source MACs of table-miss packet-ins on edge ports (ports with no link), with the
//!   IPv4/IPv6 addresses they use.
//! - Forwarding ([`forwarding`]): shortest paths to known hosts, flooding along the spanning tree for
//!   everything else. Whenever the set of links changes, every forwarding flow is deleted, so traffic
//!   comes back to the controller and takes the new paths.
//! - A switch forwards nothing for `discovery_grace` after it connects: until its probes have been
//!   answered its inter-switch ports look like edge ports, and flooding out of all of them in a looped
//!   topology would storm. Hosts retry ARP within a second, so nothing is lost but a little time.
//!
//! The graph is shared with readers through [`TopologyView`] (REST API, load balancer).

pub mod forwarding;
pub mod graph;
pub mod lldp;
pub mod view;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ofproto::message::Message;
use ofproto::port::PortReason;
use ofproto::{MacAddr, PortNo};
use serde::Deserialize;
use tracing::{debug, info};

use self::forwarding::{Decision, decide, parse_frame};
pub use self::graph::Hop;
use self::graph::{Endpoint, HostUpdate, LinkUpdate, PortInfo, TopologyGraph};
use self::lldp::ETH_TYPE_LLDP;
pub use self::view::{HostLocation, TopologySnapshot, TopologyView};
use super::App;
use crate::ofp::{DatapathHandle, Event};

/// The `[topology]` section of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopologyConfig {
    /// How often probes go out of every port, in milliseconds.
    pub lldp_interval_ms: u64,
    /// A link not heard from for this long is gone, in milliseconds (keep it a few intervals).
    pub link_timeout_ms: u64,
    /// Idle timeout of forwarding flows in seconds (0: never).
    pub idle_timeout: u16,
    /// How long a newly connected switch only discovers, before it forwards, in milliseconds.
    pub discovery_grace_ms: u64,
}

impl Default for TopologyConfig {
    fn default() -> Self {
        TopologyConfig {
            lldp_interval_ms: 1000,
            link_timeout_ms: 5000,
            idle_timeout: 60,
            discovery_grace_ms: 1000,
        }
    }
}

impl TopologyConfig {
    fn lldp_interval(&self) -> Duration {
        Duration::from_millis(self.lldp_interval_ms.max(10))
    }

    fn link_timeout(&self) -> Duration {
        // Never shorter than two rounds of probes, or every link would flap.
        Duration::from_millis(self.link_timeout_ms).max(2 * self.lldp_interval())
    }
}

/// The app. Construct with [`TopologyApp::new`], which also returns the view to share.
pub struct TopologyApp {
    config: TopologyConfig,
    view: TopologyView,
    /// The current connection of every switch in the graph.
    switches: BTreeMap<u64, DatapathHandle>,
}

impl TopologyApp {
    pub fn new(config: TopologyConfig) -> (TopologyApp, TopologyView) {
        let view = TopologyView::new(TopologyGraph::new());
        (TopologyApp { config, view: view.clone(), switches: BTreeMap::new() }, view)
    }

    /// Sends to one switch; a switch that went away meanwhile is not an error (its SwitchDown
    /// follows), and one whose queue is full (it does not read) is not waited for: the app serves
    /// every switch.
    fn send_to(&self, dpid: u64, msgs: &[Message]) {
        if let Some(dp) = self.switches.get(&dpid)
            && let Err(e) = dp.try_send_all(msgs)
        {
            debug!(dpid = %format!("{dpid:016x}"), cause = %e, "not sent");
        }
    }

    fn send_everywhere(&self, msg: Message) {
        for dp in self.switches.values() {
            let _ = dp.try_send(&msg);
        }
    }

    /// Forgets every forwarding flow on every switch: paths changed.
    async fn flush_forwarding(&self, why: &str) {
        debug!(why, "topology changed; deleting forwarding flows");
        self.send_everywhere(forwarding::delete_forward_flows());
    }

    async fn forget_hosts(&self, macs: &[MacAddr]) {
        for mac in macs {
            self.send_everywhere(forwarding::delete_flows_to(*mac));
        }
    }

    /// Probes out of the given ports of one switch. Never waits: a switch whose queue is full just
    /// misses this round.
    fn probe(&self, dp: &DatapathHandle, ports: &[PortInfo]) {
        let msgs: Vec<Message> =
            ports.iter().filter(|p| p.up).map(|p| forwarding::probe_packet_out(dp.dpid(), p)).collect();
        if !msgs.is_empty() && dp.try_send_all(&msgs).is_err() {
            debug!(dpid = %format!("{:016x}", dp.dpid()), "probe round skipped: switch queue full or closed");
        }
    }

    async fn switch_up(&mut self, dp: &DatapathHandle, ports: &[ofproto::port::Port]) {
        let dpid = dp.dpid();
        let ports: Vec<PortInfo> = ports.iter().map(PortInfo::from).collect();
        let links_lost = {
            let mut g = self.view.write();
            let lost = g.switch(dpid).is_some() && g.links().any(|(a, b)| a.dpid == dpid || b.dpid == dpid);
            g.add_switch(dpid, ports, Instant::now());
            lost
        };
        self.switches.insert(dpid, dp.clone());
        info!(dpid = %format!("{dpid:016x}"), "topology: switch up");
        // Flows a previous controller run left behind would bypass the new paths.
        self.send_to(dpid, &[forwarding::delete_forward_flows(), forwarding::lldp_trap_flow()]);
        if links_lost {
            self.flush_forwarding("switch reconnected").await;
        }
        let ports: Vec<PortInfo> =
            self.view.read().switch(dpid).map(|s| s.ports.values().cloned().collect()).unwrap_or_default();
        self.probe(dp, &ports);
    }

    async fn switch_down(&mut self, dp: &DatapathHandle) {
        let dpid = dp.dpid();
        // An older connection of a switch that already reconnected: the graph belongs to the new one.
        if self.switches.get(&dpid) != Some(dp) {
            return;
        }
        self.switches.remove(&dpid);
        let links_lost = self.view.write().remove_switch(dpid);
        info!(dpid = %format!("{dpid:016x}"), "topology: switch down");
        if links_lost {
            self.flush_forwarding("switch down").await;
        }
    }

    async fn port_status(&mut self, dp: &DatapathHandle, status: &ofproto::port::PortStatus) {
        if self.switches.get(&dp.dpid()) != Some(dp) {
            return;
        }
        let port = status.desc.port_no;
        let info = (status.reason != PortReason::Delete).then(|| PortInfo::from(&status.desc));
        let up = info.as_ref().is_some_and(|i| i.up);
        let (links_lost, hosts_lost) = self.view.write().update_port(dp.dpid(), port, info.clone());
        if links_lost {
            self.flush_forwarding("port down").await;
        }
        self.forget_hosts(&hosts_lost).await;
        if up && let Some(info) = info {
            self.probe(dp, &[info]);
        }
    }

    async fn lldp_in(&mut self, dp: &DatapathHandle, in_port: PortNo, frame: &[u8]) {
        let origin = match lldp::parse_probe(frame) {
            Ok(o) => o,
            Err(e) => {
                debug!(dpid = %format!("{:016x}", dp.dpid()), port = in_port.0, cause = %e, "ignoring LLDP frame");
                return;
            }
        };
        let src = Endpoint::new(origin.dpid, origin.port);
        let dst = Endpoint::new(dp.dpid(), in_port);
        let update = self.view.write().learn_link(src, dst, Instant::now());
        if let LinkUpdate::New { removed_hosts } = update {
            info!(src = %format!("{:016x}:{}", src.dpid, src.port.0), dst = %format!("{:016x}:{}", dst.dpid, dst.port.0), "topology: link up");
            self.flush_forwarding("new link").await;
            self.forget_hosts(&removed_hosts).await;
        }
    }

    async fn packet_in(&mut self, dp: &DatapathHandle, packet_in: &ofproto::packet::PacketIn) {
        let Some(in_port) = packet_in.in_port() else { return };
        let Some(frame) = parse_frame(&packet_in.data) else { return };
        if frame.eth_type == ETH_TYPE_LLDP {
            return self.lldp_in(dp, in_port, &packet_in.data).await;
        }
        if self.switches.get(&dp.dpid()) != Some(dp) {
            return;
        }
        let dpid = dp.dpid();
        let now = Instant::now();
        let grace = Duration::from_millis(self.config.discovery_grace_ms);
        let (learned, decision) = {
            let mut g = self.view.write();
            if g.switch(dpid).is_none_or(|s| now.saturating_duration_since(s.up_since) < grace) {
                return;
            }
            let learned =
                g.learn_host(frame.src, Endpoint::new(dpid, in_port), frame.ipv4_src, frame.ipv6_src);
            (learned, decide(&g, dpid, in_port, &frame))
        };
        match learned {
            HostUpdate::New => {
                debug!(mac = %frame.src, dpid = %format!("{dpid:016x}"), port = in_port.0, "topology: host")
            }
            HostUpdate::Moved { from } => {
                info!(mac = %frame.src, from = %format!("{:016x}:{}", from.dpid, from.port.0), "topology: host moved");
                self.forget_hosts(&[frame.src]).await;
            }
            HostUpdate::Known | HostUpdate::Ignored => {}
        }
        match decision {
            Decision::Drop(reason) => debug!(dpid = %format!("{dpid:016x}"), ?reason, "dropping frame"),
            Decision::Flood(ports) => {
                if !ports.is_empty() {
                    self.send_to(dpid, &[forwarding::packet_out(packet_in, in_port, &ports)]);
                }
            }
            Decision::Forward(path) => {
                let mut here = Vec::with_capacity(2);
                for (hop_dpid, flow) in forwarding::path_flows(&path, frame.dst, self.config.idle_timeout) {
                    if hop_dpid == dpid {
                        here.push(flow);
                    } else {
                        self.send_to(hop_dpid, &[flow]);
                    }
                }
                if let Some(first) = path.first() {
                    here.push(forwarding::packet_out(packet_in, in_port, &[first.out_port]));
                }
                self.send_to(dpid, &here);
            }
        }
    }
}

impl App for TopologyApp {
    fn name(&self) -> &'static str {
        "topology"
    }

    fn cookie_tag(&self) -> Option<u16> {
        Some(forwarding::COOKIE_TAG)
    }

    fn wants_table_miss(&self) -> bool {
        true
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.config.lldp_interval())
    }

    async fn handle(&mut self, event: &Event) {
        match event {
            Event::SwitchUp { dp, info } => self.switch_up(dp, &info.ports).await,
            Event::SwitchDown { dp } => self.switch_down(dp).await,
            Event::PortStatus { dp, status } => self.port_status(dp, status).await,
            Event::PacketIn { dp, packet_in } => self.packet_in(dp, packet_in).await,
            Event::FlowRemoved { .. } | Event::Error { .. } => {}
        }
    }

    /// One discovery round: expire silent links, then probe every up port of every switch.
    async fn tick(&mut self) {
        let expired = self.view.write().expire_links(Instant::now(), self.config.link_timeout());
        if !expired.is_empty() {
            for (src, dst) in &expired {
                info!(src = %format!("{:016x}:{}", src.dpid, src.port.0), dst = %format!("{:016x}:{}", dst.dpid, dst.port.0), "topology: link timed out");
            }
            self.flush_forwarding("link timed out").await;
        }
        let rounds: Vec<(DatapathHandle, Vec<PortInfo>)> = {
            let g = self.view.read();
            self.switches
                .iter()
                .filter_map(|(dpid, dp)| {
                    Some((dp.clone(), g.switch(*dpid)?.ports.values().cloned().collect()))
                })
                .collect()
        };
        for (dp, ports) in &rounds {
            self.probe(dp, ports);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: TopologyConfig = toml::from_str("").unwrap();
        assert_eq!(c, TopologyConfig::default());
        let c: TopologyConfig = toml::from_str("lldp_interval_ms = 500\nidle_timeout = 0").unwrap();
        assert_eq!((c.lldp_interval_ms, c.idle_timeout, c.link_timeout_ms), (500, 0, 5000));
        let err = toml::from_str::<TopologyConfig>("lldp_intervall_ms = 5").unwrap_err().to_string();
        assert!(err.contains("lldp_intervall_ms"), "{err}");
    }

    #[test]
    fn link_timeout_is_never_below_two_probe_rounds() {
        let c = TopologyConfig { lldp_interval_ms: 1000, link_timeout_ms: 100, ..TopologyConfig::default() };
        assert_eq!(c.link_timeout(), Duration::from_secs(2));
    }
}

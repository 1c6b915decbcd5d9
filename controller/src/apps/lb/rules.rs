//! Flow rules that carry out load-balancing decisions: per-flow steering (one switch or along a
//! path), the first packet's PACKET_OUT, trap rules that bring VIP traffic to the LB app, and deletes
//! for a drained or ejected backend. Pure functions from a decision to messages.
//!
//! Every rule carries an [`LbCookie`]: the LB tag ([`super::COOKIE_TAG`]) in the top 16 bits (so the
//! dispatcher routes its PACKET_INs and FLOW_REMOVEDs to the LB app), then pool, backend and rule kind,
//! so a FLOW_REMOVED finds its flow and `cookie`/`cookie_mask` deletes (OF1.3.5 §6.4) remove exactly
//! one backend's or one pool's rules.
//!
//! Priorities sit above the topology app's forwarding (10) and l2switch (1), and nest: trap <
//! proactive (wildcard by prefix length, select group) < a transition's SYN trap < the switch-side
//! modes' per-client reverse rules < conntrack steering's rules (`super::conntrack`) < per-flow
//! steering. A flow the controller steered keeps its exact rules whatever the proactive rules under
//! them do, which is what keeps it on its backend across weight changes and algorithm switches.

use std::net::Ipv4Addr;

use ofproto::action::Action;
use ofproto::flow::FlowMod;
use ofproto::oxm::{Match, ONF_EXPERIMENTER_ID, Oxm, oxm_class};
use ofproto::packet::{PacketIn, PacketOut};
use ofproto::types::NO_BUFFER;
use ofproto::{MacAddr, PortNo};

use super::COOKIE_TAG;
use super::backend::BackendId;
use super::packet::with_checksums_completed;
use super::pool::{BackendTarget, FlowKey, PoolId};
use crate::apps::make_cookie;
use crate::apps::topology::Hop;

pub const ETH_TYPE_IPV4: u16 = 0x0800;
pub const ETH_TYPE_ARP: u16 = 0x0806;
pub const IP_PROTO_TCP: u8 = 6;

/// ARP for the VIP and TCP to VIP:port → controller.
pub const TRAP_PRIORITY: u16 = 100;
/// Select-group forward rule; wildcard rules use `PROACTIVE_PRIORITY + prefix length`.
pub const PROACTIVE_PRIORITY: u16 = 200;
/// During a transition: SYNs to the VIP → controller, above the retiring proactive rules (which
/// still carry the connections made under them) and below the per-flow rules.
pub const TRANSITION_PRIORITY: u16 = 250;
/// Per-flow forward/reverse rules (also the proactive modes' reverse rules).
pub const STEER_PRIORITY: u16 = 300;
/// The switch-side modes' per-client reverse rules: under conntrack steering's tracking rules
/// (`super::conntrack`), so that replies of connections the tracker pins pass the tracker (it must
/// see both directions to follow a connection to its end), and above a transition's SYN trap.
pub const CLIENT_REVERSE_PRIORITY: u16 = 255;

// The nesting the module docs promise, checked at compile time: wildcard rules span
// PROACTIVE_PRIORITY..=PROACTIVE_PRIORITY + 32.
const _: () = assert!(
    STEER_PRIORITY > TRANSITION_PRIORITY
        && STEER_PRIORITY > CLIENT_REVERSE_PRIORITY
        && CLIENT_REVERSE_PRIORITY > TRANSITION_PRIORITY
        && TRANSITION_PRIORITY > PROACTIVE_PRIORITY + 32
        && PROACTIVE_PRIORITY > TRAP_PRIORITY
        && TRAP_PRIORITY > crate::apps::topology::forwarding::FORWARD_PRIORITY
);

/// `ONFOXM_ET_TCP_FLAGS`: Open vSwitch's `tcp_flags` field in OpenFlow 1.3, an ONF experimenter OXM
/// (class 0xFFFF, field 42, experimenter "ONF\0"; standard only from OF1.5).
const ONFOXM_ET_TCP_FLAGS: u8 = 42;
pub(super) const TCP_FLAG_FIN: u16 = 0x001;
pub(super) const TCP_FLAG_SYN: u16 = 0x002;
pub(super) const TCP_FLAG_RST: u16 = 0x004;
pub(super) const TCP_FLAG_ACK: u16 = 0x010;

/// `tcp_flags & mask == value`, as Open vSwitch's ONF experimenter OXM (body: experimenter id, value,
/// mask).
pub(super) fn tcp_flags(value: u16, mask: u16) -> Oxm {
    let mut body = Vec::with_capacity(8);
    body.extend_from_slice(&ONF_EXPERIMENTER_ID.to_be_bytes());
    body.extend_from_slice(&value.to_be_bytes());
    body.extend_from_slice(&mask.to_be_bytes());
    Oxm::Other {
        class: oxm_class::EXPERIMENTER,
        field: ONFOXM_ET_TCP_FLAGS,
        has_mask: true,
        body: body.into(),
    }
}

/// Which of three marks the switch-side modes' rules carry; the next mode gets the next mark.
///
/// Why: Open vSwitch's datapath caches megaflows and, after a rule change, re-validates them in
/// place when the new translation needs no header bit the cached mask lacks. With megaflows of
/// mixed source-port masks (per-flow rules of the reactive modes cause them) some kept the old
/// mode's actions for seconds after a switch between the two switch-side modes, and a SYN and the
/// ACK after it could reach different backends (docs/performance.md). Each mark makes the rules
/// match one of the three reserved TCP flag bits as zero, which every valid segment has, so it
/// selects no different traffic; but a new mark is a header bit that no megaflow of the previous
/// two marks has, so the switch deletes them all instead of patching them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RuleGeneration(u8);

impl RuleGeneration {
    pub fn next(self) -> RuleGeneration {
        RuleGeneration((self.0 + 1) % 3)
    }

    /// `m` plus this generation's mark: `tcp_flags` reserved bit 9, 10 or 11 clear.
    pub fn mark(self, m: Match) -> Match {
        m.with(tcp_flags(0, 0x0200 << self.0))
    }
}

/// What a rule does, in the cookie's low 16 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// Client → VIP at the ingress switch, rewriting to the backend. Its FLOW_REMOVED ends the flow.
    Forward,
    /// Backend → client at the backend's edge switch, rewriting the source to the VIP.
    Reverse,
    /// Forwarding of already-rewritten packets at the other switches of a path.
    Transit,
    /// ARP/TCP trap to the controller.
    Trap,
    /// Select-group forward rule.
    Group,
    /// Wildcard client-prefix rule.
    Wildcard,
    /// Reverse rule of the switch-side modes for one client (backend → that client).
    ClientReverse,
    /// SYN-only trap of a transition.
    SynTrap,
    /// Conntrack steering (`super::conntrack`): VIP traffic and backend replies into the tracker.
    CtTrack,
    /// Conntrack steering: a tracked connection's packets on to its backend.
    CtForward,
    /// Conntrack steering: a new connection to the VIP → controller.
    CtTrap,
    /// Conntrack steering: replies, translated back, out to one client.
    CtReply,
    /// Conntrack steering: a copy of a connection's FIN or RST to the controller (accounting).
    CtEnd,
    /// Conntrack steering: packets of a connection whose backend was ejected → controller.
    CtLost,
    Other(u16),
}

impl RuleKind {
    fn code(self) -> u16 {
        match self {
            RuleKind::Forward => 1,
            RuleKind::Reverse => 2,
            RuleKind::Transit => 3,
            RuleKind::Trap => 4,
            RuleKind::Group => 5,
            RuleKind::Wildcard => 6,
            RuleKind::ClientReverse => 8,
            RuleKind::SynTrap => 9,
            RuleKind::CtTrack => 10,
            RuleKind::CtForward => 11,
            RuleKind::CtTrap => 12,
            RuleKind::CtReply => 13,
            RuleKind::CtEnd => 14,
            RuleKind::CtLost => 15,
            RuleKind::Other(c) => c,
        }
    }

    fn from_code(code: u16) -> RuleKind {
        match code {
            1 => RuleKind::Forward,
            2 => RuleKind::Reverse,
            3 => RuleKind::Transit,
            4 => RuleKind::Trap,
            5 => RuleKind::Group,
            6 => RuleKind::Wildcard,
            8 => RuleKind::ClientReverse,
            9 => RuleKind::SynTrap,
            10 => RuleKind::CtTrack,
            11 => RuleKind::CtForward,
            12 => RuleKind::CtTrap,
            13 => RuleKind::CtReply,
            14 => RuleKind::CtEnd,
            15 => RuleKind::CtLost,
            c => RuleKind::Other(c),
        }
    }
}

/// Backend field value meaning "no backend" (trap rules).
const NO_BACKEND: u16 = 0xffff;

/// The cookie of an LB rule: `tag:16 | pool:16 | backend:16 | kind:16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LbCookie {
    pub pool: PoolId,
    pub backend: Option<BackendId>,
    pub kind: RuleKind,
}

impl LbCookie {
    pub fn new(pool: PoolId, backend: Option<BackendId>, kind: RuleKind) -> LbCookie {
        LbCookie { pool, backend, kind }
    }

    pub fn encode(self) -> u64 {
        let backend = self.backend.map_or(NO_BACKEND, |b| b.0);
        make_cookie(
            COOKIE_TAG,
            (u64::from(self.pool.0) << 32) | (u64::from(backend) << 16) | u64::from(self.kind.code()),
        )
    }

    /// The LB cookie in `cookie`, or `None` if another app (or nobody) tagged it.
    pub fn decode(cookie: u64) -> Option<LbCookie> {
        if crate::apps::cookie_tag_of(cookie) != COOKIE_TAG {
            return None;
        }
        let backend = (cookie >> 16) as u16;
        Some(LbCookie {
            pool: PoolId((cookie >> 32) as u16),
            backend: (backend != NO_BACKEND).then_some(BackendId(backend)),
            kind: RuleKind::from_code(cookie as u16),
        })
    }
}

/// Cookie mask selecting tag + pool.
pub const POOL_COOKIE_MASK: u64 = 0xffff_ffff_0000_0000;
/// Cookie mask selecting tag + pool + backend.
pub const BACKEND_COOKIE_MASK: u64 = 0xffff_ffff_ffff_0000;
/// Cookie mask selecting every field: one kind of rule of one backend.
pub const KIND_COOKIE_MASK: u64 = u64::MAX;
/// Cookie mask selecting tag + pool + kind (every backend).
pub const POOL_KIND_COOKIE_MASK: u64 = 0xffff_ffff_0000_ffff;

/// Why rules could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the {0} path is empty: no hop leaves any switch")]
    EmptyPath(&'static str),
}

/// One steering decision: flow `key` of pool `pool` (VIP `vip`/`vip_mac`) goes to `backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steering {
    pub pool: PoolId,
    pub vip: Ipv4Addr,
    pub vip_mac: MacAddr,
    pub key: FlowKey,
    pub backend: BackendTarget,
    /// Idle timeout of the rules, seconds (0: never; then only deletes remove them).
    pub idle_timeout: u16,
}

pub(super) fn tcp_match(src: Ipv4Addr, src_port: u16, dst: Ipv4Addr, dst_port: u16) -> Match {
    Match::new()
        .with(Oxm::EthType(ETH_TYPE_IPV4))
        .with(Oxm::IpProto(IP_PROTO_TCP))
        .with(Oxm::Ipv4Src(src, None))
        .with(Oxm::Ipv4Dst(dst, None))
        .with(Oxm::TcpSrc(src_port))
        .with(Oxm::TcpDst(dst_port))
}

/// Rewrites a packet addressed to the VIP so it reaches `backend`, then outputs it: eth_dst and
/// ipv4_dst always, tcp_dst only when the backend listens on another port. The switch fixes the IP and
/// TCP checksums after set_field (OF1.3.5 §7.2.5, "set-field ... checksum update").
pub fn to_backend_actions(backend: &BackendTarget, vip_port: u16, out: PortNo) -> Vec<Action> {
    let mut actions = vec![
        Action::SetField(Oxm::EthDst(backend.mac, None)),
        Action::SetField(Oxm::Ipv4Dst(backend.ip, None)),
    ];
    if backend.port != vip_port {
        actions.push(Action::SetField(Oxm::TcpDst(backend.port)));
    }
    actions.push(Action::output(out));
    actions
}

/// Rewrites a backend's reply so the client sees it come from the VIP, then outputs it.
pub fn from_backend_actions(
    vip: Ipv4Addr,
    vip_mac: MacAddr,
    vip_port: u16,
    backend_port: u16,
    out: PortNo,
) -> Vec<Action> {
    let mut actions =
        vec![Action::SetField(Oxm::EthSrc(vip_mac, None)), Action::SetField(Oxm::Ipv4Src(vip, None))];
    if backend_port != vip_port {
        actions.push(Action::SetField(Oxm::TcpSrc(vip_port)));
    }
    actions.push(Action::output(out));
    actions
}

impl Steering {
    fn cookie(&self, kind: RuleKind) -> u64 {
        LbCookie::new(self.pool, Some(self.backend.id), kind).encode()
    }

    fn flow(&self, m: Match, kind: RuleKind, actions: Vec<Action>) -> FlowMod {
        FlowMod::add(m)
            .priority(STEER_PRIORITY)
            .idle_timeout(self.idle_timeout)
            .cookie(self.cookie(kind))
            .send_flow_rem()
            .apply_actions(actions)
    }

    /// client:port → VIP:port, as the client sent it.
    pub fn forward_match(&self) -> Match {
        tcp_match(self.key.client_ip, self.key.client_port, self.vip, self.key.vip_port)
    }

    /// client:port → backend:port, after the rewrite.
    pub fn rewritten_forward_match(&self) -> Match {
        tcp_match(self.key.client_ip, self.key.client_port, self.backend.ip, self.backend.port)
    }

    /// backend:port → client:port, as the backend sent it.
    pub fn reverse_match(&self) -> Match {
        tcp_match(self.backend.ip, self.backend.port, self.key.client_ip, self.key.client_port)
    }

    /// VIP:port → client:port, after the reverse rewrite.
    pub fn rewritten_reverse_match(&self) -> Match {
        tcp_match(self.vip, self.key.vip_port, self.key.client_ip, self.key.client_port)
    }

    pub fn forward_actions(&self, out: PortNo) -> Vec<Action> {
        to_backend_actions(&self.backend, self.key.vip_port, out)
    }

    pub fn reverse_actions(&self, out: PortNo) -> Vec<Action> {
        from_backend_actions(self.vip, self.vip_mac, self.key.vip_port, self.backend.port, out)
    }

    /// Client and backend on one switch: the forward rule (rewrite, out `to_backend`) and the reverse
    /// rule (rewrite, out `to_client`). Both have the idle timeout and SEND_FLOW_REM; the forward
    /// rule's FLOW_REMOVED ends the flow in the pool's table.
    pub fn single_switch(&self, to_backend: PortNo, to_client: PortNo) -> [FlowMod; 2] {
        [
            self.flow(self.forward_match(), RuleKind::Forward, self.forward_actions(to_backend)),
            self.flow(self.reverse_match(), RuleKind::Reverse, self.reverse_actions(to_client)),
        ]
    }

    /// Rules along paths through several switches: `forward` runs from the switch the client's packet
    /// entered to the backend's port (`TopologyView::path_to_host(ingress, backend_mac)`), `reverse`
    /// from the backend's switch to the client's port. The first switch of each direction rewrites;
    /// the others match the rewritten headers and only forward. Returns `(dpid, flow)` pairs, to be
    /// installed downstream-first so that no rewritten packet meets a switch without its rule.
    pub fn along_paths(&self, forward: &[Hop], reverse: &[Hop]) -> Result<Vec<(u64, FlowMod)>, RuleError> {
        let (first_fwd, rest_fwd) = forward.split_first().ok_or(RuleError::EmptyPath("forward"))?;
        let (first_rev, rest_rev) = reverse.split_first().ok_or(RuleError::EmptyPath("reverse"))?;
        let mut rules = Vec::with_capacity(forward.len() + reverse.len());
        for hop in rest_fwd.iter().rev() {
            let m = self.rewritten_forward_match();
            rules.push((hop.dpid, self.flow(m, RuleKind::Transit, vec![Action::output(hop.out_port)])));
        }
        rules.push((
            first_fwd.dpid,
            self.flow(self.forward_match(), RuleKind::Forward, self.forward_actions(first_fwd.out_port)),
        ));
        for hop in rest_rev.iter().rev() {
            let m = self.rewritten_reverse_match();
            rules.push((hop.dpid, self.flow(m, RuleKind::Transit, vec![Action::output(hop.out_port)])));
        }
        rules.push((
            first_rev.dpid,
            self.flow(self.reverse_match(), RuleKind::Reverse, self.reverse_actions(first_rev.out_port)),
        ));
        Ok(rules)
    }

    /// Sends the flow's first packet (the PACKET_IN that asked) on to the backend.
    ///
    /// It carries the forward rewrite actions itself rather than `output:TABLE`: a switch may process
    /// a FLOW_MOD and a later PACKET_OUT in either order unless a BARRIER separates them (OF1.3.5
    /// §6.2), so TABLE could meet the trap rule and bounce the packet back to the controller; explicit
    /// actions need no barrier round trip. A packet buffered on the switch is released by buffer id.
    ///
    /// A packet sent as data has its IPv4 and TCP checksums completed first
    /// ([`with_checksums_completed`]): the client's SYN usually arrives with a checksum its sender left
    /// to offload, which the switch's set_field only adjusts, and the backend would drop it as
    /// corrupt. The switch still adjusts the now-complete checksum for the rewrite (OF1.3.5 §7.2.5).
    pub fn first_packet_out(&self, packet_in: &PacketIn, in_port: PortNo, to_backend: PortNo) -> PacketOut {
        reinject(packet_in, in_port, self.forward_actions(to_backend))
    }
}

/// The packet of `packet_in` sent on with `actions` as if it arrived on `in_port`: a packet buffered
/// on the switch is released by buffer id; one sent as data has its IPv4 and TCP checksums completed
/// first (see [`Steering::first_packet_out`] for why).
pub fn reinject(packet_in: &PacketIn, in_port: PortNo, actions: Vec<Action>) -> PacketOut {
    if packet_in.buffer_id != NO_BUFFER {
        return PacketOut::from_buffer(packet_in.buffer_id, in_port, actions);
    }
    let data =
        with_checksums_completed(&packet_in.data).map_or_else(|| packet_in.data.clone(), bytes::Bytes::from);
    PacketOut::new(in_port, actions, data)
}

/// TCP to `vip:port`, as a client sends it: what every VIP-wide rule (traps, select group, wildcard
/// prefixes) starts from.
pub fn vip_match(vip: Ipv4Addr, port: u16) -> Match {
    Match::new()
        .with(Oxm::EthType(ETH_TYPE_IPV4))
        .with(Oxm::IpProto(IP_PROTO_TCP))
        .with(Oxm::Ipv4Dst(vip, None))
        .with(Oxm::TcpDst(port))
}

/// Rules that send a pool's VIP traffic to the controller: ARP asking for (or answering to) the VIP,
/// and TCP to each served VIP port. Tagged with the LB cookie, so those PACKET_INs reach the LB app.
pub fn trap_rules(pool: PoolId, vip: Ipv4Addr, ports: &[u16]) -> Vec<FlowMod> {
    let cookie = LbCookie::new(pool, None, RuleKind::Trap).encode();
    let to_controller = || vec![Action::output(PortNo::CONTROLLER)];
    let arp = Match::new().with(Oxm::EthType(ETH_TYPE_ARP)).with(Oxm::ArpTpa(vip, None));
    let mut rules =
        vec![FlowMod::add(arp).priority(TRAP_PRIORITY).cookie(cookie).apply_actions(to_controller())];
    for &port in ports {
        rules.push(
            FlowMod::add(vip_match(vip, port))
                .priority(TRAP_PRIORITY)
                .cookie(cookie)
                .apply_actions(to_controller()),
        );
    }
    rules
}

/// The trap of a transition (see `app::transition`): a connection's first segment (SYN without ACK)
/// to each served VIP port goes to the controller, which steers it with per-flow rules, while the
/// rest of the traffic still meets the retiring proactive rules under it.
pub fn syn_trap_rules(pool: PoolId, vip: Ipv4Addr, ports: &[u16]) -> Vec<FlowMod> {
    let cookie = LbCookie::new(pool, None, RuleKind::SynTrap).encode();
    ports
        .iter()
        .map(|&port| {
            let syn = vip_match(vip, port).with(tcp_flags(TCP_FLAG_SYN, TCP_FLAG_SYN | TCP_FLAG_ACK));
            FlowMod::add(syn)
                .priority(TRANSITION_PRIORITY)
                .cookie(cookie)
                .apply_actions(vec![Action::output(PortNo::CONTROLLER)])
        })
        .collect()
}

/// `rule` (a proactive rule as installed) added again with an idle and a hard timeout and
/// SEND_FLOW_REM: an ADD with the same match and priority replaces the installed rule (OF1.3.5
/// §6.4), so it goes on carrying its traffic until idle for `idle` seconds or `hard` seconds have
/// passed, and its FLOW_REMOVED tells the controller it is gone.
pub fn retiring(rule: &FlowMod, idle: u16, hard: u16) -> FlowMod {
    rule.clone().idle_timeout(idle).hard_timeout(hard).send_flow_rem()
}

/// FlowMods taking a switch from the proactive rules `installed` to `desired` (both as ADDs, as
/// built): the desired rules not installed exactly so (an ADD over a rule of the same match and
/// priority replaces it, cookie included, OF1.3.5 §6.4), then strict deletes of the installed rules
/// no desired one replaces. Rules installed unchanged are left alone; adding before deleting means no
/// packet meets a gap.
pub fn resync(installed: &[FlowMod], desired: &[FlowMod]) -> Vec<FlowMod> {
    let same_slot = |a: &FlowMod, b: &FlowMod| a.priority == b.priority && a.r#match == b.r#match;
    let mut out: Vec<FlowMod> = desired.iter().filter(|d| !installed.contains(d)).cloned().collect();
    out.extend(
        installed
            .iter()
            .filter(|i| !desired.iter().any(|d| same_slot(i, d)))
            .map(|i| FlowMod::delete_strict(i.r#match.clone()).priority(i.priority)),
    );
    out
}

/// Deletes every rule steering to backend `backend` of `pool` (forward, reverse, transit and
/// proactive rules), from every table, by cookie and mask. Used on eject (the breaker opened: its
/// connections are lost anyway, and clients reconnect to a healthy node) and at the end of a drain.
/// Each deleted rule with SEND_FLOW_REM reports a FLOW_REMOVED with reason DELETE (OF1.3.5 §6.4).
pub fn delete_backend_rules(pool: PoolId, backend: BackendId) -> FlowMod {
    FlowMod::delete(Match::default())
        .cookie(LbCookie::new(pool, Some(backend), RuleKind::Other(0)).encode())
        .cookie_mask(BACKEND_COOKIE_MASK)
}

/// Deletes the per-connection rules of one backend (forward, reverse and transit), leaving
/// the switch-side modes' proactive rules to be replanned: what an ejection must remove so that the
/// backend's clients reconnect elsewhere. One FLOW_MOD per kind, each matching the cookie exactly.
pub fn delete_backend_connections(pool: PoolId, backend: BackendId) -> Vec<FlowMod> {
    [RuleKind::Forward, RuleKind::Reverse, RuleKind::Transit]
        .into_iter()
        .map(|kind| delete_backend_kind(pool, backend, kind))
        .collect()
}

/// Deletes one kind of rule of one backend (the cookie matched exactly).
pub fn delete_backend_kind(pool: PoolId, backend: BackendId, kind: RuleKind) -> FlowMod {
    FlowMod::delete(Match::default())
        .cookie(LbCookie::new(pool, Some(backend), kind).encode())
        .cookie_mask(KIND_COOKIE_MASK)
}

/// Deletes one kind of rule of every backend of `pool` (e.g. the select-group or wildcard rules when
/// the pool leaves that mode).
pub fn delete_pool_kind(pool: PoolId, kind: RuleKind) -> FlowMod {
    FlowMod::delete(Match::default())
        .cookie(LbCookie::new(pool, Some(BackendId(0)), kind).encode())
        .cookie_mask(POOL_KIND_COOKIE_MASK)
}

/// Deletes every rule of `pool`, traps included (pool removed or reconfigured).
pub fn delete_pool_rules(pool: PoolId) -> FlowMod {
    FlowMod::delete(Match::default())
        .cookie(LbCookie::new(pool, None, RuleKind::Other(0)).encode())
        .cookie_mask(POOL_COOKIE_MASK)
}

/// A backend and the port the switch reaches it through (for the proactive modes, which install
/// rules for every backend at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendPort {
    pub target: BackendTarget,
    pub out_port: PortNo,
}

/// Reverse rules of the proactive modes (select group, wildcard): every reply from a backend's
/// address and port is rewritten to come from the VIP and sent out `to_clients` (the switch's port
/// towards the clients, or `PortNo::NORMAL` on a switch that supports it). The source port is
/// rewritten to the pool's first VIP port when the backend listens on a port the VIP does not serve.
/// No timeout: they live as long as the pool's mode does.
pub fn proactive_reverse_rules(
    pool: PoolId,
    vip: Ipv4Addr,
    vip_mac: MacAddr,
    vip_ports: &[u16],
    members: &[BackendPort],
    to_clients: PortNo,
) -> Vec<FlowMod> {
    let Some(&first_port) = vip_ports.first() else { return Vec::new() };
    members
        .iter()
        .map(|m| {
            let t = &m.target;
            let vip_port = if vip_ports.contains(&t.port) { t.port } else { first_port };
            let matcher = Match::new()
                .with(Oxm::EthType(ETH_TYPE_IPV4))
                .with(Oxm::IpProto(IP_PROTO_TCP))
                .with(Oxm::Ipv4Src(t.ip, None))
                .with(Oxm::TcpSrc(t.port));
            FlowMod::add(matcher)
                .priority(STEER_PRIORITY)
                .cookie(LbCookie::new(pool, Some(t.id), RuleKind::Reverse).encode())
                .apply_actions(from_backend_actions(vip, vip_mac, vip_port, t.port, to_clients))
        })
        .collect()
}

/// Reverse rules of the switch-side modes for one client host: every reply from a member backend to
/// `client` (by its MAC, so every address the host uses is covered) is rewritten to come from the VIP
/// and sent out `to_client`. Installed when the client is first seen (its ARP request for the VIP),
/// so new flows never need the controller; they idle out with the client.
///
/// They match every reply from the backend's port to that host, so a host that is a VIP client must
/// not also talk to a backend's port directly while its pool runs a switch-side mode.
pub fn client_reverse_rules(
    pool: PoolId,
    vip: (Ipv4Addr, MacAddr),
    vip_ports: &[u16],
    members: &[BackendPort],
    client: MacAddr,
    to_client: PortNo,
    idle_timeout: u16,
) -> Vec<FlowMod> {
    let Some(&first_port) = vip_ports.first() else { return Vec::new() };
    members
        .iter()
        .map(|m| {
            let t = &m.target;
            let vip_port = if vip_ports.contains(&t.port) { t.port } else { first_port };
            let matcher = Match::new()
                .with(Oxm::EthDst(client, None))
                .with(Oxm::EthType(ETH_TYPE_IPV4))
                .with(Oxm::IpProto(IP_PROTO_TCP))
                .with(Oxm::Ipv4Src(t.ip, None))
                .with(Oxm::TcpSrc(t.port));
            FlowMod::add(matcher)
                .priority(CLIENT_REVERSE_PRIORITY)
                .idle_timeout(idle_timeout)
                .cookie(LbCookie::new(pool, Some(t.id), RuleKind::ClientReverse).encode())
                .apply_actions(from_backend_actions(vip.0, vip.1, vip_port, t.port, to_client))
        })
        .collect()
}

#[cfg(test)]
mod tests;

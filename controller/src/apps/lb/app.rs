//! The `lb` app: carries out the pure core's decisions on real switches.
//!
//! - On SWITCH_UP it installs every pool's trap rules (ARP for the VIP and TCP to VIP:port → controller)
//!   and asks for the backends' MACs (ARP from the VIP).
//! - ARP requests for a VIP are answered with the pool's `vip_mac`; ARP replies and trapped packets
//!   teach where hosts are ([`super::locate`]) and backends' MACs.
//! - The first packet of a new client flow picks a backend (`Pool::assign`), installs the reverse then
//!   the forward rule (on one switch, or along the topology app's paths), and is sent on with explicit
//!   rewrite actions so no SYN is lost ([`super::rules::Steering::first_packet_out`]). ARP and
//!   first packets are handled in [`packet_in`].
//! - With conntrack steering ([`conntrack`]) the first packet instead commits the connection in the
//!   switch's connection tracker, with a NAT to the backend; copies of FIN/RST end its accounting.
//! - FLOW_REMOVED and periodic cookie-filtered flow stats do the connection accounting.
//! - One [`super::probe`] task per backend feeds the breakers; an ejected backend's connection rules
//!   are deleted from every switch (unless it is draining) and the switch-side modes are replanned.
//! - REST commands arrive through [`super::handle::LbHandle`] ([`commands`]); the select-group and
//!   wildcard modes' proactive rules are kept in step by [`proactive`].
//!
//! Everything runs on the app's own task: no lock is held anywhere, and the packet path never waits
//! (messages are queued with `try_send_all`; a full switch queue drops the decision, and the client's
//! retransmission gets a new one).

mod accounting;
mod commands;
mod conntrack;
mod health;
mod packet_in;
mod proactive;
mod transition;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ofproto::PortNo;
use ofproto::action::Action;
use ofproto::message::Message;
use ofproto::packet::PacketOut;
use ofproto::port::Port;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::COOKIE_TAG;
use super::backend::BackendId;
use super::config::{LbConfig, LbConfigError};
use super::handle::{INPUT_QUEUE, LbHandle, LbInput};
use super::locate::Locations;
use super::packet::arp_request_from_vip;
use super::pool::{FlowKey, Pool, PoolId};
use super::probe::{ProbeId, ProbeTiming, spawn_probe};
use super::rules::trap_rules;
use super::stats::{BackendExtra, PoolStats, pool_stats};
use crate::apps::App;
use crate::apps::topology::TopologyView;
use crate::metrics::LbMetrics;
use crate::ofp::{DatapathHandle, Event};
use proactive::Change;
use transition::TransitionTiming;

/// How often the app's timer runs: breaker cool-downs, ARP for unlocated backends, flow stats.
pub const TICK: Duration = Duration::from_millis(500);
/// How long after sending a flow's rules a later packet of it that reaches the controller is taken
/// for one that raced the rules into the switch's cache (see [`LbApp::on_tcp`]).
pub(super) const RULES_FRESH: Duration = Duration::from_secs(1);

/// How many ticks make `ms` milliseconds, rounded up (0 stays 0: never).
fn ticks_for(ms: u64) -> u64 {
    ms.div_ceil(TICK.as_millis() as u64)
}

/// Bytes and packets of the live LB rules of one switch, by (pool, backend).
type LiveTraffic = HashMap<(PoolId, BackendId), (u64, u64)>;

/// One pool and the app's bookkeeping around it.
struct PoolEntry {
    pool: Pool,
    packet_ins: u64,
    extra: HashMap<BackendId, BackendExtra>,
    /// The running probe of each backend: its id and stop token.
    probes: HashMap<BackendId, (u64, CancellationToken)>,
    /// Per switch, what the switch-side modes installed there.
    installed: HashMap<u64, proactive::Installed>,
    /// Bytes already exported to `rudder_lb_bytes_total`, per backend.
    bytes_exported: HashMap<BackendId, u64>,
    /// Flows whose rules were sent within [`RULES_FRESH`], and when (pruned by the timer).
    rules_sent: HashMap<FlowKey, Instant>,
    /// Flows steered with per-flow rules: when their rules were last sent or last seen in a
    /// switch's flow stats (only while flow stats are polled; see `end_vanished_flows`).
    flow_seen: HashMap<FlowKey, Instant>,
    /// Conntrack steering: where each client's reply rules were sent, by (switch, client MAC): the
    /// port and when.
    ct_clients: HashMap<(u64, ofproto::MacAddr), (PortNo, Instant)>,
    /// Conntrack steering: the client addresses whose connections to each VIP port a client's reply
    /// rule carries, by (switch, client MAC, VIP port): when that rule idles out, their connections
    /// are over (see [`LbConfig::conntrack_idle_s`]).
    ct_reply_ips: HashMap<(u64, ofproto::MacAddr, u16), BTreeSet<Ipv4Addr>>,
}

impl PoolEntry {
    fn stats(&self) -> PoolStats {
        PoolStats {
            transition: self.transition_stats(),
            ..pool_stats(&self.pool, self.packet_ins, |b| self.extra.get(&b.id))
        }
    }
}

/// A connected switch.
struct SwitchEntry {
    dp: DatapathHandle,
    ports: Vec<Port>,
    /// A flow-stats request is outstanding.
    polling: bool,
}

/// The load-balancer app.
pub struct LbApp {
    pools: BTreeMap<PoolId, PoolEntry>,
    switches: BTreeMap<u64, SwitchEntry>,
    locations: Locations,
    topology: Option<TopologyView>,
    inputs: mpsc::Receiver<LbInput>,
    input_tx: mpsc::Sender<LbInput>,
    pending: Option<LbInput>,
    inputs_closed: bool,
    timing: ProbeTiming,
    metrics: LbMetrics,
    http: reqwest::Client,
    stop: CancellationToken,
    next_probe: u64,
    ticks: u64,
    /// The topology's link generation the rules along paths were last computed for.
    links_seen: u64,
    /// Flow stats are polled every this many ticks (0: never).
    stats_every_ticks: u64,
    /// Bytes and packets of live LB rules per switch, by (pool, backend), from the last flow stats.
    live: HashMap<u64, LiveTraffic>,
    transition: TransitionTiming,
    /// [`LbConfig::conntrack_idle_s`].
    conntrack_idle_s: u16,
}

impl Drop for LbApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The label of a backend in metrics.
fn label(ip: Ipv4Addr) -> String {
    ip.to_string()
}

impl LbApp {
    /// The app for a validated `[lb]` section, and the handle REST uses to reach it. Probes start at
    /// once (call from within the runtime); they stop when `stop` fires or the app is dropped.
    pub fn new(
        config: &LbConfig,
        topology: Option<TopologyView>,
        metrics: LbMetrics,
        stop: CancellationToken,
    ) -> Result<(LbApp, LbHandle), LbConfigError> {
        config.validate()?;
        let (input_tx, inputs) = mpsc::channel(INPUT_QUEUE);
        let timing = ProbeTiming {
            interval: Duration::from_millis(config.probe_interval_ms),
            timeout: Duration::from_millis(config.probe_timeout_ms),
        };
        // Probes go to one address each, so a small idle pool per host is all they need.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .connect_timeout(timing.timeout)
            .build()
            .unwrap_or_default();
        let mut app = LbApp {
            pools: BTreeMap::new(),
            switches: BTreeMap::new(),
            locations: Locations::default(),
            topology,
            inputs,
            input_tx: input_tx.clone(),
            pending: None,
            inputs_closed: false,
            timing,
            metrics,
            http,
            stop,
            next_probe: 0,
            ticks: 0,
            links_seen: 0,
            stats_every_ticks: ticks_for(config.stats_interval_ms),
            live: HashMap::new(),
            transition: TransitionTiming::from_config(config),
            conntrack_idle_s: config.conntrack_idle_s,
        };
        for (i, pool_config) in config.pools.iter().enumerate() {
            let pool = Pool::new(PoolId(i as u16), pool_config.clone())?;
            app.insert_pool(pool);
        }
        Ok((app, LbHandle::new(input_tx)))
    }

    /// Registers a pool: bookkeeping, metrics, probes. Rules follow from [`Self::install_pool`].
    fn insert_pool(&mut self, pool: Pool) {
        let id = pool.id;
        let entry = PoolEntry {
            pool,
            packet_ins: 0,
            extra: HashMap::new(),
            probes: HashMap::new(),
            installed: HashMap::new(),
            bytes_exported: HashMap::new(),
            rules_sent: HashMap::new(),
            flow_seen: HashMap::new(),
            ct_clients: HashMap::new(),
            ct_reply_ips: HashMap::new(),
        };
        self.pools.insert(id, entry);
        let backends: Vec<BackendId> =
            self.pools.get(&id).map(|e| e.pool.backends().iter().map(|b| b.id).collect()).unwrap_or_default();
        for b in backends {
            self.start_probe(id, b);
        }
    }

    fn start_probe(&mut self, pool: PoolId, backend: BackendId) {
        let Some(entry) = self.pools.get_mut(&pool) else { return };
        let Ok(b) = entry.pool.backend(backend) else { return };
        let name = entry.pool.name().to_string();
        self.metrics.backend_healthy.with_label_values(&[&name, &label(b.spec.ip)]).set(1);
        self.metrics.active_flows.with_label_values(&[&name, &label(b.spec.ip)]).set(0);
        self.metrics.flows_total.with_label_values(&[&name, &label(b.spec.ip)]).inc_by(0);
        self.next_probe += 1;
        let token = self.stop.child_token();
        let id = ProbeId { pool, backend, probe: self.next_probe };
        spawn_probe(
            id,
            b.spec.probe_url(),
            self.timing,
            self.http.clone(),
            self.input_tx.clone(),
            token.clone(),
        );
        if let Some((_, old)) = entry.probes.insert(backend, (self.next_probe, token)) {
            old.cancel();
        }
    }

    /// Sends `msgs` to switch `dpid` without waiting (packet path).
    fn send_now(&self, dpid: u64, msgs: &[Message]) {
        let Some(sw) = self.switches.get(&dpid) else { return };
        if let Err(e) = sw.dp.try_send_all(msgs) {
            warn!(dpid = %format_args!("{dpid:016x}"), cause = %e, "lb: could not queue rules");
        }
    }

    /// Sends the first packet of a flow once the switch has confirmed the rules queued before it.
    ///
    /// Open vSwitch applies a FlowMod to its tables at once but to the datapath's cached megaflows
    /// only when its revalidators run; a host that already talked to the backend directly (the
    /// machine running the health probes) would otherwise get the backend's SYN-ACK through a stale
    /// cached path, not rewritten to the VIP. The barrier runs on its own task: the app never waits.
    ///
    /// `hold`: wait that much longer after the barrier (see [`TRANSITION_HOLD`]).
    fn send_after_barrier(&self, dpid: u64, packet_out: Message, hold: Option<Duration>) {
        self.send_after_barriers(dpid, &[], packet_out, hold);
    }

    /// Like [`Self::send_after_barrier`], once switch `dpid` and every switch in `others` (the
    /// downstream switches of a path, which got their rules first) have confirmed them: on a path
    /// the backend's SYN-ACK meets the reverse rule on the backend's switch a few link delays after
    /// the SYN left, and without the confirmation some 1-2 % of connections across a tree met it
    /// missing and waited a second for the client's SYN retransmission (docs/performance.md).
    fn send_after_barriers(&self, dpid: u64, others: &[u64], packet_out: Message, hold: Option<Duration>) {
        let Some(sw) = self.switches.get(&dpid) else { return };
        let dp = sw.dp.clone();
        let downstream: Vec<DatapathHandle> = others
            .iter()
            .filter(|d| **d != dpid)
            .filter_map(|d| self.switches.get(d))
            .map(|s| s.dp.clone())
            .collect();
        tokio::spawn(async move {
            let mut barriers = tokio::task::JoinSet::new();
            for d in downstream {
                barriers.spawn(async move { d.barrier().await.is_ok() });
            }
            let mut confirmed = dp.barrier().await.is_ok();
            while let Some(done) = barriers.join_next().await {
                confirmed &= done.unwrap_or(false);
            }
            if confirmed {
                if let Some(hold) = hold {
                    tokio::time::sleep(hold).await;
                }
                let _ = dp.try_send(&packet_out);
            }
        });
    }

    /// Sends `msgs` to switch `dpid`, waiting for queue room (configuration changes).
    async fn send(&self, dpid: u64, msgs: &[Message]) {
        let Some(sw) = self.switches.get(&dpid) else { return };
        if msgs.is_empty() {
            return;
        }
        if let Err(e) = sw.dp.send_all(msgs).await {
            debug!(dpid = %format_args!("{dpid:016x}"), cause = %e, "lb: switch gone while sending");
        }
    }

    /// Sends `msgs` to every connected switch.
    async fn broadcast(&self, msgs: &[Message]) {
        for &dpid in self.switches.keys() {
            self.send(dpid, msgs).await;
        }
    }

    fn is_vip(&self, ip: Ipv4Addr) -> bool {
        self.pools.values().any(|e| e.pool.vip() == ip)
    }

    fn is_backend(&self, ip: Ipv4Addr) -> bool {
        self.pools.values().any(|e| e.pool.backend_by_ip(ip).is_some())
    }

    /// Installs pool `id`'s trap rules on `dpid` and asks for its backends' MACs there.
    async fn install_pool(&mut self, id: PoolId, dpid: u64) {
        let Some(entry) = self.pools.get(&id) else { return };
        let mut msgs: Vec<Message> = trap_rules(id, entry.pool.vip(), &entry.pool.config().ports)
            .into_iter()
            .map(Message::FlowMod)
            .collect();
        msgs.extend(self.arp_requests(id, dpid, false));
        self.send(dpid, &msgs).await;
        self.sync_proactive(id, Change::Immediate).await;
    }

    /// ARP requests from pool `id`'s VIP for its backends (all, or only those not located yet), out
    /// the edge ports of `dpid`.
    fn arp_requests(&self, id: PoolId, dpid: u64, only_unlocated: bool) -> Vec<Message> {
        let Some(entry) = self.pools.get(&id) else { return Vec::new() };
        let out = self.edge_outputs(dpid);
        entry
            .pool
            .backends()
            .iter()
            .filter(|b| !only_unlocated || b.mac().is_none() || self.locations.get(b.spec.ip).is_none())
            .map(|b| {
                let frame = arp_request_from_vip(entry.pool.vip(), entry.pool.vip_mac(), b.spec.ip);
                Message::PacketOut(PacketOut::new(PortNo::CONTROLLER, out.clone(), frame.into()))
            })
            .collect()
    }

    /// Output actions to every host-facing port of `dpid`: all ports but the topology's
    /// switch-to-switch links, or FLOOD when there is no topology app (one switch, or an L2 fabric).
    fn edge_outputs(&self, dpid: u64) -> Vec<Action> {
        let (Some(topology), Some(sw)) = (&self.topology, self.switches.get(&dpid)) else {
            return vec![Action::output(PortNo::FLOOD)];
        };
        let links: Vec<PortNo> =
            topology.snapshot().links.iter().filter(|l| l.src.dpid == dpid).map(|l| l.src.port_no).collect();
        sw.ports
            .iter()
            .map(|p| p.port_no)
            .filter(|p| *p < PortNo::MAX && !links.contains(p))
            .map(Action::output)
            .collect()
    }

    async fn on_switch_up(&mut self, dp: &DatapathHandle, ports: Vec<Port>) {
        let dpid = dp.dpid();
        self.switches.insert(dpid, SwitchEntry { dp: dp.clone(), ports, polling: false });
        for entry in self.pools.values_mut() {
            entry.installed.remove(&dpid);
        }
        let ids: Vec<PoolId> = self.pools.keys().copied().collect();
        for id in ids {
            self.install_pool(id, dpid).await;
        }
    }

    fn on_switch_down(&mut self, dp: &DatapathHandle) {
        let dpid = dp.dpid();
        if self.switches.get(&dpid).is_some_and(|s| s.dp == *dp) {
            self.switches.remove(&dpid);
            self.locations.forget_switch(dpid);
            self.live.remove(&dpid);
            for entry in self.pools.values_mut() {
                entry.installed.remove(&dpid);
                entry.ct_clients.retain(|(d, _), _| *d != dpid);
                entry.ct_reply_ips.retain(|(d, _, _), _| *d != dpid);
            }
            // A transition on the switch ends with it (its rules are reinstalled on reconnect).
            let ids: Vec<PoolId> = self.pools.keys().copied().collect();
            for id in ids {
                self.export_transition(id);
            }
        }
    }
}

impl App for LbApp {
    fn name(&self) -> &'static str {
        "lb"
    }

    fn cookie_tag(&self) -> Option<u16> {
        Some(COOKIE_TAG)
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(TICK)
    }

    async fn handle(&mut self, event: &Event) {
        match event {
            Event::SwitchUp { dp, info } => self.on_switch_up(dp, info.ports.clone()).await,
            Event::SwitchDown { dp } => self.on_switch_down(dp),
            Event::PacketIn { dp, packet_in } => self.on_packet_in(dp, packet_in).await,
            Event::FlowRemoved { dp, flow_removed } => {
                self.on_flow_removed(dp.dpid(), flow_removed);
                self.on_retired_rule(dp.dpid(), flow_removed).await;
            }
            Event::PortStatus { .. } => {}
            Event::Error { dp, error, .. } => {
                debug!(dpid = %format_args!("{:016x}", dp.dpid()), ?error, "lb: switch error");
            }
        }
    }

    async fn tick(&mut self) {
        self.on_tick();
        self.follow_topology().await;
        self.expire_transitions().await;
    }

    async fn next_input(&mut self) {
        if self.pending.is_some() {
            return;
        }
        if self.inputs_closed {
            return std::future::pending().await;
        }
        match self.inputs.recv().await {
            Some(input) => self.pending = Some(input),
            // Cannot happen while the app holds its own sender; never spin if it does.
            None => self.inputs_closed = true,
        }
    }

    async fn handle_input(&mut self) {
        match self.pending.take() {
            Some(LbInput::Command(cmd)) => self.on_command(cmd).await,
            Some(LbInput::Probe(report)) => self.on_probe(report).await,
            Some(LbInput::FlowStats { dpid, flows }) => self.on_flow_stats(dpid, flows),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_round_up_to_whole_ticks_and_zero_means_never() {
        assert_eq!(ticks_for(0), 0);
        assert_eq!(ticks_for(2_000), 4);
        assert_eq!(ticks_for(700), 2);
        assert_eq!(ticks_for(1), 1);
    }
}

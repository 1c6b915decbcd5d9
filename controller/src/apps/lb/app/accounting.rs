//! Connection accounting: FLOW_REMOVED of forward rules ends a flow (active count, bytes, packets)
//! (of a conntrack client's reply rule: every connection of that client, see `conntrack.rs`),
//! and a cookie-filtered flow-stats poll of every switch (OF1.3.5 §7.3.5.2) counts the traffic of
//! rules still installed; `rudder_lb_bytes_total` follows both.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ofproto::flow::FlowRemoved;
use ofproto::message::Message;
use ofproto::multipart::{FlowStatsRequest, MultipartReplyBody, MultipartRequest, MultipartRequestBody};

use tracing::info;

use super::{LbApp, LiveTraffic, TICK, label};
use crate::apps::lb::COOKIE_TAG;
use crate::apps::lb::backend::{Backend, BackendId};
use crate::apps::lb::handle::LbInput;
use crate::apps::lb::pool::{BackendTarget, FlowKey, PoolId};
use crate::apps::lb::rules::{LbCookie, RuleKind};
use crate::apps::{COOKIE_TAG_MASK, make_cookie};
use crate::metrics::LbMetrics;

impl LbApp {
    pub(super) fn on_flow_removed(&mut self, dpid: u64, removed: &FlowRemoved) {
        let Some(cookie) = LbCookie::decode(removed.cookie) else { return };
        if cookie.kind == RuleKind::CtReply {
            return self.on_client_idle(cookie.pool, dpid, removed);
        }
        if cookie.kind != RuleKind::Forward {
            return;
        }
        let (Some(key), Some(backend)) = (flow_key(&removed.r#match), cookie.backend) else { return };
        let Some(entry) = self.pools.get_mut(&cookie.pool) else { return };
        if entry.pool.flow(key) == Some(backend) {
            entry.pool.flow_removed(key, removed.byte_count, removed.packet_count);
        } else if let Ok(b) = entry.pool.backend_mut(backend) {
            // Deleted after an ejection (already forgotten): keep its traffic in the totals.
            b.state.bytes = b.state.bytes.saturating_add(removed.byte_count);
            b.state.packets = b.state.packets.saturating_add(removed.packet_count);
        }
        self.export_active(cookie.pool, backend);
        self.export_bytes(cookie.pool);
    }

    /// Ends the flows whose forward rule no switch has shown for longer than the pool's idle timeout
    /// and two flow-stats polls: the rule idled out or was lost without a FLOW_REMOVED reaching the
    /// controller (a switch that reconnected and cleared its tables, or restarted, or never came
    /// back; a FLOW_MOD that was never sent). A connection still alive after that is steered anew by
    /// its next packet, as after an idle timeout. Forgets the ended flows' entries as well.
    pub(super) fn end_vanished_flows(&mut self, now: Instant) {
        let polls = TICK * (2 * self.stats_every_ticks as u32);
        let mut ended: Vec<(PoolId, BackendId)> = Vec::new();
        for entry in self.pools.values_mut() {
            let grace = Duration::from_secs(u64::from(entry.pool.config().idle_timeout)) + polls;
            let pool = &mut entry.pool;
            entry.flow_seen.retain(|key, seen| {
                if pool.flow(*key).is_none() {
                    return false;
                }
                if now.duration_since(*seen) <= grace {
                    return true;
                }
                if let Some(backend) = pool.flow_removed(*key, 0, 0) {
                    ended.push((pool.id, backend));
                }
                false
            });
        }
        if !ended.is_empty() {
            info!(flows = ended.len(), "lb: ended flows whose rules have left the switches unreported");
        }
        ended.sort_unstable();
        ended.dedup();
        for (pool, backend) in ended {
            self.export_active(pool, backend);
        }
    }

    /// Sets `rudder_lb_active_flows` of one backend to its count.
    pub(super) fn export_active(&self, pool: PoolId, backend: BackendId) {
        let Some(entry) = self.pools.get(&pool) else { return };
        let Ok(b) = entry.pool.backend(backend) else { return };
        self.metrics
            .active_flows
            .with_label_values(&[entry.pool.name(), &label(b.spec.ip)])
            .set(b.state.active_flows as i64);
    }

    /// Raises `rudder_lb_bytes_total` to each backend's current total.
    pub(super) fn export_bytes(&mut self, pool: PoolId) {
        let Some(entry) = self.pools.get_mut(&pool) else { return };
        let name = entry.pool.name().to_string();
        for b in entry.pool.backends() {
            let live = entry.extra.get(&b.id).map_or(0, |x| x.live_bytes);
            let total = b.state.bytes.saturating_add(live);
            let exported = entry.bytes_exported.entry(b.id).or_default();
            if total > *exported {
                self.metrics.bytes.with_label_values(&[&name, &label(b.spec.ip)]).inc_by(total - *exported);
                *exported = total;
            }
        }
    }

    /// Asks every switch for the LB's rules (cookie-filtered, OF1.3.5 §7.3.5.2); answers come back as
    /// [`LbInput::FlowStats`].
    pub(super) fn poll_flow_stats(&mut self) {
        for (&dpid, sw) in self.switches.iter_mut() {
            if sw.polling {
                continue;
            }
            sw.polling = true;
            let dp = sw.dp.clone();
            let tx = self.input_tx.clone();
            tokio::spawn(async move {
                let request = FlowStatsRequest {
                    cookie: make_cookie(COOKIE_TAG, 0),
                    cookie_mask: COOKIE_TAG_MASK,
                    ..FlowStatsRequest::all()
                };
                let msg =
                    Message::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Flow(request)));
                let flows = match dp.request(&msg).await {
                    Ok(Message::MultipartReply(reply)) => match reply.body {
                        MultipartReplyBody::Flow(flows) => Some(flows),
                        _ => None,
                    },
                    _ => None,
                };
                let _ = tx.send(LbInput::FlowStats { dpid, flows }).await;
            });
        }
    }

    pub(super) fn on_flow_stats(&mut self, dpid: u64, flows: Option<Vec<ofproto::multipart::FlowStats>>) {
        if let Some(sw) = self.switches.get_mut(&dpid) {
            sw.polling = false;
        }
        let Some(flows) = flows else { return };
        let mut per_backend: LiveTraffic = HashMap::new();
        for f in &flows {
            let Some(c) = LbCookie::decode(f.cookie) else { continue };
            // Traffic towards a backend: per-flow forward rules, wildcard prefixes, tracked connections.
            if !matches!(c.kind, RuleKind::Forward | RuleKind::Wildcard | RuleKind::CtForward) {
                continue;
            }
            let Some(b) = c.backend else { continue };
            let e = per_backend.entry((c.pool, b)).or_default();
            e.0 = e.0.saturating_add(f.byte_count);
            e.1 = e.1.saturating_add(f.packet_count);
        }
        let now = Instant::now();
        for f in &flows {
            let Some(c) = LbCookie::decode(f.cookie).filter(|c| c.kind == RuleKind::Forward) else {
                continue;
            };
            let Some(entry) = self.pools.get_mut(&c.pool) else { continue };
            if let Some(seen) = flow_key(&f.r#match).and_then(|key| entry.flow_seen.get_mut(&key)) {
                *seen = now;
            }
        }
        self.live.insert(dpid, per_backend);
        for entry in self.pools.values_mut() {
            for x in entry.extra.values_mut() {
                x.live_bytes = 0;
                x.live_packets = 0;
            }
        }
        for map in self.live.values() {
            for (&(pool, backend), &(bytes, packets)) in map {
                if let Some(entry) = self.pools.get_mut(&pool) {
                    let x = entry.extra.entry(backend).or_default();
                    x.live_bytes = x.live_bytes.saturating_add(bytes);
                    x.live_packets = x.live_packets.saturating_add(packets);
                }
            }
        }
        let ids: Vec<PoolId> = self.pools.keys().copied().collect();
        for id in ids {
            self.export_bytes(id);
        }
    }
}

/// The flow a per-flow forward rule carries (its match is client:port -> VIP:port).
fn flow_key(m: &ofproto::oxm::Match) -> Option<FlowKey> {
    Some(FlowKey { client_ip: m.get_ipv4_src()?, client_port: m.get_tcp_src()?, vip_port: m.get_tcp_dst()? })
}

/// A flow just steered to `target` (`backend` its state): counts it in `rudder_lb_flows_total`
/// unless the pool already `known` it, and sets the backend's `rudder_lb_active_flows`. (A free
/// function: the packet path calls it while it holds the pool mutably.)
pub(super) fn export_steered(
    metrics: &LbMetrics,
    pool: &str,
    target: &BackendTarget,
    backend: Option<&Backend>,
    known: bool,
) {
    let backend_label = label(target.ip);
    if !known {
        metrics.flows_total.with_label_values(&[pool, &backend_label]).inc();
    }
    let active = backend.map_or(0, |b| b.state.active_flows);
    metrics.active_flows.with_label_values(&[pool, &backend_label]).set(active as i64);
}

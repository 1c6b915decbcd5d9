//! A client port reused across pools. Two pools may share a backend, and a client that used one
//! pool's VIP from port P may open a connection to the other's from P again (its TIME_WAIT is per
//! destination, and the VIPs differ). The backend sees the same TCP connection as before, which it
//! has closed, and accepts it; but the first pool's per-flow rules for P wait for their idle timeout,
//! and their reverse rule, above every rule of the new connection's pool, would turn the backend's
//! answers into the first VIP's, which the client resets. So before a new connection is sent on,
//! those rules go; their FLOW_REMOVED ends the old flow in its pool's accounting.

use std::net::Ipv4Addr;

use ofproto::message::Message;
use tracing::debug;

use super::LbApp;
use crate::apps::lb::config::SteeringMode;
use crate::apps::lb::pool::{BackendTarget, FlowKey, PoolId};
use crate::apps::lb::rules::Steering;

impl LbApp {
    /// Deletes, from every switch, the per-flow rules of pools other than `id` that steer
    /// `client_ip:client_port` to `target`'s address and port.
    pub(super) fn evict_reused_port(
        &self,
        id: PoolId,
        client_ip: Ipv4Addr,
        client_port: u16,
        target: &BackendTarget,
    ) {
        let mut deletes = Vec::new();
        for entry in self.pools.values() {
            if entry.pool.id == id || entry.pool.config().steering != SteeringMode::FlowRules {
                continue;
            }
            for &vip_port in &entry.pool.config().ports {
                let key = FlowKey { client_ip, client_port, vip_port };
                let Some(backend) = entry.pool.flow(key).and_then(|b| entry.pool.target(b).ok()) else {
                    continue;
                };
                if (backend.ip, backend.port) != (target.ip, target.port) {
                    continue;
                }
                debug!(pool = entry.pool.name(), client = %client_ip, port = client_port, backend = %backend.ip,
                    "lb: client port reused through another pool; deleting the old connection's rules");
                let steering = Steering {
                    pool: entry.pool.id,
                    vip: entry.pool.vip(),
                    vip_mac: entry.pool.vip_mac(),
                    key,
                    backend,
                    idle_timeout: 0,
                };
                deletes.extend(steering.delete_rules().into_iter().map(Message::FlowMod));
            }
        }
        if deletes.is_empty() {
            return;
        }
        // Queued before the new connection's first packet, on every switch (the reverse rule is on
        // the backend's, the forward rule on the client's).
        for &dpid in self.switches.keys() {
            self.send_now(dpid, &deletes);
        }
    }
}

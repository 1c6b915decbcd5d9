//! REST commands on the running app: pools and backends added and removed, weights, drains and
//! algorithms changed, snapshots for `/lb/*`. Each change is carried to the switches before the reply
//! is sent, so a client that sees the reply sees the new rules too (modulo the switch's own queue).

use std::net::Ipv4Addr;

use ofproto::group::GroupMod;
use ofproto::message::Message;

use super::proactive::Change;
use super::{LbApp, label};
use crate::apps::lb::algorithm::Algorithm;
use crate::apps::lb::backend::BackendId;
use crate::apps::lb::config::{BackendConfig, LbConfig, PoolConfig, SteeringMode};
use crate::apps::lb::handle::{BackendPatch, LbCommand, LbError};
use crate::apps::lb::pool::{Pool, PoolAddError, PoolId};
use crate::apps::lb::rules::{delete_backend_rules, delete_pool_rules, trap_rules};
use crate::apps::lb::select_group::group_id;
use crate::apps::lb::stats::{BackendStats, LbStats, PoolStats};

impl LbApp {
    pub(super) async fn on_command(&mut self, cmd: LbCommand) {
        // A caller that went away (timeout, closed connection) is not an error here.
        match cmd {
            LbCommand::ListPools(reply) => {
                let _ = reply.send(Ok(self.pools.values().map(|e| e.stats()).collect()));
            }
            LbCommand::GetPool { pool, reply } => {
                let _ = reply.send(self.pool_id(&pool).map(|id| self.pool_stats(id)));
            }
            LbCommand::AddPool { config, reply } => {
                let _ = reply.send(self.add_pool(*config).await);
            }
            LbCommand::RemovePool { pool, reply } => {
                let _ = reply.send(self.remove_pool(&pool).await);
            }
            LbCommand::ListBackends { pool, reply } => {
                let _ = reply.send(self.pool_id(&pool).map(|id| self.pool_stats(id).backends));
            }
            LbCommand::AddBackend { pool, config, reply } => {
                let _ = reply.send(self.add_backend(&pool, *config).await);
            }
            LbCommand::RemoveBackend { pool, ip, reply } => {
                let _ = reply.send(self.remove_backend(&pool, ip).await);
            }
            LbCommand::PatchBackend { pool, ip, patch, reply } => {
                let _ = reply.send(self.patch_backend(&pool, ip, patch).await);
            }
            LbCommand::GetAlgorithm { pool, reply } => {
                let _ = reply.send(self.pool_id(&pool).map(|id| self.pools[&id].pool.algorithm()));
            }
            LbCommand::SetAlgorithm { pool, algorithm, reply } => {
                let _ = reply.send(self.set_algorithm(&pool, algorithm).await);
            }
            LbCommand::Stats(reply) => {
                let _ = reply.send(Ok(LbStats { pools: self.pools.values().map(|e| e.stats()).collect() }));
            }
        }
    }

    fn pool_id(&self, name: &str) -> Result<PoolId, LbError> {
        self.pools
            .values()
            .find(|e| e.pool.name() == name)
            .map(|e| e.pool.id)
            .ok_or_else(|| LbError::UnknownPool(name.to_string()))
    }

    /// The pools as they run now (backends and algorithms changed over REST included), as a config.
    fn running_config(&self) -> LbConfig {
        LbConfig {
            pools: self.pools.values().map(|e| e.pool.config().clone()).collect(),
            ..LbConfig::default()
        }
    }

    /// Checks the running pools with pool `id`'s config changed by `change`: what a backend added or
    /// an algorithm switched must not break between pools (`field` names the request's key).
    fn check_change(
        &self,
        id: PoolId,
        field: &str,
        change: impl FnOnce(&mut PoolConfig),
    ) -> Result<(), LbError> {
        let mut all = self.running_config();
        if let Some(pool) = all.pools.iter_mut().find(|p| p.name == self.pools[&id].pool.name()) {
            change(pool);
        }
        all.validate().map_err(|e| {
            let conflict = e.is_conflict();
            let message = e.to_string();
            let field = field.to_string();
            if conflict { LbError::Conflict { field, message } } else { LbError::Invalid { field, message } }
        })
    }

    fn pool_stats(&self, id: PoolId) -> PoolStats {
        self.pools[&id].stats()
    }

    fn backend_id(&self, pool: PoolId, ip: Ipv4Addr) -> Result<BackendId, LbError> {
        let entry = &self.pools[&pool];
        entry
            .pool
            .backend_by_ip(ip)
            .ok_or_else(|| LbError::UnknownBackend { pool: entry.pool.name().to_string(), ip })
    }

    fn backend_stats(&self, pool: PoolId, ip: Ipv4Addr) -> Result<BackendStats, LbError> {
        let stats = self.pool_stats(pool);
        let name = stats.name.clone();
        stats.backends.into_iter().find(|b| b.ip == ip).ok_or(LbError::UnknownBackend { pool: name, ip })
    }

    async fn add_pool(&mut self, config: PoolConfig) -> Result<PoolStats, LbError> {
        if config.name.is_empty() {
            return Err(LbError::Invalid { field: "name".into(), message: "name must not be empty".into() });
        }
        // Validate against the pools already running, as if the config file listed them all.
        let mut all = self.running_config();
        all.pools.push(config.clone());
        all.validate()?;
        let id = (0..u16::MAX)
            .map(PoolId)
            .find(|id| !self.pools.contains_key(id))
            .ok_or(LbError::Invalid { field: "name".into(), message: "no pool id left".into() })?;
        let pool = Pool::new(id, config)?;
        tracing::info!(pool = pool.name(), vip = %pool.vip(), algorithm = %pool.algorithm(), "lb: pool added");
        self.insert_pool(pool);
        let dpids: Vec<u64> = self.switches.keys().copied().collect();
        for dpid in dpids {
            self.install_pool(id, dpid).await;
        }
        Ok(self.pool_stats(id))
    }

    async fn remove_pool(&mut self, name: &str) -> Result<(), LbError> {
        let id = self.pool_id(name)?;
        let Some(entry) = self.pools.remove(&id) else { return Err(LbError::UnknownPool(name.to_string())) };
        for (_, token) in entry.probes.values() {
            token.cancel();
        }
        let mut msgs = vec![Message::FlowMod(delete_pool_rules(id))];
        for i in 0..entry.pool.config().ports.len() {
            msgs.push(Message::GroupMod(GroupMod::delete(group_id(id, i as u8))));
        }
        // Pools on the same VIP (other ports) share its ARP trap (one match, one priority), which
        // the delete above may have taken with the removed pool's cookie.
        let vip = entry.pool.vip();
        for other in self.pools.values().filter(|e| e.pool.vip() == vip) {
            msgs.extend(
                trap_rules(other.pool.id, vip, &other.pool.config().ports).into_iter().map(Message::FlowMod),
            );
        }
        self.broadcast(&msgs).await;
        if entry.pool.config().steering == SteeringMode::Conntrack {
            self.resend_client_rules().await;
        }
        for b in entry.pool.backends() {
            self.metrics.forget_backend(name, &label(b.spec.ip));
        }
        self.metrics.forget_pool(name);
        for live in self.live.values_mut() {
            live.retain(|(pool, _), _| *pool != id);
        }
        tracing::info!(pool = name, "lb: pool removed");
        Ok(())
    }

    async fn add_backend(&mut self, pool: &str, config: BackendConfig) -> Result<BackendStats, LbError> {
        let id = self.pool_id(pool)?;
        let ip = config.ip;
        if self.pools[&id].pool.backend_by_ip(ip).is_none() {
            // Only clashes with other pools here: the backend's own checks come from `add_backend`
            // below, with their own field names.
            let candidate = config.clone();
            if let Err(e @ LbError::Conflict { .. }) =
                self.check_change(id, "ip", |p| p.backends.push(candidate))
            {
                return Err(e);
            }
        }
        let entry = self.pools.get_mut(&id).ok_or_else(|| LbError::UnknownPool(pool.to_string()))?;
        let backend = entry.pool.add_backend(config).map_err(|e| match e {
            PoolAddError::Duplicate(ip) => LbError::DuplicateBackend { pool: pool.to_string(), ip },
            PoolAddError::Invalid(e) => e.into(),
        })?;
        tracing::info!(pool, backend = %ip, "lb: backend added");
        self.start_probe(id, backend);
        let dpids: Vec<u64> = self.switches.keys().copied().collect();
        for dpid in dpids {
            let msgs = self.arp_requests(id, dpid, true);
            self.send(dpid, &msgs).await;
        }
        self.sync_proactive(id, Change::Planned).await;
        self.backend_stats(id, ip)
    }

    async fn remove_backend(&mut self, pool: &str, ip: Ipv4Addr) -> Result<(), LbError> {
        let id = self.pool_id(pool)?;
        let backend = self.backend_id(id, ip)?;
        let entry = self.pools.get_mut(&id).ok_or_else(|| LbError::UnknownPool(pool.to_string()))?;
        if entry.pool.backends().len() == 1 {
            return Err(LbError::LastBackend { pool: pool.to_string(), ip });
        }
        if let Some((_, token)) = entry.probes.remove(&backend) {
            token.cancel();
        }
        let _ = entry.pool.remove_backend(backend);
        entry.extra.remove(&backend);
        entry.bytes_exported.remove(&backend);
        // Its rules leave every switch now; a transition the sync below starts must not add them
        // again with the other backends' retiring rules.
        for installed in entry.installed.values_mut() {
            installed.forget_backend(backend);
        }
        for live in self.live.values_mut() {
            live.remove(&(id, backend));
        }
        self.metrics.forget_backend(pool, &label(ip));
        self.broadcast(&[Message::FlowMod(delete_backend_rules(id, backend))]).await;
        self.sync_proactive(id, Change::Planned).await;
        tracing::info!(pool, backend = %ip, "lb: backend removed");
        Ok(())
    }

    async fn patch_backend(
        &mut self,
        pool: &str,
        ip: Ipv4Addr,
        patch: BackendPatch,
    ) -> Result<BackendStats, LbError> {
        let id = self.pool_id(pool)?;
        let backend = self.backend_id(id, ip)?;
        if patch.weight == Some(0) {
            return Err(LbError::Invalid {
                field: "weight".into(),
                message: "weight must be 1..=65535 (drain a backend with {\"draining\": true})".into(),
            });
        }
        if patch.weight.is_none() && patch.draining.is_none() {
            return Err(LbError::Invalid {
                field: "weight".into(),
                message: "nothing to change: give weight and/or draining".into(),
            });
        }
        let entry = self.pools.get_mut(&id).ok_or_else(|| LbError::UnknownPool(pool.to_string()))?;
        if let Some(w) = patch.weight {
            let _ = entry.pool.set_weight(backend, w);
        }
        if let Some(d) = patch.draining {
            let _ = entry.pool.set_draining(backend, d);
        }
        tracing::info!(pool, backend = %ip, weight = ?patch.weight, draining = ?patch.draining, "lb: backend changed");
        self.sync_proactive(id, Change::Planned).await;
        self.backend_stats(id, ip)
    }

    async fn set_algorithm(&mut self, pool: &str, algorithm: Algorithm) -> Result<Algorithm, LbError> {
        let id = self.pool_id(pool)?;
        self.check_change(id, "algorithm", |p| p.algorithm = algorithm)?;
        let entry = self.pools.get_mut(&id).ok_or_else(|| LbError::UnknownPool(pool.to_string()))?;
        let old = entry.pool.algorithm();
        if old != algorithm {
            entry.pool.set_algorithm(algorithm);
            tracing::info!(pool, from = %old, to = %algorithm, "lb: algorithm switched; existing flows stay");
            self.sync_proactive(id, Change::Planned).await;
        }
        Ok(algorithm)
    }
}

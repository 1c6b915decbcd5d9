//! `LbHandle`: how the REST API (and tests) talk to the running LB app. A cheap `Clone` over the
//! sending side of the app's input channel; every call is a command with a oneshot reply, so the app
//! owns all pool state and nothing is shared behind a lock.

use std::net::Ipv4Addr;

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::algorithm::Algorithm;
use super::config::{BackendConfig, LbConfigError, PoolConfig};
use super::probe::ProbeReport;
use super::stats::{BackendStats, LbStats, PoolStats};

/// Capacity of the app's input queue (commands, probe results, flow stats).
pub const INPUT_QUEUE: usize = 1024;

/// Why a load-balancer command failed; REST maps each to its status (see [`LbError::status`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LbError {
    #[error("no pool named {0:?}")]
    UnknownPool(String),
    #[error("pool {pool:?} has no backend {ip}")]
    UnknownBackend { pool: String, ip: Ipv4Addr },
    #[error("a pool named {0:?} already exists")]
    DuplicatePool(String),
    #[error("{0}")]
    DuplicateVip(String),
    #[error("pool {pool:?} already has backend {ip}")]
    DuplicateBackend { pool: String, ip: Ipv4Addr },
    /// Removing the backend would leave its pool with none.
    #[error("{ip} is pool {pool:?}'s last backend: a pool needs one (delete the pool instead)")]
    LastBackend { pool: String, ip: Ipv4Addr },
    /// A value is not acceptable; `field` names the JSON key.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A value clashes with another pool (see [`LbConfigError::is_conflict`]); `field` names the JSON key.
    #[error("{message}")]
    Conflict { field: String, message: String },
    #[error("the load balancer app is not running")]
    Stopped,
}

impl LbError {
    /// The HTTP status REST answers with: 404 unknown, 409 duplicate, 400 invalid, 503 stopped.
    pub fn status(&self) -> u16 {
        match self {
            LbError::UnknownPool(_) | LbError::UnknownBackend { .. } => 404,
            LbError::DuplicatePool(_)
            | LbError::DuplicateVip(_)
            | LbError::DuplicateBackend { .. }
            | LbError::LastBackend { .. }
            | LbError::Conflict { .. } => 409,
            LbError::Invalid { .. } => 400,
            LbError::Stopped => 503,
        }
    }

    /// The JSON key the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            LbError::Invalid { field, .. } | LbError::Conflict { field, .. } => Some(field),
            LbError::LastBackend { .. } => Some("ip"),
            LbError::DuplicatePool(_) => Some("name"),
            LbError::DuplicateVip(_) => Some("vip"),
            LbError::DuplicateBackend { .. } => Some("ip"),
            _ => None,
        }
    }
}

impl From<LbConfigError> for LbError {
    fn from(e: LbConfigError) -> LbError {
        match e {
            LbConfigError::DuplicateName(name) => LbError::DuplicatePool(name),
            LbConfigError::DuplicateVip { .. } => LbError::DuplicateVip(e.to_string()),
            other if other.is_conflict() => {
                LbError::Conflict { field: other.field(), message: other.to_string() }
            }
            other => LbError::Invalid { field: other.field(), message: other.to_string() },
        }
    }
}

/// `PATCH /lb/pools/{pool}/backends/{ip}`: any of the two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendPatch {
    pub weight: Option<u16>,
    pub draining: Option<bool>,
}

type Reply<T> = oneshot::Sender<Result<T, LbError>>;

/// One request to the app.
#[derive(Debug)]
pub enum LbCommand {
    ListPools(Reply<Vec<PoolStats>>),
    GetPool { pool: String, reply: Reply<PoolStats> },
    AddPool { config: Box<PoolConfig>, reply: Reply<PoolStats> },
    RemovePool { pool: String, reply: Reply<()> },
    ListBackends { pool: String, reply: Reply<Vec<BackendStats>> },
    AddBackend { pool: String, config: Box<BackendConfig>, reply: Reply<BackendStats> },
    RemoveBackend { pool: String, ip: Ipv4Addr, reply: Reply<()> },
    PatchBackend { pool: String, ip: Ipv4Addr, patch: BackendPatch, reply: Reply<BackendStats> },
    GetAlgorithm { pool: String, reply: Reply<Algorithm> },
    SetAlgorithm { pool: String, algorithm: Algorithm, reply: Reply<Algorithm> },
    Stats(Reply<LbStats>),
}

/// Everything that reaches the app besides switch events.
#[derive(Debug)]
pub enum LbInput {
    Command(LbCommand),
    Probe(ProbeReport),
    /// The LB's rules on one switch, from a cookie-filtered flow-stats request.
    FlowStats {
        dpid: u64,
        flows: Option<Vec<ofproto::multipart::FlowStats>>,
    },
}

/// The REST-facing handle of the LB app. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LbHandle {
    tx: mpsc::Sender<LbInput>,
}

impl LbHandle {
    pub(crate) fn new(tx: mpsc::Sender<LbInput>) -> LbHandle {
        LbHandle { tx }
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> LbCommand) -> Result<T, LbError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(LbInput::Command(make(reply))).await.map_err(|_| LbError::Stopped)?;
        rx.await.map_err(|_| LbError::Stopped)?
    }

    pub async fn pools(&self) -> Result<Vec<PoolStats>, LbError> {
        self.call(LbCommand::ListPools).await
    }

    pub async fn pool(&self, pool: &str) -> Result<PoolStats, LbError> {
        self.call(|reply| LbCommand::GetPool { pool: pool.to_string(), reply }).await
    }

    pub async fn add_pool(&self, config: PoolConfig) -> Result<PoolStats, LbError> {
        self.call(|reply| LbCommand::AddPool { config: Box::new(config), reply }).await
    }

    pub async fn remove_pool(&self, pool: &str) -> Result<(), LbError> {
        self.call(|reply| LbCommand::RemovePool { pool: pool.to_string(), reply }).await
    }

    pub async fn backends(&self, pool: &str) -> Result<Vec<BackendStats>, LbError> {
        self.call(|reply| LbCommand::ListBackends { pool: pool.to_string(), reply }).await
    }

    pub async fn add_backend(&self, pool: &str, config: BackendConfig) -> Result<BackendStats, LbError> {
        self.call(|reply| LbCommand::AddBackend { pool: pool.to_string(), config: Box::new(config), reply })
            .await
    }

    pub async fn remove_backend(&self, pool: &str, ip: Ipv4Addr) -> Result<(), LbError> {
        self.call(|reply| LbCommand::RemoveBackend { pool: pool.to_string(), ip, reply }).await
    }

    pub async fn patch_backend(
        &self,
        pool: &str,
        ip: Ipv4Addr,
        patch: BackendPatch,
    ) -> Result<BackendStats, LbError> {
        self.call(|reply| LbCommand::PatchBackend { pool: pool.to_string(), ip, patch, reply }).await
    }

    pub async fn algorithm(&self, pool: &str) -> Result<Algorithm, LbError> {
        self.call(|reply| LbCommand::GetAlgorithm { pool: pool.to_string(), reply }).await
    }

    pub async fn set_algorithm(&self, pool: &str, algorithm: Algorithm) -> Result<Algorithm, LbError> {
        self.call(|reply| LbCommand::SetAlgorithm { pool: pool.to_string(), algorithm, reply }).await
    }

    pub async fn stats(&self) -> Result<LbStats, LbError> {
        self.call(LbCommand::Stats).await
    }
}

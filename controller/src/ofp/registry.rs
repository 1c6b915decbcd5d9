//! The set of connected switches, by datapath id. Shared by the connection tasks (which add and remove
//! themselves), the apps and the REST API. Holds handles only; no switch state beyond what the
//! handshake learned, kept current from PORT_STATUS.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use ofproto::port::{Port, PortReason, PortStatus};

use super::datapath::DatapathHandle;
use super::event::SwitchInfo;

#[derive(Clone)]
struct Entry {
    dp: DatapathHandle,
    info: SwitchInfo,
}

/// Connected switches. Cheap to clone.
#[derive(Clone, Default)]
pub struct DatapathRegistry {
    inner: Arc<RwLock<BTreeMap<u64, Entry>>>,
}

impl DatapathRegistry {
    pub fn new() -> DatapathRegistry {
        DatapathRegistry::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u64, Entry>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, Entry>> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a switch that finished its handshake. If the same datapath id is still registered from
    /// an older connection, that connection is closed: the newest connection wins (a switch that
    /// reconnects before its old TCP connection timed out).
    pub(crate) fn insert(&self, dp: DatapathHandle, info: SwitchInfo) {
        let old = self.write().insert(dp.dpid(), Entry { dp, info });
        if let Some(old) = old {
            tracing::info!(dpid = %format!("{:016x}", old.dp.dpid()), "switch reconnected; closing the old connection");
            old.dp.close();
        }
    }

    /// Removes the switch if `dp` is still its current connection.
    pub(crate) fn remove(&self, dp: &DatapathHandle) -> bool {
        let mut map = self.write();
        if map.get(&dp.dpid()).is_some_and(|e| e.dp == *dp) {
            map.remove(&dp.dpid());
            true
        } else {
            false
        }
    }

    pub(crate) fn apply_port_status(&self, dp: &DatapathHandle, status: &PortStatus) {
        let mut map = self.write();
        let Some(entry) = map.get_mut(&dp.dpid()).filter(|e| e.dp == *dp) else { return };
        let ports = &mut entry.info.ports;
        let port_no = status.desc.port_no;
        match status.reason {
            PortReason::Delete => ports.retain(|p| p.port_no != port_no),
            _ => match ports.iter_mut().find(|p| p.port_no == port_no) {
                Some(p) => *p = status.desc.clone(),
                None => ports.push(status.desc.clone()),
            },
        }
    }

    pub fn get(&self, dpid: u64) -> Option<DatapathHandle> {
        self.read().get(&dpid).map(|e| e.dp.clone())
    }

    pub fn info(&self, dpid: u64) -> Option<SwitchInfo> {
        self.read().get(&dpid).map(|e| e.info.clone())
    }

    pub fn ports(&self, dpid: u64) -> Option<Vec<Port>> {
        self.read().get(&dpid).map(|e| e.info.ports.clone())
    }

    /// Datapath ids, ascending.
    pub fn dpids(&self) -> Vec<u64> {
        self.read().keys().copied().collect()
    }

    pub fn handles(&self) -> Vec<DatapathHandle> {
        self.read().values().map(|e| e.dp.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}

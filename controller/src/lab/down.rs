//! `rudder down`: removes everything a topology's state records: processes (only while their PID
//! still has the recorded start time), Open vSwitch bridges, cgroups, interfaces and namespaces,
//! then the state directory. Works after a crash and is idempotent: what is already gone is fine.

use std::path::Path;
use std::time::Duration;

use super::cpu;
use super::netns;
use super::ovs::OvsDb;
use super::state::{LabState, StateDir, recorded_topologies};

/// What `down` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownReport {
    /// One line per thing removed.
    pub removed: Vec<String>,
    /// What could not be removed (the state is then kept, so `down` can be run again).
    pub problems: Vec<String>,
    /// Whether there was anything recorded at all.
    pub found: bool,
}

/// Tears down topology `name` recorded under `root`.
pub fn down(root: &Path, name: &str) -> anyhow::Result<DownReport> {
    down_dir(&StateDir::new(root, name))
}

/// Tears down every topology recorded under `root`.
pub fn down_all(root: &Path) -> anyhow::Result<Vec<(String, DownReport)>> {
    let mut reports = Vec::new();
    for name in recorded_topologies(root)? {
        let report = down(root, &name)?;
        reports.push((name, report));
    }
    Ok(reports)
}

/// Tears down what `dir` records.
pub fn down_dir(dir: &StateDir) -> anyhow::Result<DownReport> {
    let mut report = DownReport::default();
    let state = match dir.load() {
        Ok(Some(state)) => state,
        Ok(None) => {
            // A directory without a record (a crash before the first write) holds only logs.
            if dir.dir.exists() {
                dir.remove()?;
            }
            return Ok(report);
        }
        Err(e) => {
            // A corrupt record: fall back to the naming rule for namespaces (host names hold no
            // '-', so `rudder-<topology>-<word>` is exactly this topology's).
            report.problems.push(format!("{e}; removed namespaces by name only (processes may remain)"));
            let name = dir.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            sweep_namespaces(&name, &mut report);
            return Ok(report);
        }
    };
    report.found = true;
    teardown(&state, &mut report);
    if report.problems.is_empty() {
        dir.remove()?;
    }
    Ok(report)
}

fn teardown(state: &LabState, report: &mut DownReport) {
    // Nodes and the controller first, the relay, then vswitchd (a client of the database), then
    // ovsdb-server: the reverse of start order.
    for p in state.processes.iter().rev() {
        if !p.is_running() {
            continue;
        }
        if p.stop(Duration::from_secs(5)) {
            report.removed.push(format!("process {} {} (pid {})", p.role, p.name, p.pid));
        } else {
            report.problems.push(format!("process {} {} (pid {}) does not exit", p.role, p.name, p.pid));
        }
    }
    // A private OVS took its bridges with it; an external one keeps them until deleted.
    if let Some(ovs) = &state.ovs
        && ovs.private_dir.is_none()
    {
        let db = OvsDb::external(&ovs.db);
        for bridge in &state.bridges {
            match db.del_bridge(bridge) {
                Ok(()) => report.removed.push(format!("bridge {bridge}")),
                Err(e) => report.problems.push(e.to_string()),
            }
        }
    }
    for dir in state.cgroups.iter().rev() {
        match cpu::remove_cgroup(dir) {
            Ok(()) => report.removed.push(format!("cgroup {}", dir.display())),
            Err(e) => report.problems.push(e),
        }
    }
    // Qdiscs go with their interfaces; interfaces in namespaces go with the namespaces.
    for iface in state.root_interfaces.iter().rev() {
        if netns::link_exists(None, iface) {
            match netns::delete_link(None, iface) {
                Ok(()) => report.removed.push(format!("interface {iface}")),
                Err(e) => report.problems.push(e.to_string()),
            }
        }
    }
    for ns in state.namespaces.iter().rev() {
        if netns::namespace_exists(ns) {
            match netns::delete_namespace(ns) {
                Ok(()) => report.removed.push(format!("namespace {ns}")),
                Err(e) => report.problems.push(e.to_string()),
            }
        }
    }
}

fn sweep_namespaces(topology: &str, report: &mut DownReport) {
    let prefix = format!("rudder-{topology}-");
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.strip_prefix(&prefix).is_some_and(|rest| !rest.is_empty() && !rest.contains('-'));
        if ours {
            match netns::delete_namespace(&name) {
                Ok(()) => report.removed.push(format!("namespace {name}")),
                Err(e) => report.problems.push(e.to_string()),
            }
        }
    }
}

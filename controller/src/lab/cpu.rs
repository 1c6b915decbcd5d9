//! CPU shares for inference nodes (`cpu = 0.5` in a host): a CFS quota in a cgroup
//! `rudder-<topology>/<host>` (cgroup v2 `cpu.max`, or cgroup v1 `cpu.cfs_quota_us` on hybrid
//! hosts), else pinning to `ceil(cpu)` cores with `taskset`, else nothing but a warning.

use std::path::{Path, PathBuf};

use super::command::{run_args, which};

/// The CFS period used for quotas: 100 ms, the kernel's default.
const PERIOD_US: u64 = 100_000;

/// How a CPU share was applied.
#[derive(Debug, Clone, PartialEq)]
pub enum CpuLimit {
    /// The process runs in this cgroup (removed by `rudder down`).
    Cgroup(PathBuf),
    /// Pinned to these cores.
    Pinned(String),
    /// Could not be applied; why.
    NotApplied(String),
}

/// Which cgroup hierarchy with the `cpu` controller is writable, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hierarchy {
    V2(PathBuf),
    V1(PathBuf),
}

fn hierarchy() -> Option<Hierarchy> {
    let root = Path::new("/sys/fs/cgroup");
    let v2 = std::fs::read_to_string(root.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|w| w == "cpu"));
    if v2 {
        return Some(Hierarchy::V2(root.to_path_buf()));
    }
    let v1 = root.join("cpu");
    v1.join("cpu.cfs_quota_us").is_file().then_some(Hierarchy::V1(v1))
}

/// The quota in microseconds per [`PERIOD_US`] for `cpu` cores.
pub fn quota_us(cpu: f64) -> u64 {
    ((cpu * PERIOD_US as f64).round() as u64).max(1_000)
}

/// The cores `taskset` pins `cpu` cores' worth of work to: `0` .. `ceil(cpu) - 1`, within the machine.
pub fn pinned_cores(cpu: f64, available: usize) -> String {
    let n = (cpu.ceil() as usize).clamp(1, available.max(1));
    if n == 1 { "0".to_string() } else { format!("0-{}", n - 1) }
}

/// Limits process `pid` (and the threads it starts later) to `cpu` cores.
pub fn limit(topology: &str, host: &str, pid: u32, cpu: f64) -> CpuLimit {
    let cgroup_error = match hierarchy() {
        Some(h) => match in_cgroup(&h, topology, host, pid, cpu) {
            Ok(dir) => return CpuLimit::Cgroup(dir),
            Err(e) => e,
        },
        None => "no writable cgroup hierarchy with the cpu controller".to_string(),
    };
    if which("taskset").is_some() {
        let available = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let cores = pinned_cores(cpu, available);
        return match run_args("taskset", &["-a", "-p", "-c", &cores, &pid.to_string()]) {
            Ok(_) => CpuLimit::Pinned(cores),
            Err(e) => CpuLimit::NotApplied(format!("{cgroup_error}; {e}")),
        };
    }
    CpuLimit::NotApplied(format!("{cgroup_error}; taskset is not installed"))
}

fn in_cgroup(h: &Hierarchy, topology: &str, host: &str, pid: u32, cpu: f64) -> Result<PathBuf, String> {
    let write = |path: &Path, value: &str| {
        std::fs::write(path, value).map_err(|e| format!("writing {value:?} to {}: {e}", path.display()))
    };
    let mkdir = |dir: &Path| match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(format!("creating {}: {e}", dir.display()))
        }
        _ => Ok(()),
    };
    let (root, v2) = match h {
        Hierarchy::V2(root) => (root, true),
        Hierarchy::V1(root) => (root, false),
    };
    let parent = root.join(format!("rudder-{topology}"));
    let dir = parent.join(host);
    if v2 {
        // A child cgroup gets the cpu controller only when every ancestor enables it for children.
        write(&root.join("cgroup.subtree_control"), "+cpu")?;
        mkdir(&parent)?;
        write(&parent.join("cgroup.subtree_control"), "+cpu")?;
        mkdir(&dir)?;
        write(&dir.join("cpu.max"), &format!("{} {PERIOD_US}", quota_us(cpu)))?;
    } else {
        mkdir(&parent)?;
        mkdir(&dir)?;
        write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
        write(&dir.join("cpu.cfs_quota_us"), &quota_us(cpu).to_string())?;
    }
    // cgroup.procs moves every thread of the process; threads it starts later are born inside.
    write(&dir.join("cgroup.procs"), &pid.to_string())?;
    Ok(dir)
}

/// Removes a cgroup `limit` created (once its processes are gone), then its `rudder-<topology>`
/// parent if that is empty. Fine if already gone.
pub fn remove_cgroup(dir: &Path) -> Result<(), String> {
    for d in [Some(dir), dir.parent()].into_iter().flatten() {
        let name = d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if d == dir || name.starts_with("rudder-") {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                // The parent still holds another node's cgroup: its own removal comes later.
                Err(_) if d != dir => {}
                Err(e) => return Err(format!("removing cgroup {}: {e}", d.display())),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_are_cores_times_the_period() {
        assert_eq!(quota_us(0.5), 50_000);
        assert_eq!(quota_us(2.0), 200_000);
        assert_eq!(quota_us(0.001), 1_000, "the kernel refuses quotas under 1 ms");
    }

    #[test]
    fn pinning_rounds_up_within_the_machine() {
        assert_eq!(pinned_cores(0.5, 8), "0");
        assert_eq!(pinned_cores(1.5, 8), "0-1");
        assert_eq!(pinned_cores(16.0, 2), "0-1");
    }
}

//! What `rudder up` created, on disk as `<state root>/<topology>/state.json` (state root:
//! `$RUDDER_STATE_DIR`, else `/run/rudder`), so `rudder down` can remove it all even after `up` or
//! the machine's processes crashed. Every resource is recorded *before* it is created, and
//! `down` tolerates resources that never came to exist, so no crash window leaks anything.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::process::ProcessRecord;

/// The default state root.
pub const DEFAULT_ROOT: &str = "/run/rudder";

/// The state root: `explicit`, else `$RUDDER_STATE_DIR`, else `/run/rudder`.
pub fn state_root(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("RUDDER_STATE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
}

/// The Open vSwitch a topology's bridges are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OvsRecord {
    /// `unix:/path/db.sock`.
    pub db: String,
    /// The private instance's directory; `None` for an external OVS (its bridges are deleted one
    /// by one; a private OVS is stopped whole).
    pub private_dir: Option<PathBuf>,
}

/// A qdisc on an interface (`namespace` `None`: the switch namespace or, with an external OVS,
/// the machine's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QdiscRecord {
    pub namespace: Option<String>,
    pub interface: String,
}

/// Everything one topology's `rudder up` created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabState {
    pub topology: String,
    /// The topology file it was built from.
    pub file: PathBuf,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    /// Set once `up` finished every step.
    pub complete: bool,
    pub ovs: Option<OvsRecord>,
    /// The REST API of the controller `up` started, if it started one.
    pub api: Option<SocketAddr>,
    /// Namespaces, in creation order (the switch namespace first).
    pub namespaces: Vec<String>,
    pub bridges: Vec<String>,
    /// Interfaces in the machine's own namespace (host access; switch ports with an external OVS).
    pub root_interfaces: Vec<String>,
    pub qdiscs: Vec<QdiscRecord>,
    pub cgroups: Vec<PathBuf>,
    /// In start order; `down` stops them in reverse.
    pub processes: Vec<ProcessRecord>,
}

/// A topology's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
}

impl StateDir {
    pub fn new(root: &Path, topology: &str) -> StateDir {
        StateDir { dir: root.join(topology) }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// A log file in the state directory, e.g. `controller.log`.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    pub fn exists(&self) -> bool {
        self.file().is_file()
    }

    /// The recorded state; `Ok(None)` when nothing is recorded.
    pub fn load(&self) -> io::Result<Option<LabState>> {
        match std::fs::read_to_string(self.file()) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is corrupt: {e}", self.file().display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `state` atomically (a temporary file renamed over the old one), so a crash mid-write
    /// leaves the previous record.
    pub fn save(&self, state: &LabState) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join("state.json.tmp");
        let text = serde_json::to_string_pretty(state).map_err(io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.file())
    }

    /// Removes the directory and everything in it (logs, the private OVS's files).
    pub fn remove(&self) -> io::Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The topologies with a state directory under `root`.
pub fn recorded_topologies(root: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    match std::fs::read_dir(root) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry?;
                if entry.path().join("state.json").is_file() {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("rudder-state-test-{tag}-{}", std::process::id()))
    }

    #[test]
    fn state_round_trips_and_is_listed() {
        let root = temp_root("rt");
        let dir = StateDir::new(&root, "demo");
        assert_eq!(dir.load().unwrap(), None, "nothing recorded yet");
        let state = LabState {
            topology: "demo".into(),
            namespaces: vec!["rudder-demo-ovs".into(), "rudder-demo-h1".into()],
            processes: vec![ProcessRecord { role: "node".into(), name: "n1".into(), pid: 42, start_time: 7 }],
            qdiscs: vec![QdiscRecord { namespace: None, interface: "n1".into() }],
            ..LabState::default()
        };
        dir.save(&state).unwrap();
        assert_eq!(dir.load().unwrap(), Some(state));
        assert_eq!(recorded_topologies(&root).unwrap(), vec!["demo".to_string()]);
        dir.remove().unwrap();
        dir.remove().unwrap();
        assert!(recorded_topologies(&root).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_corrupt_record_is_an_error_naming_the_file() {
        let root = temp_root("corrupt");
        let dir = StateDir::new(&root, "bad");
        std::fs::create_dir_all(&dir.dir).unwrap();
        std::fs::write(dir.file(), "{not json").unwrap();
        let err = dir.load().unwrap_err().to_string();
        assert!(err.contains("state.json is corrupt"), "{err}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_root_comes_from_the_flag_first() {
        assert_eq!(state_root(Some(Path::new("/x"))), PathBuf::from("/x"));
    }
}

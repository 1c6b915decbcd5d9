//! Open vSwitch for a topology: a private ovsdb-server + userspace ovs-vswitchd started from the
//! topology's state directory (never the system's OVS), or an external database given with
//! `--ovs-db`. Every `ovs-vsctl` gets an explicit `--db`, and commands for a private instance get
//! its own `OVS_RUNDIR`/`OVS_DBDIR`/`OVS_LOGDIR`/`OVS_SYSCONFDIR`, so nothing reaches
//! `/var/run/openvswitch`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::command::{CommandError, run};

/// The database schema the Debian package installs.
pub const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// Tools a private instance needs.
pub const TOOLS: [&str; 4] = ["ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl"];

/// How to reach one OVS database.
#[derive(Debug, Clone)]
pub struct OvsDb {
    /// `unix:/path/db.sock`.
    pub target: String,
    /// The private instance's directory, if private.
    dir: Option<PathBuf>,
}

impl OvsDb {
    /// The private instance living in `dir`.
    pub fn private(dir: &Path) -> OvsDb {
        OvsDb { target: format!("unix:{}", dir.join("db.sock").display()), dir: Some(dir.to_path_buf()) }
    }

    /// An OVS someone else runs, e.g. `unix:/var/run/openvswitch/db.sock`.
    pub fn external(target: &str) -> OvsDb {
        OvsDb { target: target.to_string(), dir: None }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        if let Some(dir) = &self.dir {
            for var in ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"] {
                cmd.env(var, dir);
            }
        }
        cmd
    }

    /// `ovs-vsctl --db=<target> --timeout=10 ARGS`.
    pub fn vsctl(&self, args: &[&str]) -> Result<String, CommandError> {
        let db = format!("--db={}", self.target);
        run(self.command("ovs-vsctl").arg(db).arg("--timeout=10").args(args))
    }

    /// A userspace bridge speaking OpenFlow 1.3 only, fail mode secure (no flows of its own, so
    /// the controller decides everything), connected to `controller` (`tcp:IP:PORT` or `unix:PATH`).
    pub fn add_bridge(&self, name: &str, dpid: u64, controller: &str) -> Result<(), CommandError> {
        let dpid = format!("other-config:datapath-id={dpid:016x}");
        self.vsctl(&[
            "--may-exist",
            "add-br",
            name,
            "--",
            "set",
            "bridge",
            name,
            "datapath_type=netdev",
            "protocols=OpenFlow13",
            &dpid,
            "fail-mode=secure",
            "--",
            "set-controller",
            name,
            controller,
        ])?;
        // Reconnect within a second when the controller restarts; no in-band rules.
        self.vsctl(&["set", "controller", name, "max_backoff=1000", "connection-mode=out-of-band"]).map(drop)
    }

    /// Adds interface `port` (already existing) to `bridge` as OpenFlow port `ofport`.
    pub fn add_port(&self, bridge: &str, port: &str, ofport: u16) -> Result<(), CommandError> {
        let request = format!("ofport_request={ofport}");
        self.vsctl(&["--may-exist", "add-port", bridge, port, "--", "set", "interface", port, &request])
            .map(drop)
    }

    pub fn del_bridge(&self, name: &str) -> Result<(), CommandError> {
        self.vsctl(&["--if-exists", "del-br", name]).map(drop)
    }

    /// Whether `bridge` reports its controller connection up.
    pub fn controller_connected(&self, bridge: &str) -> bool {
        self.vsctl(&["--if-exists", "get", "controller", bridge, "is_connected"])
            .is_ok_and(|s| s.trim() == "true")
    }
}

/// A private instance's files.
pub fn pid_file(dir: &Path, daemon: &str) -> PathBuf {
    dir.join(format!("{daemon}.pid"))
}

pub fn log_file(dir: &Path, daemon: &str) -> PathBuf {
    dir.join(format!("{daemon}.log"))
}

/// The PID a detached daemon wrote.
pub fn read_pid(dir: &Path, daemon: &str) -> Option<u32> {
    std::fs::read_to_string(pid_file(dir, daemon)).ok()?.trim().parse().ok()
}

/// Creates the database in `dir` and starts ovsdb-server (in the machine's namespace: only its
/// Unix socket matters) and ovs-vswitchd inside `namespace` (its `ovs-netdev` tap and every port
/// live there). Both detach and write PID files in `dir`.
pub fn start_private(dir: &Path, namespace: &str) -> Result<OvsDb, CommandError> {
    let db = OvsDb::private(dir);
    let path = |name: &str| dir.join(name).display().to_string();
    run(db.command("ovsdb-tool").args(["create", &path("conf.db"), SCHEMA]))?;
    run(db.command("ovsdb-server").args([
        path("conf.db"),
        format!("--remote=p{}", db.target),
        format!("--pidfile={}", pid_file(dir, "ovsdb-server").display()),
        format!("--log-file={}", log_file(dir, "ovsdb-server").display()),
        format!("--unixctl={}", path("ovsdb-server.ctl")),
        "--no-chdir".to_string(),
        "--detach".to_string(),
    ]))?;
    db.vsctl(&["--no-wait", "init"])?;
    db.vsctl(&["--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true"])?;
    run(db.command("ip").args(["netns", "exec", namespace, "ovs-vswitchd"]).args([
        db.target.clone(),
        format!("--pidfile={}", pid_file(dir, "ovs-vswitchd").display()),
        format!("--log-file={}", log_file(dir, "ovs-vswitchd").display()),
        format!("--unixctl={}", path("ovs-vswitchd.ctl")),
        "--no-chdir".to_string(),
        "--detach".to_string(),
    ]))?;
    Ok(db)
}

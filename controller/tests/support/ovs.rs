//! A private Open vSwitch for integration tests: its own ovsdb-server and userspace (`netdev`)
//! ovs-vswitchd, run from a fresh directory, stopped by PID and removed on drop. Never touches a
//! system-wide OVS: every command gets the private `OVS_RUNDIR`/`OVS_DBDIR`/`OVS_LOGDIR`/
//! `OVS_SYSCONFDIR` and an explicit `--db`.
//!
//! ovs-vswitchd runs in a network namespace of its own: the userspace datapath opens a tap named
//! `ovs-netdev`, one per namespace, so a second vswitchd in the same namespace (another test, or a
//! Mininet run on the system OVS) would fail with "Device or resource busy". Bridges, internal ports
//! and the switch side of veth ports live in that namespace. The controller still listens on
//! 127.0.0.1 in the test's namespace: bridges connect to a Unix socket in the instance's directory
//! (visible from every namespace) that forwards to `127.0.0.1:<controller_port>`. Tests may run in
//! parallel: names (namespaces, bridges, ports) come from [`unique_name`], at most 15 characters.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
const MISSING: &str = "install Open vSwitch: run `make deps`";

/// A short name unique to this process and call, e.g. `rt4242a3`: `prefix` (cut to 4 characters),
/// the low digits of the PID, a counter. At most 15 characters.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let prefix: String = prefix.chars().filter(char::is_ascii_alphanumeric).take(4).collect();
    format!("{prefix}{}{}", std::process::id() % 100_000, radix36(n)).chars().take(15).collect()
}

/// A datapath id unique to this process and call (PID in the upper bits, a counter in the low 16).
pub fn unique_dpid() -> u64 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    u64::from(std::process::id()) << 16 | u64::from(NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff)
}

fn radix36(mut n: u32) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A running private OVS. Dropping it stops both daemons and deletes its directory and veths.
pub struct OvsInstance {
    dir: PathBuf,
    /// The network namespace ovs-vswitchd runs in.
    netns: String,
    veths: std::sync::Mutex<Vec<String>>,
}

impl OvsInstance {
    /// Creates the database and starts ovsdb-server and ovs-vswitchd. Panics (with how to install
    /// OVS) if the binaries are missing, and with the daemon's log if one fails to start.
    pub fn start() -> OvsInstance {
        for tool in ["ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl"] {
            let found = std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .chain(["/usr/sbin".into(), "/usr/bin".into()])
                        .any(|d| d.join(tool).is_file())
                })
                .unwrap_or(false);
            assert!(found, "{tool} not found: {MISSING}");
        }
        assert!(Path::new(SCHEMA).is_file(), "{SCHEMA} not found: {MISSING}");
        let dir = std::env::temp_dir().join(unique_name("ovs"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the OVS run directory");
        let netns = unique_name("ons");
        let out = Command::new("ip").args(["netns", "add", &netns]).output().expect("run ip");
        assert!(out.status.success(), "ip netns add {netns}: {}", String::from_utf8_lossy(&out.stderr));
        let _ = Command::new("ip").args(["-n", &netns, "link", "set", "lo", "up"]).output();
        let ovs = OvsInstance { dir, netns, veths: Default::default() };
        ovs.run_ok("ovsdb-tool", &["create", &ovs.path("conf.db"), SCHEMA]);
        ovs.run_ok(
            "ovsdb-server",
            &[
                &ovs.path("conf.db"),
                &format!("--remote=punix:{}", ovs.db_sock()),
                &format!("--pidfile={}", ovs.path("ovsdb-server.pid")),
                &format!("--log-file={}", ovs.path("ovsdb-server.log")),
                &format!("--unixctl={}", ovs.path("ovsdb-server.ctl")),
                "--no-chdir",
                "--detach",
            ],
        );
        ovs.vsctl(&["--no-wait", "init"]);
        let netns = ovs.netns.clone();
        ovs.run_ok(
            "ip",
            &[
                "netns",
                "exec",
                &netns,
                "ovs-vswitchd",
                &format!("unix:{}", ovs.db_sock()),
                &format!("--pidfile={}", ovs.path("ovs-vswitchd.pid")),
                &format!("--log-file={}", ovs.path("ovs-vswitchd.log")),
                &format!("--unixctl={}", ovs.path("ovs-vswitchd.ctl")),
                "--no-chdir",
                "--detach",
            ],
        );
        ovs
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The network namespace the switch (and its ports) live in, for `ip netns exec`.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn db_sock(&self) -> String {
        self.path("db.sock")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        for var in ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"] {
            cmd.env(var, &self.dir);
        }
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {program}: {e} ({MISSING})"))
    }

    fn run_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        if !out.status.success() {
            let daemon = if program == "ip" { "ovs-vswitchd" } else { program };
            let log = std::fs::read_to_string(self.dir.join(format!("{daemon}.log"))).unwrap_or_default();
            panic!(
                "{program} {args:?} failed: {}\nstderr: {}\nlog: {log}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The connections the userspace datapath's tracker holds (`ovs-appctl dpctl/dump-conntrack`),
    /// one per line.
    pub fn dump_conntrack(&self) -> String {
        let ctl = self.path("ovs-vswitchd.ctl");
        self.run_ok("ovs-appctl", &["-t", ctl.as_str(), "dpctl/dump-conntrack"])
    }

    /// `ovs-vsctl --db=<private> ARGS`; panics with stderr on failure.
    pub fn vsctl(&self, args: &[&str]) -> String {
        let db = format!("--db=unix:{}", self.db_sock());
        let mut all = vec![db.as_str(), "--timeout=10"];
        all.extend_from_slice(args);
        self.run_ok("ovs-vsctl", &all)
    }

    /// `ovs-ofctl -O OpenFlow13 COMMAND BRIDGE ARGS...` against this instance's bridge socket.
    pub fn ofctl(&self, command: &str, bridge: &str, args: &[&str]) -> String {
        self.try_ofctl(command, bridge, args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`ofctl`](Self::ofctl) but returns the error text instead of panicking.
    pub fn try_ofctl(&self, command: &str, bridge: &str, args: &[&str]) -> Result<String, String> {
        let target = format!("unix:{}", self.path(&format!("{bridge}.mgmt")));
        let mut all = vec!["-O", "OpenFlow13", command, target.as_str()];
        all.extend_from_slice(args);
        let out = self.run("ovs-ofctl", &all);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("ovs-ofctl {all:?} failed: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// `dump-flows` without the counters that change (duration, n_packets, n_bytes) and the header,
    /// one flow per line, sorted.
    pub fn dump_flows(&self, bridge: &str) -> Vec<String> {
        let text = self.ofctl("dump-flows", bridge, &["--no-stats"]);
        let mut flows: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("OFPST_FLOW"))
            .map(String::from)
            .collect();
        flows.sort();
        flows
    }

    /// A userspace bridge speaking OpenFlow 1.3 only, with datapath id `dpid`, connected to the
    /// controller at `controller` (`unix:PATH`: ovs-vswitchd runs in a namespace of its own, which
    /// does not reach the machine's loopback), fail mode secure (no flows of its own).
    pub fn add_bridge(&self, name: &str, dpid: u64, controller: &str) {
        assert!(name.len() <= 15, "bridge name {name:?} is longer than 15 characters");
        let dpid = format!("other-config:datapath-id={dpid:016x}");
        let controller = self.reachable(controller);
        self.vsctl(&[
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
            &controller,
        ]);
        // Reconnect quickly if the controller restarts; no in-band rules.
        self.vsctl(&["set", "controller", name, "max_backoff=1000", "connection-mode=out-of-band"]);
    }

    /// `target` as this OVS accepts it: Open vSwitch connects only to Unix sockets in its run
    /// directory, so a socket elsewhere is reached through a symbolic link placed there.
    fn reachable(&self, target: &str) -> String {
        let Some(path) = target.strip_prefix("unix:").map(Path::new) else { return target.to_string() };
        if path.starts_with(&self.dir) {
            return target.to_string();
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let link = self.dir.join(format!("controller-{name}"));
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(path, &link)
                .unwrap_or_else(|e| panic!("link {} to {}: {e}", link.display(), path.display()));
        }
        format!("unix:{}", link.display())
    }

    /// An internal port (a tap device in the userspace datapath) with OpenFlow port number `ofport`.
    pub fn add_internal_port(&self, bridge: &str, name: &str, ofport: u16) {
        assert!(name.len() <= 15, "port name {name:?} is longer than 15 characters");
        let request = format!("ofport_request={ofport}");
        self.vsctl(&["add-port", bridge, name, "--", "set", "interface", name, "type=internal", &request]);
    }

    /// A veth pair `name`/`peer`; `name` moves into the switch's namespace and joins the bridge as
    /// OpenFlow port `ofport`, `peer` stays in the caller's namespace (move it into a host namespace
    /// with `ip link set PEER netns NS`). Both are deleted on drop.
    pub fn add_veth_port(&self, bridge: &str, name: &str, peer: &str, ofport: u16) {
        assert!(name.len() <= 15 && peer.len() <= 15, "interface names must be at most 15 characters");
        let out = Command::new("ip")
            .args(["link", "add", name, "type", "veth", "peer", "name", peer])
            .output()
            .expect("run ip");
        assert!(out.status.success(), "ip link add {name}: {}", String::from_utf8_lossy(&out.stderr));
        self.veths.lock().unwrap_or_else(|p| p.into_inner()).push(peer.to_string());
        let out =
            Command::new("ip").args(["link", "set", name, "netns", &self.netns]).output().expect("run ip");
        assert!(out.status.success(), "ip link set {name} netns: {}", String::from_utf8_lossy(&out.stderr));
        let _ = Command::new("ip").args(["-n", &self.netns, "link", "set", name, "up"]).output();
        let _ = Command::new("ip").args(["link", "set", peer, "up"]).output();
        let request = format!("ofport_request={ofport}");
        self.vsctl(&["add-port", bridge, name, "--", "set", "interface", name, &request]);
    }

    /// Waits until `bridge` reports its controller connected; false on timeout.
    pub fn wait_connected(&self, bridge: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let state = self.vsctl(&["--if-exists", "get", "controller", bridge, "is_connected"]);
            if state.trim() == "true" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The last `lines` lines of ovs-vswitchd's log, for failure messages.
    pub fn vswitchd_log(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("ovs-vswitchd.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn pid(&self, daemon: &str) -> Option<u32> {
        std::fs::read_to_string(self.dir.join(format!("{daemon}.pid"))).ok()?.trim().parse().ok()
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn stop(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).output();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).output();
    }
}

impl Drop for OvsInstance {
    fn drop(&mut self) {
        // Deleting the bridges lets vswitchd remove its tap devices itself.
        let db = format!("--db=unix:{}", self.db_sock());
        if let Ok(out) = self.command("ovs-vsctl").args([db.as_str(), "--timeout=5", "list-br"]).output() {
            for br in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.command("ovs-vsctl").args([db.as_str(), "--timeout=5", "del-br", br]).output();
            }
        }
        // vswitchd first: it is the database's client.
        for daemon in ["ovs-vswitchd", "ovsdb-server"] {
            if let Some(pid) = self.pid(daemon) {
                stop(pid);
            }
        }
        // Deleting the namespace destroys the taps and veth ends inside it.
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).output();
        for veth in self.veths.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            if Path::new("/sys/class/net").join(&veth).exists() {
                let _ = Command::new("ip").args(["link", "del", &veth]).output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

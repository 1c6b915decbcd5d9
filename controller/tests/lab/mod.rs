//! Helpers for the `rudder up`/`down` integration tests: a unique test topology written to a
//! temporary directory, the `rudder` binary run as a user would, and checks of what is left on the
//! machine. Each test uses its own topology name, subnet, ports and state directory, so tests run
//! in parallel with each other and with the other OVS tests.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The repository's `models/` directory.
pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// Panics with what to do unless this test can build topologies.
pub fn require_root_and_ovs() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    assert!(root, "the lab tests build network namespaces: run them as root");
    for tool in ["ovs-vsctl", "ovs-vswitchd", "ovsdb-server", "ip", "curl", "ping"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output();
        assert!(found.is_ok_and(|o| o.status.success()), "{tool} not found: run `make deps`");
    }
}

/// A free TCP port on loopback (released before use; the kernel does not hand it out again soon).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// One test's topology: its name, subnet, ports and state directory.
pub struct Lab {
    pub name: String,
    /// First three octets of the /24.
    pub net: [u8; 3],
    pub openflow: SocketAddr,
    pub api: SocketAddr,
    pub dir: PathBuf,
    pub file: PathBuf,
}

impl Lab {
    /// A fresh name (`lt<pid><n>`, at most 8 characters) and subnet, and `body` (the hosts, pools
    /// and host access of the topology, with `{net}` standing for the subnet's first three octets)
    /// written under a temporary directory with a `[controller]` running `apps`.
    pub fn new(apps: &[&str], body: &str) -> Lab {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("lt{}{}", pid % 100_000, char::from(b'a' + (n % 26) as u8));
        let net = [10, 200 + (pid % 50) as u8, ((pid / 50 + n) % 250 + 1) as u8];
        let dir = std::env::temp_dir().join(format!("rudder-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let openflow = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let prefix = format!("{}.{}.{}", net[0], net[1], net[2]);
        let apps: Vec<String> = apps.iter().map(|a| format!("{a:?}")).collect();
        let text = format!(
            "name = \"{name}\"\nsubnet = \"{prefix}.0/24\"\n[controller]\napps = [{}]\nopenflow = \"{openflow}\"\n\
             api = \"{api}\"\n[[switches]]\nname = \"s1\"\n{}",
            apps.join(", "),
            body.replace("{net}", &prefix)
        );
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).expect("write the topology");
        Lab { name, net, openflow, api, dir, file }
    }

    pub fn ip(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.net[0], self.net[1], self.net[2], last)
    }

    pub fn state_root(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// `rudder ARGS` with this lab's state directory.
    pub fn rudder(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_rudder"))
            .args(args)
            .env("RUDDER_STATE_DIR", self.state_root())
            .output()
            .expect("run rudder");
        eprintln!(
            "$ rudder {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `rudder up FILE --models ... EXTRA`; panics with its output unless it succeeds. Returns
    /// stdout then stderr (warnings).
    pub fn up(&self, extra: &[&str]) -> String {
        let file = self.file.display().to_string();
        let models = models_dir().display().to_string();
        let mut args = vec!["up", file.as_str(), "--models", models.as_str(), "--timeout", "45"];
        args.extend_from_slice(extra);
        let out = self.rudder(&args);
        assert!(out.status.success(), "rudder up failed:\n{}", String::from_utf8_lossy(&out.stderr));
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }

    /// Waits until the load balancer reports every backend of every pool healthy: `rudder up`
    /// returns once the nodes answer `/health`, which can be before the first probe has closed a
    /// breaker on a loaded machine.
    pub fn wait_lb_healthy(&self, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        let mut last = String::from("no answer");
        while std::time::Instant::now() < deadline {
            if let Ok((200, body)) = http_get(self.api, "/lb/stats") {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                    let (healthy, total) = rudder_controller::demo::count_healthy(&v);
                    if total > 0 && healthy == total {
                        return;
                    }
                }
                last = body;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!("the load balancer did not report every backend healthy within {timeout:?}: {last}");
    }

    pub fn down(&self) -> String {
        let out = self.rudder(&["down", &self.name]);
        assert!(out.status.success(), "rudder down failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn namespace(&self, host: &str) -> String {
        format!("rudder-{}-{host}", self.name)
    }

    /// The recorded state, parsed.
    pub fn state(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.state_root().join(&self.name).join("state.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// PIDs of the recorded processes with `role`.
    pub fn pids(&self, role: &str) -> Vec<u32> {
        let Some(state) = self.state() else { return Vec::new() };
        state["processes"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["role"] == role)
                    .filter_map(|p| p["pid"].as_u64().map(|pid| pid as u32))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs `program args` inside host `host`'s namespace.
    pub fn exec(&self, host: &str, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.namespace(host), program])
            .args(args)
            .output()
            .expect("run ip netns exec")
    }

    /// Namespaces of this lab that exist.
    pub fn namespaces_left(&self) -> Vec<String> {
        let prefix = format!("rudder-{}-", self.name);
        std::fs::read_dir("/run/netns")
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts nothing of this lab is left: namespaces, the host-access interface, the recorded
    /// processes (`pids`, taken while it was up) and the state directory.
    pub fn assert_nothing_left(&self, pids: &[u32]) {
        assert_eq!(self.namespaces_left(), Vec::<String>::new(), "namespaces left behind");
        let access = format!("rudder-{}", self.name);
        assert!(!Path::new("/sys/class/net").join(&access).exists(), "interface {access} left behind");
        for pid in pids {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let alive = !stat.is_empty() && !stat.contains(") Z ");
            assert!(!alive, "process {pid} left running: {stat}");
        }
        assert!(!self.state_root().join(&self.name).exists(), "state directory left behind");
    }

    /// All recorded PIDs.
    pub fn all_pids(&self) -> Vec<u32> {
        ["controller", "node", "relay", "ovs-vswitchd", "ovsdb-server"]
            .iter()
            .flat_map(|r| self.pids(r))
            .collect()
    }
}

impl Drop for Lab {
    /// A failed test still removes its topology.
    fn drop(&mut self) {
        if self.state_root().join(&self.name).exists() {
            let _ = self.rudder(&["down", &self.name]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET http://addr/path` from this (the machine's) namespace: status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let code = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((code, body))
}

//! Shared by the dashboard tests: a real `rudder-node` process on a loopback address, found the way the
//! project's tools find it (env `RUDDER_NODE_BIN`, then next to the test binary's target dir, then
//! `PATH`), and the paths of the repository's models and samples.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (`controller/..`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("controller/ has a parent").to_path_buf()
}

pub fn samples_dir() -> PathBuf {
    repo_root().join("models/samples")
}

/// The target directory this test binary was built into (`<target>/debug/deps/<test>` → `<target>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors().nth(3).expect("test binary lives in <target>/<profile>/deps").to_path_buf()
}

/// The `rudder-node` binary: `$RUDDER_NODE_BIN`, `<target>/<profile>/rudder-node`, or `PATH`.
pub fn node_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("RUDDER_NODE_BIN") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "RUDDER_NODE_BIN={} is not a file", path.display());
        return path;
    }
    let exe = std::env::current_exe().expect("current_exe");
    if let Some(profile_dir) = exe.ancestors().nth(2) {
        let beside = profile_dir.join("rudder-node");
        if beside.is_file() {
            return beside;
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("rudder-node");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no rudder-node binary: build it with `cargo build -p rudder-node` (into the same target dir) \
         or set RUDDER_NODE_BIN"
    );
}

/// A free TCP port on `ip` (bound and released: good enough for a test that binds it right after).
pub fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind(SocketAddr::new(ip, 0)).expect("bind an ephemeral port").local_addr().unwrap().port()
}

/// A running inference node; killed (by its own PID) when dropped.
pub struct Node {
    pub addr: SocketAddr,
    pub node_id: String,
    child: Child,
}

impl Node {
    /// Starts `rudder-node serve` on `ip` with `models/<model>` and waits until `/health` is 200.
    pub async fn start(ip: IpAddr, model: &str, node_id: &str) -> Node {
        let addr = SocketAddr::new(ip, free_port(ip));
        let log = std::fs::File::create(target_dir().join(format!("{node_id}.log"))).expect("node log file");
        let child = Command::new(node_binary())
            .args(["serve", "--listen", &addr.to_string(), "--node-id", node_id, "--workers", "1"])
            .arg("--model-dir")
            .arg(repo_root().join("models").join(model))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn rudder-node");
        let mut node = Node { addr, node_id: node_id.to_string(), child };
        node.wait_healthy(Duration::from_secs(90)).await;
        node
    }

    async fn wait_healthy(&mut self, within: Duration) {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!("http://{}/health", self.addr);
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "rudder-node exited with {status}; see {}",
                    target_dir().join(&self.node_id).display()
                );
            }
            if let Ok(r) = client.get(&url).timeout(Duration::from_secs(2)).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "rudder-node at {} not healthy within {within:?}", self.addr);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

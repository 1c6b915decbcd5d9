//! Shared helpers for the integration tests: locating the real models, and running the
//! `rudder-node` binary on a free loopback port.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rudder_node::http_client::{self, HttpResponse};

/// `models/` at the repository root. Panics (fails the test) when the models are missing: CI
/// runs `make model` first, and a missing model must not look like a pass.
pub fn models_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    for needed in
        ["v1/model.json", "v1/model.onnx", "v2/model.onnx", "labels/imagenet1k.json", "samples/expected.json"]
    {
        assert!(dir.join(needed).is_file(), "models/{needed} is missing: run `make model` first");
    }
    dir
}

pub fn sample(name: &str) -> Vec<u8> {
    let path = models_dir().join("samples").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A `rudder-node serve` child process, killed when dropped.
pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
    logs: mpsc::Receiver<String>,
}

impl Node {
    /// Starts the binary with `args` (after `serve --listen 127.0.0.1:0`) and waits until it
    /// reports its address. Does not wait for the model.
    pub fn spawn(args: &[&str]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rudder-node"))
            .args(["serve", "--listen", "127.0.0.1:0", "--node-id", "test-node"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn rudder-node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // From here on `Drop` kills and reaps the child, even if the test panics.
        let mut node = Node { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), logs };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = node.logs.recv_timeout(remaining).expect("node did not log its listen address");
            let json: serde_json::Value = serde_json::from_str(&line).expect("logs are JSON lines");
            if let Some(addr) = json["fields"]["listen"].as_str() {
                node.addr = addr.parse().expect("listen address");
                return node;
            }
        }
    }

    /// Starts the binary and waits until `/health` says ready.
    pub async fn ready(args: &[&str]) -> Node {
        let node = Node::spawn(args);
        node.wait_ready().await;
        node
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        while Instant::now() < deadline {
            if let Ok(r) = self.get("/health").await
                && r.status == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("node did not become ready");
    }

    pub async fn get(&self, path: &str) -> std::io::Result<HttpResponse> {
        http_client::request(self.addr, "GET", path, &[], &[]).await
    }

    pub async fn post_image(&self, path: &str, content_type: &str, body: &[u8]) -> HttpResponse {
        http_client::request(self.addr, "POST", path, &[("content-type", content_type)], body)
            .await
            .expect("POST")
    }

    /// Log lines printed so far.
    pub fn drain_logs(&self) -> Vec<String> {
        self.logs.try_iter().collect()
    }

    /// Resident set size of the node process, in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Sends a signal to the node (our own child) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// `(label, confidence)` pairs of a `/predict` response.
pub fn labels_of(json: &serde_json::Value) -> Vec<(String, f64)> {
    json["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|p| {
            (p["label"].as_str().expect("label").to_owned(), p["confidence"].as_f64().expect("confidence"))
        })
        .collect()
}

/// Checks a response against `models/samples/expected.json` (labels in order, ±0.01).
pub fn assert_matches_reference(sample_name: &str, json: &serde_json::Value) {
    let expected_text =
        std::fs::read_to_string(models_dir().join("samples/expected.json")).expect("expected.json");
    let expected: serde_json::Value = serde_json::from_str(&expected_text).expect("expected json");
    let want = expected[sample_name].as_array().expect("sample in expected.json");
    let got = labels_of(json);
    assert!(got.len() >= want.len(), "{got:?}");
    for (i, w) in want.iter().enumerate() {
        let (label, conf) = (w[0].as_str().expect("label"), w[1].as_f64().expect("conf"));
        assert_eq!(got[i].0, label, "{sample_name} rank {i}: {got:?}");
        assert!((got[i].1 - conf).abs() <= 0.01, "{sample_name} {label}: got {}, want {conf}", got[i].1);
    }
}

//! `rudder experiment` end to end: two algorithms, a few seconds each, on a private copy of the
//! default topology (its own name, subnet and ports, so it cannot collide with other tests), with
//! node n2 killed mid-run. Checks the report a researcher would read.

use std::path::{Path, PathBuf};
use std::process::Command;

const RUDDER: &str = env!("CARGO_BIN_EXE_rudder");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The default topology renamed `exp-e2e`, in 10.77.0.0/24, on ports 16653/18080.
fn private_topology(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("topologies/default.toml")).unwrap();
    let text = text
        .replace("name = \"default\"", "name = \"exp-e2e\"")
        .replace("10.0.0.", "10.77.0.")
        .replace("127.0.0.1:6653", "127.0.0.1:16653")
        .replace("127.0.0.1:8080", "127.0.0.1:18080");
    assert!(text.contains("exp-e2e") && text.contains("16653") && text.contains("18080"));
    let file = dir.join("exp-e2e.toml");
    std::fs::write(&file, format!("{text}\n[[scenario]]\nat = \"3s\"\naction = \"kill\"\nhost = \"n2\"\n"))
        .unwrap();
    file
}

/// Needs root and Open vSwitch (as every lab test), a `rudder-node` binary and the models; about
/// 90 s (two 15 s runs, the nodes' model loading, up and down).
#[test]
fn two_algorithms_with_a_kill_step_produce_a_sane_report() {
    let dir = std::env::temp_dir().join(format!("rudder-exp-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let topology = private_topology(&dir);
    let out = dir.join("results");
    let status = Command::new(RUDDER)
        .arg("experiment")
        .arg(&topology)
        .args(["--algorithms", "round_robin,least_connections", "--duration", "15s", "--rate", "6"])
        .args(["--repeat", "1", "--seed", "3", "--timeout", "5s"])
        .arg("--out")
        .arg(&out)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--models")
        .arg(repo().join("models"))
        .status()
        .expect("running rudder experiment");
    assert!(status.success(), "rudder experiment failed");

    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for algorithm in ["round_robin", "least_connections"] {
        assert!(
            report.contains(&format!("| {algorithm} |")),
            "{algorithm} missing from the report:\n{report}"
        );
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("runs/{algorithm}-r1/summary.json"))).unwrap(),
        )
        .unwrap();
        let s = &summary["summary"];
        assert!(s["ok"].as_u64().unwrap() > 20, "{algorithm}: too few successes: {s}");
        let shares: f64 = s["nodes"].as_array().unwrap().iter().map(|n| n["share"].as_f64().unwrap()).sum();
        assert!((shares - 1.0).abs() < 1e-9, "{algorithm}: shares sum to {shares}");
        let latency = &s["latency_ms"];
        assert!(
            latency["p50"].as_f64().unwrap() > 0.0
                && latency["max"].as_f64().unwrap() >= latency["p99"].as_f64().unwrap()
        );
        let step = &summary["steps"][0];
        assert_eq!(step["step"], "3s:kill:n2");
        assert!(step["error"].is_null(), "kill step failed: {step}");
        assert!(
            step["reaction_s"].as_f64().is_some(),
            "{algorithm}: the balancer never noticed n2 died: {step}"
        );
        assert_eq!(summary["flows_to_dead"]["n2"], 0, "{algorithm}: flows sent to n2 while it was dead");
    }
    // Per-request CSV: n2 serves nothing that started after the kill.
    let csv = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "algorithm,repetition,client,start_s,latency_ms,status,error,node,label,url"
    );
    for line in lines {
        let f = rudder_controller::experiment::record::split_csv_line(line).unwrap();
        let start: f64 = f[3].parse().unwrap();
        if start > 3.5 {
            assert_ne!(f[7], "n2", "n2 served a request after it was killed: {line}");
        }
    }
    for file in [
        "latency_cdf.png",
        "latency_cdf.svg",
        "backend_shares.png",
        "latency_over_time.svg",
        "topology.toml",
        "experiment.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    // The topology was brought up by the experiment, so it is down again.
    assert!(!dir.join("state/exp-e2e/state.json").exists(), "the experiment left the topology up");
    let _ = std::fs::remove_dir_all(&dir);
}

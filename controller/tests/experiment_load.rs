//! `rudder load` as a user runs it (the real binary), against servers on loopback: local axum
//! servers that count the TCP connections they accept, and a real `rudder-node` serving the model.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::routing::get;
use rudder_controller::experiment::record::{RequestRecord, read_csv};
use rudder_controller::experiment::workload::{LoadReport, SplitMix64};

const RUDDER: &str = env!("CARGO_BIN_EXE_rudder");

/// A `/health`-like server naming itself `node_id`, recording every peer address (one per TCP
/// connection, since each connection has its own source port).
async fn counting_server(node_id: &'static str) -> (SocketAddr, Arc<Mutex<HashSet<SocketAddr>>>) {
    let peers = Arc::new(Mutex::new(HashSet::new()));
    let seen = peers.clone();
    let app = axum::Router::new().route(
        "/health",
        get(move |ConnectInfo(peer): ConnectInfo<SocketAddr>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().insert(peer);
                axum::Json(serde_json::json!({"status": "ok", "node_id": node_id}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    (addr, peers)
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rudder-exp-load-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `rudder load ARGS --csv <dir>/out.csv --json` in a blocking thread; returns the parsed
/// summary and the CSV (header line and records).
async fn rudder_load(dir: &Path, args: Vec<String>) -> (LoadReport, String, Vec<RequestRecord>) {
    let csv = dir.join("out.csv");
    let csv_arg = csv.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(RUDDER)
            .arg("load")
            .args(&args)
            .arg("--csv")
            .arg(&csv_arg)
            .arg("--json")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "rudder load failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: LoadReport = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    let text = std::fs::read_to_string(&csv).unwrap();
    let header = text.lines().next().unwrap_or_default().to_string();
    let records = read_csv(text.as_bytes()).unwrap();
    (report, header, records)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connection_mode_opens_one_connection_per_request_and_shares_sum_to_one() {
    let (a, peers_a) = counting_server("alpha").await;
    let (b, peers_b) = counting_server("beta").await;
    let dir = temp_dir("newconn");
    let args = vec![
        "--url".into(),
        format!("http://{a}/health"),
        "--url".into(),
        format!("http://{b}/health"),
        "--method".into(),
        "get".into(),
        "--requests".into(),
        "40".into(),
        "--concurrency".into(),
        "4".into(),
    ];
    let (report, header, records) = rudder_load(&dir, args).await;
    assert_eq!(header, "start_s,latency_ms,status,error,node,label,url");
    assert_eq!(records.len(), 40);
    assert!(records.iter().all(|r| r.ok() && r.status == Some(200) && r.latency_ms > 0.0), "{records:?}");
    assert!(records.windows(2).all(|w| w[0].start_s <= w[1].start_s), "rows in start order");
    let s = &report.summary;
    assert_eq!((s.requests, s.ok), (40, 40));
    let shares: BTreeMap<&str, f64> = s.nodes.iter().map(|n| (n.node.as_str(), n.share)).collect();
    assert_eq!(shares.len(), 2);
    assert!((shares.values().sum::<f64>() - 1.0).abs() < 1e-9);
    // Requests rotate over the two URLs: exactly half each, a perfectly fair split.
    assert_eq!((shares["alpha"], shares["beta"]), (0.5, 0.5));
    assert!((s.jain_index.unwrap() - 1.0).abs() < 1e-9);
    let connections = peers_a.lock().unwrap().len() + peers_b.lock().unwrap().len();
    assert_eq!(connections, 40, "a new TCP connection (new flow) for every request");

    // Keep-alive: 4 clients reuse their connections.
    let (c, peers_c) = counting_server("gamma").await;
    let args = strings(&["--method", "get", "--requests", "40", "--concurrency", "4", "--keep-alive"]);
    let mut args = args;
    args.extend(["--url".to_string(), format!("http://{c}/health")]);
    let (report, _, _) = rudder_load(&dir, args).await;
    assert_eq!(report.summary.ok, 40);
    let reused = peers_c.lock().unwrap().len();
    assert!(reused <= 4, "keep-alive opened {reused} connections for 40 requests");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_follows_the_seeded_poisson_schedule_and_records_errors() {
    let (a, _) = counting_server("alpha").await;
    let dir = temp_dir("open");
    let args = vec![
        "--url".into(),
        format!("http://{a}/health"),
        "--method".into(),
        "get".into(),
        "--rate".into(),
        "60".into(),
        "--duration".into(),
        "1500ms".into(),
        "--seed".into(),
        "9".into(),
    ];
    let started = Instant::now();
    let (report, _, records) = rudder_load(&dir, args).await;
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by --duration");
    // The arrivals are a function of the seed: count those before 1.5 s.
    let mut rng = SplitMix64::new(9);
    let (mut t, mut expected) = (0.0, 0);
    loop {
        t += rng.exponential(60.0);
        if t >= 1.5 {
            break;
        }
        expected += 1;
    }
    assert_eq!(records.len(), expected);
    assert_eq!(report.summary.ok as usize, expected);
    assert!(records.iter().all(|r| r.start_s < 1.6 && r.node.as_deref() == Some("alpha")));

    // A closed port: every request is a connect error, the run still ends and reports it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let args = vec![
        "--url".into(),
        format!("http://127.0.0.1:{port}/health"),
        "--method".into(),
        "get".into(),
        "--requests".into(),
        "5".into(),
    ];
    let (report, _, records) = rudder_load(&dir, args).await;
    assert_eq!(report.summary.ok, 0);
    assert_eq!(report.summary.errors.get("connect"), Some(&5));
    assert!(records.iter().all(|r| r.error.as_deref() == Some("connect") && r.status.is_none()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_fail_with_the_flag_named() {
    let out = Command::new(RUDDER).args(["load", "--url", "http://127.0.0.1:9/predict"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--images"));
    let out = Command::new(RUDDER)
        .args(["load", "--url", "http://127.0.0.1:9/", "--images", "/nonexistent-dir/x.png"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-dir/x.png"));
}

/// The `rudder-node` binary: $RUDDER_NODE_BIN, next to this test's target directory, then PATH.
fn node_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("RUDDER_NODE_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/<test> -> target/debug/rudder-node
    if let Some(beside) = exe.parent().and_then(Path::parent).map(|d| d.join("rudder-node"))
        && beside.is_file()
    {
        return beside;
    }
    if let Some(found) = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("rudder-node")).find(|p| p.is_file()))
    {
        return found;
    }
    panic!("no rudder-node binary: build it with `cargo build -p rudder-node` or set RUDDER_NODE_BIN");
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classifies_real_images_against_a_real_node() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let _node = Node(
        Command::new(node_binary())
            .args(["serve", "--listen", &addr, "--node-id", "exp-node"])
            .arg("--model-dir")
            .arg(models.join("v1"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting rudder-node"),
    );
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ok =
            client.get(format!("http://{addr}/health")).send().await.is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "rudder-node did not become ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dir = temp_dir("node");
    let samples = models.join("samples");
    let args = vec![
        "--url".into(),
        format!("http://{addr}/predict"),
        "--images".into(),
        samples.join("chelsea.png").display().to_string(),
        samples.join("coffee.png").display().to_string(),
        "--requests".into(),
        "12".into(),
        "--concurrency".into(),
        "2".into(),
        "--timeout".into(),
        "30s".into(),
    ];
    let (report, _, records) = rudder_load(&dir, args).await;
    assert_eq!(report.summary.ok, 12, "{records:?}");
    let expected = ["tiger cat", "Egyptian cat", "tabby", "espresso", "cup"];
    for r in &records {
        assert_eq!(r.node.as_deref(), Some("exp-node"));
        let label = r.label.as_deref().unwrap_or_default();
        assert!(expected.contains(&label), "unexpected top-1 label {label:?}");
    }
    let labels: HashSet<&str> = records.iter().filter_map(|r| r.label.as_deref()).collect();
    assert!(labels.contains("espresso") && labels.len() >= 2, "both images were sent: {labels:?}");
    let l = report.summary.latency_ms.unwrap();
    assert!(l.p50 > 0.0 && l.p50 <= l.p95 && l.p95 <= l.max);
    let _ = std::fs::remove_dir_all(&dir);
}

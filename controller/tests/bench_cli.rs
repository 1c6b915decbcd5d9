//! `rudder bench` end to end: the built binary benchmarks a spawned `rudder serve --app l2switch` on
//! free loopback ports, in both modes, and its JSON summary must describe real traffic.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const RUDDER: &str = env!("CARGO_BIN_EXE_rudder");

/// A `rudder serve` child, killed (by its own handle) when dropped.
struct Serve {
    child: Child,
    of_addr: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve_l2switch() -> Serve {
    let of_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let api_addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(RUDDER)
        .args(["serve", "--app", "l2switch", "--port-stats-interval", "0"])
        .args(["--listen", &of_addr.to_string(), "--api-listen", &api_addr])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn rudder serve");
    let serve = Serve { child, of_addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(of_addr).is_err() {
        assert!(Instant::now() < deadline, "rudder serve did not listen on {of_addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    serve
}

fn bench(of_addr: SocketAddr, extra: &[&str]) -> Output {
    Command::new(RUDDER)
        .args(["bench", "--controller", &of_addr.to_string()])
        .args([
            "--switches",
            "1",
            "--macs",
            "10",
            "--loops",
            "2",
            "--ms-per-test",
            "200",
            "--warmup",
            "0",
            "--json",
        ])
        .args(extra)
        .output()
        .expect("run rudder bench")
}

fn summary_of(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rudder bench failed: {stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    // The human-readable report goes to stderr when --json is given.
    assert!(stderr.contains("1 switches: flows/sec:"), "per-loop lines missing: {stderr}");
    assert!(
        stderr.contains("RESULT: 1 switches 2 tests min/max/avg/stdev = "),
        "RESULT line missing: {stderr}"
    );
    summary
}

fn assert_common(s: &Value, of_addr: SocketAddr, mode: &str) {
    assert_eq!(s["controller"], of_addr.to_string());
    assert_eq!(s["mode"], mode);
    assert_eq!(s["switches"], 1);
    assert_eq!(s["macs"], 10);
    assert_eq!(s["loops"], 2);
    let per_loop = s["loop_responses_per_sec"].as_array().expect("per-loop rates");
    assert_eq!(per_loop.len(), 2);
    assert!(per_loop.iter().all(|r| r.as_f64().unwrap() > 0.0), "every loop got responses: {per_loop:?}");
    let rates = &s["responses_per_sec"];
    let (min, max, avg) =
        (rates["min"].as_f64().unwrap(), rates["max"].as_f64().unwrap(), rates["avg"].as_f64().unwrap());
    assert!(min > 0.0 && min <= avg && avg <= max, "min/avg/max out of order: {rates}");
    assert!(rates["stdev"].as_f64().unwrap() >= 0.0);
    // All MACs were learned first, so l2switch answers every packet with a flow and a packet-out.
    let flow_mods = s["flow_mods"].as_u64().unwrap();
    let packet_outs = s["packet_outs"].as_u64().unwrap();
    assert!(flow_mods > 0 && packet_outs > 0, "flow_mods {flow_mods}, packet_outs {packet_outs}");
    assert!(flow_mods.abs_diff(packet_outs) <= 2, "one flow per packet-out: {flow_mods} vs {packet_outs}");
    assert_eq!(s["learn_lost"], 0, "every learning broadcast was flooded");
    assert_eq!(s["errors"], 0);
}

#[test]
fn throughput_mode_counts_flow_mods_and_packet_outs() {
    let serve = serve_l2switch();
    let out = bench(serve.of_addr, &["--mode", "throughput", "--window", "100"]);
    let s = summary_of(&out);
    assert_common(&s, serve.of_addr, "throughput");
    assert_eq!(s["window"], 100);
    assert!(s["latency"].is_null(), "no latency figures in throughput mode");
    assert!(s["cpu"]["bench_percent"].as_f64().is_some());
}

#[test]
fn latency_mode_reports_percentiles() {
    let serve = serve_l2switch();
    let pid = serve.child.id().to_string();
    let out = bench(serve.of_addr, &["--mode", "latency", "--controller-pid", &pid]);
    let s = summary_of(&out);
    assert_common(&s, serve.of_addr, "latency");
    assert_eq!(s["window"], 1);
    let l = &s["latency"];
    let samples = l["samples"].as_u64().expect("latency samples");
    assert!(samples > 0);
    // One packet in flight: every PACKET_OUT answers one timed PACKET_IN.
    assert!(s["packet_outs"].as_u64().unwrap().abs_diff(samples) <= 2, "{s}");
    let p = |k: &str| l[k].as_f64().unwrap();
    assert!(p("min_us") > 0.0);
    assert!(p("min_us") <= p("p50_us") && p("p50_us") <= p("p90_us"), "{l}");
    assert!(p("p90_us") <= p("p99_us") && p("p99_us") <= p("max_us"), "{l}");
    assert!(s["cpu"]["controller_percent"].as_f64().unwrap() > 0.0, "controller CPU measured: {s}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LATENCY: "), "{stderr}");
}

#[test]
fn unreachable_controller_is_a_clear_error() {
    let port = free_port(); // bound then released: nothing listens there
    let out = Command::new(RUDDER)
        .args(["bench", "--controller", &format!("127.0.0.1:{port}"), "--switches", "1", "--loops", "1"])
        .output()
        .expect("run rudder bench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("handshake") && stderr.contains("switch 0"), "error names what failed: {stderr}");
}

//! End to end in Open vSwitch (userspace datapath) and network namespaces: three real `rudder-node`
//! processes serving the real model behind a VIP, clients in their own namespaces, the controller
//! running `l2switch` + `lb`. Every request through the VIP succeeds and names its node;
//! classification is right; round robin, weighted round robin, consistent hashing and least
//! connections split flows as promised; switching the algorithm under load fails no request.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use reqwest::Method;
use rudder_controller::apps::lb::config::LbConfig;
use serde_json::json;
use support::lb::{LbLab, Load, assert_all_ok, by_node, classify_chelsea};

fn pools(p: [u8; 3]) -> LbConfig {
    let text = format!(
        r#"
        probe_interval_ms = 200
        probe_timeout_ms = 500
        [[pools]]
        name = "v1"
        vip = "{a}.{b}.{c}.100"
        backends = [{{ ip = "{a}.{b}.{c}.11" }}, {{ ip = "{a}.{b}.{c}.12" }}, {{ ip = "{a}.{b}.{c}.13" }}]
        [[pools]]
        name = "lc"
        vip = "{a}.{b}.{c}.101"
        algorithm = "least_connections"
        backends = [{{ ip = "{a}.{b}.{c}.11" }}, {{ ip = "{a}.{b}.{c}.12" }}, {{ ip = "{a}.{b}.{c}.13" }}]
        "#,
        a = p[0],
        b = p[1],
        c = p[2]
    );
    toml::from_str(&text).expect("valid [lb]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_through_the_vip_are_steered_by_each_algorithm() {
    let lab = LbLab::start(3, 2, pools).await;
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    lab.wait_healthy("lc", Duration::from_secs(10)).await;
    let vip = lab.ip(100);

    // Classification through the VIP: right answer, and each of the three nodes serves one.
    let nodes = classify_chelsea(&lab, "c1", vip).await;
    assert_eq!(nodes, ["n1", "n2", "n3"].map(String::from).into(), "round robin over three nodes");

    // Round robin: 30 new flows from two clients at once, within 1 per backend.
    let fifteen = Load::get("/health", 15, 2);
    let (a, b) = tokio::join!(lab.load("c1", vip, 8000, &fifteen), lab.load("c2", vip, 8000, &fifteen));
    let all: Vec<_> = a.into_iter().chain(b).collect();
    assert_all_ok(&all, "round robin");
    let counts = by_node(&all);
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|&n| (9..=11).contains(&n)), "round robin split {counts:?}");

    // What /lb/stats and /metrics say about it.
    let backends = lab.backends("v1").await;
    let total: u64 = backends.iter().map(|b| b["total_flows"].as_u64().unwrap_or(0)).sum();
    assert_eq!(total, 33, "{backends:#?}");
    for b in &backends {
        assert_eq!(b["health"], "healthy");
        assert_eq!(b["last_probe"], "ok");
        assert!(
            b["mac"].as_str().is_some_and(|m| m.starts_with("02:00:00:00:00:")),
            "MAC learned by ARP: {b}"
        );
        assert!(b["node_id"].as_str().is_some_and(|n| n.starts_with('n')), "{b}");
        assert!((b["share"].as_f64().unwrap_or(0.0) - 1.0 / 3.0).abs() < 0.02, "{b}");
        assert!(b["probe_latency_ms"].as_f64().is_some(), "{b}");
        let series =
            format!("rudder_lb_flows_total{{backend=\"{}\",pool=\"v1\"}}", b["ip"].as_str().unwrap_or(""));
        assert_eq!(lab.metric(&series).await, b["total_flows"].as_f64().unwrap_or(-1.0), "{series}");
    }
    assert!(lab.metric("rudder_lb_arp_replies_total{pool=\"v1\"}").await >= 2.0);
    // Every flow's SYN came up; the userspace datapath may also send up a few packets that raced
    // the new rules into its flow cache (they are forwarded with the flow's backend): 2-3.5 per flow
    // measured on a loaded machine. Were the rules never used, all six or so client packets of each
    // connection would come up.
    let packet_ins = lab.metric("rudder_lb_packet_ins_total{pool=\"v1\"}").await;
    assert!((33.0..=5.0 * 33.0).contains(&packet_ins), "{packet_ins} packet-ins for 33 flows");

    // Weighted round robin 1:2:3 over 600 flows, weights set over REST.
    for (last, weight) in [(11u8, 1u16), (12, 2), (13, 3)] {
        let path = format!("/lb/pools/v1/backends/{}", lab.ip(last));
        let (status, body) = lab.send(Method::PATCH, &path, json!({ "weight": weight })).await;
        assert_eq!(status, 200, "{body}");
    }
    lab.set_algorithm("v1", "weighted_round_robin").await;
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 600, 4)).await;
    assert_all_ok(&samples, "weighted round robin");
    let counts = by_node(&samples);
    for (node, weight) in [("n1", 1.0), ("n2", 2.0), ("n3", 3.0)] {
        let share = counts.get(node).copied().unwrap_or(0) as f64 / 600.0;
        let want = weight / 6.0;
        assert!((share - want).abs() <= 0.05 * want, "{node}: share {share:.3}, want {want:.3} ({counts:?})");
    }

    // Consistent hashing keeps each client on one backend.
    lab.set_algorithm("v1", "consistent_hash").await;
    for client in ["c1", "c2"] {
        let samples = lab.load(client, vip, 8000, &Load::get("/health", 20, 2)).await;
        assert_all_ok(&samples, "consistent hash");
        assert_eq!(by_node(&samples).len(), 1, "{client} moved between backends: {:?}", by_node(&samples));
    }

    // Traffic per backend from the periodic flow stats (every 2 s) and FLOW_REMOVED.
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    loop {
        let backends = lab.backends("v1").await;
        if backends
            .iter()
            .all(|b| b["bytes"].as_u64().unwrap_or(0) > 0 && b["packets"].as_u64().unwrap_or(0) > 0)
        {
            let series = format!("rudder_lb_bytes_total{{backend=\"{}\",pool=\"v1\"}}", lab.ip(11));
            assert!(lab.metric(&series).await > 0.0, "{series}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no traffic counted: {backends:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    least_connections_prefers_idle_backends(&lab).await;
    switching_algorithms_under_load_fails_nothing(&lab, vip).await;
}

/// Pool `lc` (least connections): with n2 and n3 drained, four held connections all land on n1; once
/// they are back, the next eight flows go to the idle n2 and n3 only.
async fn least_connections_prefers_idle_backends(lab: &LbLab) {
    let vip = lab.ip(101);
    for last in [12u8, 13] {
        let path = format!("/lb/pools/lc/backends/{}", lab.ip(last));
        let (status, body) = lab.send(Method::PATCH, &path, json!({ "draining": true })).await;
        assert_eq!(status, 200, "{body}");
    }
    let held = hold_connections(lab, "c2", vip, 4).await;
    let backends = lab.backends("lc").await;
    assert_eq!(backends[0]["active_flows"], 4, "held connections on n1: {backends:#?}");
    for last in [12u8, 13] {
        let path = format!("/lb/pools/lc/backends/{}", lab.ip(last));
        let (status, body) = lab.send(Method::PATCH, &path, json!({ "draining": false })).await;
        assert_eq!(status, 200, "{body}");
    }
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 8, 1)).await;
    assert_all_ok(&samples, "least connections");
    let counts = by_node(&samples);
    assert_eq!(counts.get("n1"), None, "busy n1 got new flows: {counts:?}");
    assert_eq!((counts.get("n2"), counts.get("n3")), (Some(&4), Some(&4)), "{counts:?}");
    drop(held);
}

/// Opens `n` TCP connections from `client` to `vip:8000` and keeps them open until dropped.
async fn hold_connections(lab: &LbLab, client: &str, vip: Ipv4Addr, n: usize) -> tokio::process::Child {
    use tokio::io::AsyncBufReadExt;
    let script = format!(
        "import socket, sys, time\nsocks = [socket.create_connection(('{vip}', 8000), timeout=5) for _ in range({n})]\nprint('ready', flush=True)\ntime.sleep(60)\n"
    );
    let mut child = tokio::process::Command::new("ip")
        .args(["netns", "exec", &lab.host(client).netns, "python3", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the holder");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    assert!(matches!(line, Ok(Ok(Some(ref l))) if l == "ready"), "holder did not connect: {line:?}");
    // Give the controller a moment to count them (the rules are in before the SYN-ACK anyway).
    tokio::time::sleep(Duration::from_millis(100)).await;
    child
}

/// Two clients keep sending new flows while the algorithm changes four times: no request fails.
async fn switching_algorithms_under_load_fails_nothing(lab: &LbLab, vip: Ipv4Addr) {
    let load = Load { duration: Some(Duration::from_secs(4)), ..Load::get("/health", 0, 2) };
    let switcher = async {
        for algorithm in ["round_robin", "least_connections", "power_of_two_choices", "weighted_round_robin"]
        {
            tokio::time::sleep(Duration::from_millis(700)).await;
            lab.set_algorithm("v1", algorithm).await;
        }
    };
    let (a, b, ()) =
        tokio::join!(lab.load("c1", vip, 8000, &load), lab.load("c2", vip, 8000, &load), switcher);
    let all: Vec<_> = a.into_iter().chain(b).collect();
    assert!(all.len() > 50, "only {} requests in 4 s", all.len());
    assert_all_ok(&all, "algorithm switch under load");
    let counts: BTreeMap<String, usize> = by_node(&all);
    assert_eq!(counts.len(), 3, "every node served during the switch: {counts:?}");
}

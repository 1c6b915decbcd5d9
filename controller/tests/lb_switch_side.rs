//! The switch-side modes end to end: with `select_group` (an OpenFlow SELECT group) and `wildcard`
//! (proactive rules on client-address bits) the switch, not the controller, spreads new flows over
//! the three nodes by weight, so the controller's new-flow PACKET_IN counter stays flat while hundreds
//! of flows go through; a weight change over REST re-weights the group's buckets.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use rudder_controller::apps::lb::config::LbConfig;
use serde_json::json;
use support::lb::{LbLab, Load, Sample, by_node};

/// Pool v1 over three nodes weighted 1:2:3, starting in `algorithm`.
fn pools(p: [u8; 3], algorithm: &str) -> LbConfig {
    let text = format!(
        r#"
        probe_interval_ms = 200
        transition_idle_s = 1
        transition_max_s = 10
        [[pools]]
        name = "v1"
        vip = "{a}.{b}.{c}.100"
        algorithm = "{algorithm}"
        backends = [{{ ip = "{a}.{b}.{c}.11", weight = 1 }}, {{ ip = "{a}.{b}.{c}.12", weight = 2 }}, {{ ip = "{a}.{b}.{c}.13", weight = 3 }}]
        "#,
        a = p[0],
        b = p[1],
        c = p[2]
    );
    toml::from_str(&text).expect("valid [lb]")
}

/// Asserts each node's share of `samples` is within `tolerance` of `weights` (n1, n2, n3).
fn assert_split(samples: &[Sample], weights: [f64; 3], tolerance: f64) {
    let failed = samples.iter().filter(|s| !s.ok).count();
    assert_eq!(failed, 0, "failed requests: {:?}", samples.iter().filter(|s| !s.ok).collect::<Vec<_>>());
    let counts = by_node(samples);
    let total: f64 = weights.iter().sum();
    for (node, w) in ["n1", "n2", "n3"].iter().zip(weights) {
        let share = counts.get(*node).copied().unwrap_or(0) as f64 / samples.len() as f64;
        assert!(
            (share - w / total).abs() <= tolerance,
            "{node}: share {share:.3}, want {:.3} ({counts:?})",
            w / total
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_group_spreads_by_weight_without_packet_ins() {
    let lab = LbLab::start(3, 1, |p| pools(p, "select_group")).await;
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    // The group's buckets need every backend's MAC and port (learned by ARP).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab.backends("v1").await.iter().all(|b| b["mac"].is_string()) {
        assert!(Instant::now() < deadline, "backends not located: {:#?}", lab.backends("v1").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A node that answered its first probes late came back into service through a transition.
    lab.wait_no_transition("v1", Duration::from_secs(20)).await;
    let vip = lab.ip(100);
    let packet_ins = "rudder_lb_packet_ins_total{pool=\"v1\"}";
    let before = lab.metric(packet_ins).await;

    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 600, 4)).await;
    // Open vSwitch hashes each flow's 5-tuple onto the weighted buckets: binomial noise, about 2%.
    assert_split(&samples, [1.0, 2.0, 3.0], 0.07);
    assert_eq!(lab.metric(packet_ins).await, before, "flows reached the controller in select_group mode");
    let groups = lab.ovs.ofctl("dump-groups", &lab.bridge, &[]);
    assert!(groups.contains("type=select"), "{groups}");

    // Re-weight 3:2:1 over REST: the buckets follow once the old ones have carried their last
    // connections.
    for (last, weight) in [(11u8, 3u16), (13, 1)] {
        let path = format!("/lb/pools/v1/backends/{}", lab.ip(last));
        let (status, body) = lab.send(Method::PATCH, &path, json!({ "weight": weight })).await;
        assert_eq!(status, 200, "{body}");
    }
    lab.wait_no_transition("v1", Duration::from_secs(20)).await;
    let before = lab.metric(packet_ins).await;
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 600, 4)).await;
    assert_split(&samples, [3.0, 2.0, 1.0], 0.07);
    assert_eq!(lab.metric(packet_ins).await, before);
    let groups = lab.ovs.ofctl("dump-groups", &lab.bridge, &[]);
    // Open vSwitch leaves out weight 1, its default.
    assert!(groups.contains("bucket=weight:3") && groups.matches("bucket=").count() == 3, "{groups}");

    // Wildcard: 16 client addresses, one per leaf of the 4-bit split of their low bits; the split
    // gives n1:n2:n3 3:5:8 leaves for weights 1:2:3 (largest remainder), so shares 3/16, 5/16, 8/16.
    for (last, weight) in [(11u8, 1u16), (13, 3)] {
        let path = format!("/lb/pools/v1/backends/{}", lab.ip(last));
        let (status, body) = lab.send(Method::PATCH, &path, json!({ "weight": weight })).await;
        assert_eq!(status, 200, "{body}");
    }
    let sources: Vec<_> = (32..48u8).map(|last| lab.ip(last)).collect();
    for &ip in &sources {
        lab.add_address("c1", ip);
    }
    lab.wait_no_transition("v1", Duration::from_secs(20)).await;
    lab.set_algorithm("v1", "wildcard").await;
    lab.wait_no_transition("v1", Duration::from_secs(20)).await;
    let before = lab.metric(packet_ins).await;
    let load = Load { sources, ..Load::get("/health", 320, 4) };
    let samples = lab.load("c1", vip, 8000, &load).await;
    assert_split(&samples, [3.0, 5.0, 8.0], 0.02);
    assert_eq!(lab.metric(packet_ins).await, before, "flows reached the controller in wildcard mode");
    let flows = lab.ovs.ofctl("dump-flows", &lab.bridge, &["--no-stats"]);
    assert!(
        flows.lines().filter(|l| l.contains("nw_src=") && l.contains("priority=20")).count() >= 3,
        "{flows}"
    );
    // Leaving select_group removed the rule that jumps into the groups, not the groups: a cached
    // datapath flow from before the switch that still jumps into one reaches a live backend.
    assert!(!flows.contains("group:"), "the group's forward rule left with the mode: {flows}");
    let groups = lab.ovs.ofctl("dump-groups", &lab.bridge, &[]);
    assert!(groups.contains("type=select"), "{groups}");

    // And back: the kept groups are modified in place, the prefix rules go, the split is by weight.
    lab.set_algorithm("v1", "select_group").await;
    lab.wait_no_transition("v1", Duration::from_secs(20)).await;
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 600, 4)).await;
    assert_split(&samples, [1.0, 2.0, 3.0], 0.07);
    assert_eq!(lab.metric(packet_ins).await, before, "flows reached the controller after switching back");
    let flows = lab.ovs.ofctl("dump-flows", &lab.bridge, &["--no-stats"]);
    assert!(!flows.lines().any(|l| l.contains("nw_src=") && l.contains("priority=20")), "{flows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_started_in_wildcard_mode_gets_rules_for_backends_located_later() {
    // The partition is planned before any backend's MAC is known; each backend's prefix rules must
    // follow once ARP locates it, although the partition itself does not change.
    let lab = LbLab::start(3, 1, |p| pools(p, "wildcard")).await;
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab.backends("v1").await.iter().all(|b| b["mac"].is_string()) {
        assert!(Instant::now() < deadline, "backends not located: {:#?}", lab.backends("v1").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lab.wait_no_transition("v1", Duration::from_secs(20)).await;
    let sources: Vec<_> = (32..48u8).map(|last| lab.ip(last)).collect();
    for &ip in &sources {
        lab.add_address("c1", ip);
    }
    let packet_ins = "rudder_lb_packet_ins_total{pool=\"v1\"}";
    let before = lab.metric(packet_ins).await;
    let load = Load { sources, ..Load::get("/health", 320, 4) };
    let samples = lab.load("c1", lab.ip(100), 8000, &load).await;
    assert_split(&samples, [3.0, 5.0, 8.0], 0.02);
    assert_eq!(lab.metric(packet_ins).await, before, "flows reached the controller in wildcard mode");
}

//! Conntrack steering end to end (`steering = "conntrack"`): the controller picks every new
//! connection's backend, and the switch's connection tracker (Open vSwitch's userspace datapath,
//! Nicira `ct`/`nat` actions) pins it there, with no per-flow rule. Three real `rudder-node`s behind
//! a VIP, clients in their own namespaces: requests succeed and classify right, round robin splits
//! evenly with one PACKET_IN per connection, connection ends are counted from the switch's FIN/RST
//! copies, a killed node is ejected and a restarted one returns, and a switch to a switch-side mode
//! takes new connections off the controller, and a client that vanishes stops counting once its
//! reply rules idle out.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rudder_controller::apps::lb::config::LbConfig;
use support::lb::{LbLab, Load, assert_all_ok, by_node, classify_chelsea, now_epoch};

const PROBE_MS: u64 = 200;
/// `conntrack_idle_s`: a client silent this long has its connections ended (600 s by default).
const CT_IDLE_S: u64 = 3;

fn pools(p: [u8; 3]) -> LbConfig {
    let text = format!(
        r#"
        probe_interval_ms = {PROBE_MS}
        probe_timeout_ms = 150
        conntrack_idle_s = {CT_IDLE_S}
        [[pools]]
        name = "ct"
        vip = "{a}.{b}.{c}.100"
        steering = "conntrack"
        breaker = {{ failure_threshold = 1, success_threshold = 1, cooldown_ms = 500 }}
        backends = [{{ ip = "{a}.{b}.{c}.11" }}, {{ ip = "{a}.{b}.{c}.12" }}, {{ ip = "{a}.{b}.{c}.13" }}]
        "#,
        a = p[0],
        b = p[1],
        c = p[2]
    );
    toml::from_str(&text).expect("valid [lb]")
}

/// Connections the pool counts as active, over all backends.
async fn active(lab: &LbLab) -> u64 {
    lab.backends("ct").await.iter().map(|b| b["active_flows"].as_u64().unwrap_or(0)).sum()
}

/// Sets a host's link up or down (inside its namespace), as unplugging it would.
fn set_link(lab: &LbLab, host: &str, state: &str) {
    let h = lab.host(host);
    let out = std::process::Command::new("ip")
        .args(["-n", &h.netns, "link", "set", "dev", &h.ifname, state])
        .output()
        .expect("run ip");
    assert!(out.status.success(), "ip link set {state}: {out:?}");
}

/// `conns` keep-alive connections from `client` to `vip`, a request on each every 200 ms for 4 s,
/// run in the background while the test changes something.
fn keep_alive(
    lab: &LbLab,
    client: &str,
    vip: std::net::Ipv4Addr,
    conns: usize,
) -> tokio::task::JoinHandle<Vec<support::lb::KeepaliveSample>> {
    let netns = lab.host(client).netns.clone();
    let every = Duration::from_millis(200);
    tokio::spawn(support::lb::keepalive_in(netns, vip, 8000, conns, every, Duration::from_secs(4), "/health"))
}

fn keep_alive_from_c2(
    lab: &LbLab,
    conns: usize,
) -> tokio::task::JoinHandle<Vec<support::lb::KeepaliveSample>> {
    keep_alive(lab, "c2", lab.ip(100), conns)
}

const PACKET_INS: &str = "rudder_lb_packet_ins_total{pool=\"ct\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_pinned_by_the_switchs_tracker() {
    let mut lab = LbLab::start(3, 2, pools).await;
    lab.wait_healthy("ct", Duration::from_secs(90)).await;
    let vip = lab.ip(100);

    // Classification through the VIP: right answer from each of the three nodes in turn.
    let nodes = classify_chelsea(&lab, "c1", vip).await;
    assert_eq!(nodes.len(), 3, "round robin over three nodes: {nodes:?}");

    // Round robin: 30 new connections from two clients at once, within 1 per backend, and one
    // PACKET_IN each (the SYN): the tracker carries the rest of every connection.
    let before = lab.metric(PACKET_INS).await;
    let fifteen = Load::get("/health", 15, 2);
    let (a, b) = tokio::join!(lab.load("c1", vip, 8000, &fifteen), lab.load("c2", vip, 8000, &fifteen));
    let all: Vec<_> = a.into_iter().chain(b).collect();
    assert_all_ok(&all, "round robin");
    let counts = by_node(&all);
    assert!(
        counts.len() == 3 && counts.values().all(|&n| (9..=11).contains(&n)),
        "round robin split {counts:?}"
    );
    let packet_ins = lab.metric(PACKET_INS).await - before;
    assert!((30.0..=33.0).contains(&packet_ins), "{packet_ins} packet-ins for 30 connections");

    // Accounting: every connection counted once, and none left active once they closed (the
    // switch copies each connection's FIN to the controller).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let backends = lab.backends("ct").await;
        let total: u64 = backends.iter().map(|b| b["total_flows"].as_u64().unwrap_or(0)).sum();
        let active: u64 = backends.iter().map(|b| b["active_flows"].as_u64().unwrap_or(0)).sum();
        let bytes = backends.iter().all(|b| b["bytes"].as_u64().unwrap_or(0) > 0);
        assert_eq!(total, 33, "{backends:#?}");
        if active == 0 && bytes {
            break;
        }
        assert!(Instant::now() < deadline, "connections still counted active, or no bytes: {backends:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let n1 = format!("rudder_lb_active_flows{{backend=\"{}\",pool=\"ct\"}}", lab.ip(11));
    assert_eq!(lab.metric(&n1).await, 0.0);

    // A backend that drops off the network (its link down, so nothing answers): once ejected, the
    // switch sends its connections' packets to the controller, which resets them, so a client
    // waiting on such a connection learns at once instead of at its timeout, and reconnects.
    let keepalive = keep_alive_from_c2(&lab, 3);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let down_at = now_epoch();
    set_link(&lab, "n3", "down");
    let samples = keepalive.await.expect("keep-alive task");
    let lost: Vec<_> = samples.iter().filter(|s| !s.ok).collect();
    assert!(!lost.is_empty(), "n3's connection was not cut: {samples:?}");
    for s in &lost {
        let err = s.err.as_deref().unwrap_or("");
        assert!(err.contains("reset"), "not a reset: {s:?}");
        assert!(s.t - down_at < 2.0, "reset only after {:.2} s: {s:?}", s.t - down_at);
    }
    // The switch's tracker no longer holds the reset connections as established (the controller
    // fed it a RST as from the client), so their source ports can be used again.
    let tracked = lab.ovs.dump_conntrack();
    for s in &lost {
        let port = s.port.expect("a failed request on an open connection has its port");
        let stale: Vec<_> = tracked
            .lines()
            .filter(|l| l.contains(&format!("sport={port},")) && l.contains("ESTABLISHED"))
            .collect();
        assert!(stale.is_empty(), "the tracker still holds the reset connection: {stale:?}");
    }
    let last: Vec<_> = samples.iter().filter(|s| s.t > down_at + 2.5).collect();
    assert!(last.len() >= 3 && last.iter().all(|s| s.ok && s.node.as_deref() != Some("n3")), "{last:?}");
    set_link(&lab, "n3", "up");
    lab.wait_healthy("ct", Duration::from_secs(30)).await;

    // Failover under steady load from c1: n2 dies 1.5 s in, is ejected within two probe intervals,
    // and only requests in flight around the kill may fail.
    let load = Load { duration: Some(Duration::from_secs(4)), ..Load::get("/health", 0, 2) };
    let load_task = tokio::spawn(support::lb::load_in(lab.host("c1").netns.clone(), vip, 8000, load));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = now_epoch();
    lab.kill_node("n2");
    let samples = load_task.await.expect("load task");
    let ejected_by = killed_at + 2.0 * PROBE_MS as f64 / 1000.0 + 0.1;
    let late: Vec<_> = samples.iter().filter(|s| !s.ok && s.t > ejected_by).collect();
    assert!(late.is_empty(), "requests failed after n2 was ejected: {late:?}");
    let after: Vec<_> = samples.iter().filter(|s| s.t > ejected_by).cloned().collect();
    assert!(after.len() > 20, "the load went on: {} requests", after.len());
    assert_eq!(by_node(&after).keys().cloned().collect::<Vec<_>>(), ["n1", "n3"].map(String::from));
    // Thousands of connections, client ports reused within the second: every one is counted as
    // ended at its FIN, also those whose port the tracker moved to translate them (their FIN
    // names the moved port). Checked before the client's reply rules could idle out.
    let loaded_until = Instant::now();
    while active(&lab).await != 0 {
        let waited = loaded_until.elapsed();
        assert!(waited < Duration::from_secs(2), "still counted active: {:#?}", lab.backends("ct").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Restarted, it is probed back in and gets new connections again.
    lab.restart_node("n2");
    lab.wait_healthy("ct", Duration::from_secs(60)).await;
    let samples = lab.load("c2", vip, 8000, &Load::get("/health", 30, 2)).await;
    assert_all_ok(&samples, "after the restart");
    assert!(by_node(&samples).get("n2").is_some_and(|&n| n >= 9), "n2 back in: {:?}", by_node(&samples));

    // A switch-side mode takes new connections off the controller.
    lab.set_algorithm("ct", "select_group").await;
    lab.wait_no_transition("ct", Duration::from_secs(30)).await;
    let before = lab.metric(PACKET_INS).await;
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 30, 2)).await;
    assert_all_ok(&samples, "select_group");
    assert_eq!(lab.metric(PACKET_INS).await - before, 0.0, "select_group sent connections to the controller");
    // Back to round robin while six keep-alive connections made under select_group run: each stays
    // on its node (their group rules retire), and new connections meanwhile are steered by the
    // controller and pinned by the tracker, whose mid-stream view of the old connections must not
    // pull them to the controller.
    let keepalive = keep_alive_from_c2(&lab, 6);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    lab.set_algorithm("ct", "round_robin").await;
    let before = lab.metric(PACKET_INS).await;
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 30, 2)).await;
    assert_all_ok(&samples, "round robin during the transition");
    assert!(
        lab.metric(PACKET_INS).await - before >= 30.0,
        "new connections were not steered by the controller"
    );
    let kept = keepalive.await.expect("keep-alive task");
    let failed: Vec<_> = kept.iter().filter(|s| !s.ok).collect();
    assert!(failed.is_empty(), "keep-alive requests failed across the switch: {failed:?}");
    for conn in 0..6 {
        let nodes: BTreeSet<_> =
            kept.iter().filter(|s| s.conn == conn).filter_map(|s| s.node.clone()).collect();
        assert_eq!(nodes.len(), 1, "connection {conn} moved: {nodes:?}");
    }
    lab.wait_no_transition("ct", Duration::from_secs(30)).await;
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 30, 2)).await;
    assert_all_ok(&samples, "round robin again");
    assert_eq!(by_node(&samples).len(), 3);

    // A client that vanishes with connections open (its link down: the switch never sees them
    // end) has them counted active until its reply rules idle out, then no longer; back, it is
    // served again (its rules go out again with its next connection).
    let keepalive = keep_alive_from_c2(&lab, 3);
    let deadline = Instant::now() + Duration::from_secs(3);
    while active(&lab).await != 3 {
        assert!(Instant::now() < deadline, "three keep-alive connections: {:#?}", lab.backends("ct").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    set_link(&lab, "c2", "down");
    let down_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(active(&lab).await, 3, "the connections ended before the client's rules idled out");
    while active(&lab).await != 0 {
        let waited = down_at.elapsed();
        assert!(waited < Duration::from_secs(CT_IDLE_S + 5), "still counted active after {waited:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    set_link(&lab, "c2", "up");
    keepalive.await.expect("keep-alive task");
    let samples = lab.load("c2", vip, 8000, &Load::get("/health", 9, 1)).await;
    assert_all_ok(&samples, "the client back");
    assert_eq!(by_node(&samples).len(), 3);

    // Two conntrack pools on the same backends share a client's reply-tracking rule (the same
    // match; the pool that sent it last owns it). Deleting that pool leaves the other's
    // connections from the client answered.
    let vip2 = lab.ip(101);
    let backends: Vec<_> = [11, 12, 13].map(|n| serde_json::json!({ "ip": lab.ip(n).to_string() })).into();
    let pool2 = serde_json::json!({ "name": "ct2", "vip": vip2.to_string(), "steering": "conntrack", "backends": backends });
    let (status, body) = lab.send(reqwest::Method::POST, "/lb/pools", pool2).await;
    assert_eq!(status, 201, "{body}");
    lab.wait_healthy("ct2", Duration::from_secs(30)).await;
    let refresh = Duration::from_millis(CT_IDLE_S * 1000 / 2 + 300);
    tokio::time::sleep(refresh).await;
    let on_ct2 = keep_alive(&lab, "c1", vip2, 3);
    tokio::time::sleep(refresh).await;
    // c1 through "ct" after its rules there are due: "ct" sends the shared rule last.
    assert_all_ok(&lab.load("c1", vip, 8000, &Load::get("/health", 3, 1)).await, "c1 through ct");
    let (status, body) = lab.send(reqwest::Method::DELETE, "/lb/pools/ct", serde_json::Value::Null).await;
    assert_eq!(status, 204, "{body}");
    let kept = on_ct2.await.expect("keep-alive task");
    let failed: Vec<_> = kept.iter().filter(|s| !s.ok).collect();
    assert!(failed.is_empty(), "ct2's connections broke when ct was deleted: {failed:?}");
}

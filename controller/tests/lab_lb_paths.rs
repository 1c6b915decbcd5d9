//! Load balancing across several switches (`rudder up` with `topology` + `lb`): three switches in a
//! triangle (a loop, so ARP floods must follow the topology app's spanning tree), a client on one
//! switch and a backend on each of the other two. Every request to the VIP is answered, both
//! backends serve, and the rules follow the paths: the client's switch rewrites towards the backend,
//! each backend's switch rewrites the answers back to the VIP, and no other switch rewrites. A second
//! pool, steered through the switches' connection trackers, serves across the same switches, and
//! only the client's switch passes replies through its tracker. When a link on a path goes down, new
//! flows of both pools take the path around it.

mod lab;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lab::{Lab, http_get, require_root_and_ovs};
use rudder_controller::apps::lb::rules::{LbCookie, RuleKind};
use serde_json::Value;

const TRIANGLE: &str = r#"
[[switches]]
name = "s2"
[[switches]]
name = "s3"

[[links]]
a = "s1"
b = "s2"
[[links]]
a = "s2"
b = "s3"
[[links]]
a = "s1"
b = "s3"

[[hosts]]
name = "c1"
role = "client"
switch = "s2"
ip = "{net}.1"

[[hosts]]
name = "c2"
role = "client"
switch = "s2"
ip = "{net}.2"

[[hosts]]
name = "n1"
role = "inference"
switch = "s3"
ip = "{net}.11"
model = "v1"

[[hosts]]
name = "n2"
role = "inference"
switch = "s1"
ip = "{net}.12"
model = "v1"

[[pools]]
name = "v1"
vip = "{net}.100"
ports = [8000]
algorithm = "round_robin"
backends = [{ host = "n1" }, { host = "n2" }]

[[pools]]
name = "ct"
vip = "{net}.101"
ports = [8000]
algorithm = "round_robin"
steering = "conntrack"
backends = [{ host = "n1" }, { host = "n2" }]

[host_access]
switch = "s1"
ip = "{net}.254"
"#;

fn get_json(lab: &Lab, path: &str) -> Value {
    let (status, body) = http_get(lab.api, path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
}

/// Waits until the topology app has discovered `want` directed links.
fn wait_links(lab: &Lab, want: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut seen = Value::Null;
    while Instant::now() < deadline {
        seen = get_json(lab, "/v1.0/topology/links");
        if seen.as_array().is_some_and(|l| l.len() == want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("expected {want} directed links, the topology app sees {seen:#}");
}

/// Every load-balancer rule (Ryu's flow stats entries), per switch.
fn lb_rules_per_switch(lab: &Lab) -> BTreeMap<u64, Vec<Value>> {
    let dpids = get_json(lab, "/stats/switches");
    let mut out = BTreeMap::new();
    for dpid in dpids.as_array().expect("a list of dpids").iter().filter_map(Value::as_u64) {
        let flows = get_json(lab, &format!("/stats/flow/{dpid}"));
        let rules = flows[dpid.to_string()]
            .as_array()
            .expect("flows of the switch")
            .iter()
            .filter(|f| f["cookie"].as_u64().is_some_and(|c| LbCookie::decode(c).is_some()))
            .cloned()
            .collect();
        out.insert(dpid, rules);
    }
    out
}

/// The actions (Ryu's strings) of every load-balancer rule, per switch.
fn lb_actions_per_switch(lab: &Lab) -> BTreeMap<u64, Vec<String>> {
    lb_rules_per_switch(lab)
        .into_iter()
        .map(|(dpid, rules)| {
            let actions = rules
                .iter()
                .flat_map(|f| f["actions"].as_array().cloned().unwrap_or_default())
                .filter_map(|a| a.as_str().map(String::from))
                .collect();
            (dpid, actions)
        })
        .collect()
}

/// The actions of the conntrack pool's per-backend forwarding rules on switch `dpid`.
fn ct_forwarding(lab: &Lab, dpid: u64) -> Vec<Value> {
    let mut rules = lb_rules_per_switch(lab).remove(&dpid).unwrap_or_default();
    rules.retain(|f| {
        f["cookie"].as_u64().and_then(LbCookie::decode).is_some_and(|c| c.kind == RuleKind::CtForward)
    });
    rules.into_iter().map(|f| f["actions"].clone()).collect()
}

/// Sends `n` requests from `client` to `url`, one connection each: the nodes that served them.
fn served_by(lab: &Lab, client: &str, url: &str, n: usize) -> BTreeMap<String, usize> {
    let mut served: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..n {
        let out = lab.exec(client, "curl", &["-s", "-m", "10", url]);
        let body: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "request {i} to {url} failed ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let node = body["node_id"].as_str().unwrap_or_else(|| panic!("no node_id in {body}"));
        *served.entry(node.to_string()).or_default() += 1;
    }
    served
}

/// `requests` new connections from `client` to `url`, four at a time, by `rudder load`: its summary.
fn load_from(lab: &Lab, client: &str, url: &str, requests: u32) -> Value {
    let requests = requests.to_string();
    let out = lab.exec(
        client,
        env!("CARGO_BIN_EXE_rudder"),
        &["load", "--url", url, "--method", "get", "--requests", &requests, "--concurrency", "4", "--json"],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("rudder load ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    report["summary"].clone()
}

#[test]
fn flows_to_the_vip_are_steered_along_paths_across_switches() {
    require_root_and_ovs();
    let lab = Lab::new(&["topology", "lb"], TRIANGLE);
    lab.up(&[]);
    lab.wait_lb_healthy(Duration::from_secs(90));
    wait_links(&lab, 6, Duration::from_secs(30));

    // Six new flows from the client, each its own TCP connection: round robin over n1 (on s3) and n2
    // (on s1), each one link from the client's switch, every request answered through the VIP.
    let vip = lab.ip(100);
    let url = format!("http://{vip}:8000/health");
    let served = served_by(&lab, "c1", &url, 6);
    assert_eq!(served, BTreeMap::from([("n1".into(), 3), ("n2".into(), 3)]), "round robin across switches");

    // No first packet is lost on a path: the SYN leaves only when every switch of the path has
    // confirmed its rules, so the backend's SYN-ACK never meets its switch without the reverse rewrite
    // (before, 1-2 % of connections across a tree waited for the client's SYN retransmission, 1 s).
    let summary = load_from(&lab, "c1", &url, 300);
    assert_eq!(summary["ok"], 300, "{summary}");
    let slowest = summary["latency_ms"]["max"].as_f64().unwrap_or(f64::MAX);
    assert!(slowest < 900.0, "a connection waited {slowest:.0} ms: its SYN was lost on the path ({summary})");

    // Where the rules are: the rewrite to a backend only on the client's switch, the rewrite back to
    // the VIP only on the backends' switches, one per backend.
    let rules = lb_actions_per_switch(&lab);
    assert_eq!(rules.len(), 3, "three switches: {rules:#?}");
    let rewrites_to = |dpid: &u64, ip: String| {
        rules[dpid].iter().any(|a| a.starts_with("SET_FIELD") && a.contains(&format!("ipv4_dst:{ip}}}")))
    };
    let rewrites_back = |dpid: &u64| {
        rules[dpid].iter().any(|a| a.starts_with("SET_FIELD") && a.contains(&format!("ipv4_src:{vip}}}")))
    };
    let ingress: Vec<_> = rules
        .keys()
        .filter(|d| rewrites_to(d, lab.ip(11).to_string()) && rewrites_to(d, lab.ip(12).to_string()))
        .collect();
    assert_eq!(ingress.len(), 1, "one switch (the client's) rewrites towards both backends: {rules:#?}");
    let egress: Vec<_> = rules.keys().filter(|d| rewrites_back(d)).collect();
    assert_eq!(egress.len(), 2, "each backend's switch rewrites answers to the VIP: {rules:#?}");
    assert!(!egress.contains(&ingress[0]), "the client's switch holds no reverse rewrite: {rules:#?}");

    // The conntrack pool across the same switches, from c2 (also on s2): the client's switch commits
    // each connection in its tracker, which translates the answers back on their return; every
    // request is answered. (Not from c1: a client using two VIPs whose pools share backends reuses
    // its ports across them, and a backend whose side of the old connection is in TIME_WAIT answers
    // the new SYN with the old connection's ACK; see docs/load-balancing.md.)
    let ct_url = format!("http://{}:8000/health", lab.ip(101));
    let served = served_by(&lab, "c2", &ct_url, 6);
    assert_eq!(served, BTreeMap::from([("n1".into(), 3), ("n2".into(), 3)]), "conntrack across switches");
    let summary = load_from(&lab, "c2", &ct_url, 300);
    assert_eq!(summary["ok"], 300, "{summary}");
    // Replies pass a tracker only on the client's switch (its per-client rules): the other
    // switches track only what is sent to the VIP, which is one rule for its one port.
    let tracking: BTreeMap<u64, usize> = lb_rules_per_switch(&lab)
        .into_iter()
        .map(|(dpid, rules)| {
            let n = rules
                .iter()
                .filter_map(|f| LbCookie::decode(f["cookie"].as_u64()?))
                .filter(|c| c.kind == RuleKind::CtTrack)
                .count();
            (dpid, n)
        })
        .collect();
    let expected: BTreeMap<u64, usize> =
        tracking.keys().map(|&d| (d, if d == *ingress[0] { 2 } else { 1 })).collect();
    assert_eq!(tracking, expected, "tracking rules per switch (the client's is {})", ingress[0]);

    // Cut the client's direct link to n1's switch: once the topology app has seen the ports go
    // down, new flows to n1 take the two-link path through s1, and every request is still answered.
    let client_switch = *ingress[0];
    let ct_forwarding_before = ct_forwarding(&lab, client_switch);
    assert_eq!(ct_forwarding_before.len(), 2, "one forwarding rule per backend on the client's switch");
    let ovs_ns = format!("rudder-{}-ovs", lab.name);
    for port in ["s2-s3", "s3-s2"] {
        let out = std::process::Command::new("ip")
            .args(["-n", &ovs_ns, "link", "set", port, "down"])
            .output()
            .expect("run ip");
        assert!(out.status.success(), "ip link set {port} down: {}", String::from_utf8_lossy(&out.stderr));
    }
    wait_links(&lab, 4, Duration::from_secs(30));
    let served = served_by(&lab, "c1", &url, 4);
    assert_eq!(served, BTreeMap::from([("n1".into(), 2), ("n2".into(), 2)]), "n1 reached around the cut");
    // The conntrack pool's forwarding rules name an out port per backend: the balancer recomputes
    // them on its next tick (500 ms) after the topology's links changed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ct_forwarding(&lab, client_switch) == ct_forwarding_before {
        assert!(
            Instant::now() < deadline,
            "the conntrack forwarding rules of the client's switch still name the cut link: {ct_forwarding_before:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let served = served_by(&lab, "c2", &ct_url, 4);
    assert_eq!(served, BTreeMap::from([("n1".into(), 2), ("n2".into(), 2)]), "conntrack around the cut");

    let pids = lab.all_pids();
    lab.down();
    lab.assert_nothing_left(&pids);
}

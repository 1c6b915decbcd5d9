//! Load-balancer speed figures (issue 5, "Speed"), printed rather than asserted: machine load decides
//! them. Ignored by default; run with
//!
//! ```sh
//! cargo build --release -p rudder-node
//! cargo test --release -p rudder-controller --test lb_speed -- --ignored --nocapture
//! ```
//!
//! In one lab (three nodes, three clients, all in namespaces on one userspace OVS bridge) it
//! measures the TCP connect time (the first packet's round trip) direct and through the VIP with
//! reactive steering, a select group and wildcard rules, and with reactive steering pinned by the
//! switch's connection tracker (a second pool, `steering = "conntrack"`, from its own client); then
//! requests/s of new-connection `GET /health` on the same paths, and direct to all nodes and to one.
//! `RUDDER_LB_SPEED_CONNS` sets the connections per client process (three processes; default 2).
//! `RUDDER_LB_STATS_INTERVAL_MS` sets the balancer's flow-stats poll (default 2000; 0 = off); `RUDDER_LB_SPEED_PHASES=select_group,wildcard,...` measures only
//! the request rates of those algorithms, in turn (`RUDDER_LB_SPEED_SETTLE_S=6` first lets the
//! warm-up's per-flow rules idle out). Failed requests are printed with their reason.

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use rudder_controller::apps::lb::config::LbConfig;
use support::lb::{LbLab, Load, Sample, rudder_load_in};

fn pools(p: [u8; 3]) -> LbConfig {
    let text = format!(
        r#"
        probe_interval_ms = 1000
        stats_interval_ms = {stats}
        [[pools]]
        name = "v1"
        vip = "{a}.{b}.{c}.100"
        idle_timeout = 5
        backends = [{{ ip = "{a}.{b}.{c}.11" }}, {{ ip = "{a}.{b}.{c}.12" }}, {{ ip = "{a}.{b}.{c}.13" }}]
        [[pools]]
        name = "ct"
        vip = "{a}.{b}.{c}.101"
        steering = "conntrack"
        backends = [{{ ip = "{a}.{b}.{c}.11" }}, {{ ip = "{a}.{b}.{c}.12" }}, {{ ip = "{a}.{b}.{c}.13" }}]
        "#,
        a = p[0],
        b = p[1],
        c = p[2],
        stats = std::env::var("RUDDER_LB_STATS_INTERVAL_MS").unwrap_or_else(|_| "2000".into())
    );
    toml::from_str(&text).expect("valid [lb]")
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let i = ((values.len() as f64 - 1.0) * q).round() as usize;
    values.get(i).copied().unwrap_or(f64::NAN)
}

fn connect_times(samples: &[Sample]) -> (f64, f64) {
    let mut c: Vec<f64> = samples.iter().filter_map(|s| s.connect_ms).collect();
    (percentile(&mut c, 0.5), percentile(&mut c, 0.99))
}

/// Waits (at most 30 s) until pool `pool` has no active flow: the per-flow rules of a reactive
/// phase have idled out.
async fn wait_no_flows(lab: &LbLab, pool: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while lab.get(&format!("/lb/pools/{pool}")).await["active_flows"].as_u64() != Some(0)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Switches `pool` to `algorithm` and waits until the switch holds no per-flow rule of an earlier
/// phase, then a little more.
async fn start_phase(lab: &LbLab, pool: &str, algorithm: &str) {
    lab.set_algorithm(pool, algorithm).await;
    lab.wait_no_transition(pool, Duration::from_secs(30)).await;
    wait_no_flows(lab, "v1").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Connections each `rudder load` process keeps open (`RUDDER_LB_SPEED_CONNS`, default 2).
fn connections_per_process() -> usize {
    std::env::var("RUDDER_LB_SPEED_CONNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2)
}

/// New-connection `GET /health` for 5 s from `client`, by three `rudder load` processes of two
/// connections each, one per target: requests/s and failed requests. (The project's Rust load
/// generator, so that the client's own CPU, on this two-core machine shared by clients, nodes, switch
/// and controller, weighs as little as it can on what is measured.)
async fn rate(lab: &LbLab, client: &str, targets: [Ipv4Addr; 3]) -> (f64, u64) {
    let netns = lab.host(client).netns.clone();
    let secs = Duration::from_secs(5);
    let conns = connections_per_process();
    let (a, b, c) = tokio::join!(
        rudder_load_in(&netns, targets[0], 8000, "/health", conns, secs),
        rudder_load_in(&netns, targets[1], 8000, "/health", conns, secs),
        rudder_load_in(&netns, targets[2], 8000, "/health", conns, secs)
    );
    let all = [a, b, c];
    (all.iter().map(|s| s.throughput_rps).sum(), all.iter().map(|s| s.requests - s.ok).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints speed figures; run by hand"]
async fn speed_figures() {
    // c1 uses the VIP, c2 the nodes directly, c3 the conntrack pool's VIP: a client that does two of
    // these can reuse a source port of a VIP flow whose reverse rule (backend:8000 → client:port)
    // or tracked connection still stands.
    let lab = LbLab::start(3, 3, pools).await;
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    lab.wait_healthy("ct", Duration::from_secs(10)).await;
    // A client opens thousands of connections a second to one address (the VIP) and closes them
    // first, so their ports sit in TIME_WAIT for 60 s: with the default range (28 000 ports) the
    // kernel soon hunts for a free port, or finds none, and the client measures itself. As load
    // generators are set up: the whole range, and TIME_WAIT ports reused for new connections.
    for client in ["c1", "c2", "c3"] {
        let netns = &lab.host(client).netns;
        for setting in ["net.ipv4.ip_local_port_range=1024 65535", "net.ipv4.tcp_tw_reuse=1"] {
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", netns, "sysctl", "-w", setting])
                .output()
                .expect("run sysctl");
            assert!(out.status.success(), "sysctl {setting}: {out:?}");
        }
    }
    let (vip, n1) = (lab.ip(100), lab.ip(11));
    let nodes = [n1, lab.ip(12), lab.ip(13)];
    // Warm up ARP caches.
    lab.load("c1", vip, 8000, &Load::get("/health", 30, 2)).await;
    lab.load("c2", n1, 8000, &Load::get("/health", 30, 2)).await;

    // RUDDER_LB_SPEED_PHASES=select_group,wildcard,...: only those algorithms' request rates, in turn.
    if let Ok(phases) = std::env::var("RUDDER_LB_SPEED_PHASES") {
        // RUDDER_LB_SPEED_SETTLE_S=N: wait N s first, so the warm-up's per-flow rules (5 s idle
        // timeout) are gone before the first switch (see docs/performance.md on mode switches).
        let settle = std::env::var("RUDDER_LB_SPEED_SETTLE_S").ok().and_then(|v| v.parse().ok());
        tokio::time::sleep(Duration::from_secs(settle.unwrap_or(0))).await;
        // Each switch starts right before the load, so a transition from a switch-side mode runs
        // under it: the controller steers new connections until the old rules idle out.
        for only in phases.split(',') {
            lab.set_algorithm("v1", only).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before = lab.metric("rudder_lb_packet_ins_total{pool=\"v1\"}").await;
            let (rps, failed) = rate(&lab, "c1", [vip; 3]).await;
            let packet_ins = lab.metric("rudder_lb_packet_ins_total{pool=\"v1\"}").await - before;
            let transition = &lab.get("/lb/pools/v1").await["transition"];
            println!(
                "  {only}: {rps:.0} requests/s ({failed} failed), {packet_ins} TCP packet-ins, transition after the load: {transition}"
            );
        }
        return;
    }
    let ct_vip = lab.ip(101);
    lab.load("c3", ct_vip, 8000, &Load::get("/health", 30, 2)).await;
    let modes = [
        ("conntrack steering (round_robin)", "ct", "round_robin", "c3", ct_vip),
        ("select_group", "v1", "select_group", "c1", vip),
        ("wildcard", "v1", "wildcard", "c1", vip),
        ("per-flow rules (round_robin)", "v1", "round_robin", "c1", vip),
    ];
    // Connect times first, for every path, while each client has made only a few hundred
    // connections: a rate phase leaves its client tens of thousands of sockets in TIME_WAIT (the
    // kernel then searches longer for a free port) and the switch's tracker full of finished
    // connections, and both slowed the connect times measured after it (docs/performance.md).
    let sequential = Load::get("/health", 300, 1);
    let direct = connect_times(&lab.load("c2", n1, 8000, &sequential).await);
    let mut connects = Vec::new();
    for (_, pool, algorithm, client, target) in modes {
        start_phase(&lab, pool, algorithm).await;
        connects.push(connect_times(&lab.load(client, target, 8000, &sequential).await));
    }

    let (direct_rps, direct_failed) = rate(&lab, "c2", nodes).await;
    // Wildcard rules split the client address space, so one client's connections all go to one
    // backend: on two cores one busy node serves more than three sharing them, and this is the
    // baseline that mode compares with.
    let (one_node_rps, _) = rate(&lab, "c2", [n1; 3]).await;
    println!(
        "new connection per GET /health; rates: 3 `rudder load` processes x {} connections, 5 s",
        connections_per_process()
    );
    println!("connect time (the first packet's round trip) of 300 sequential connections, p50 / p99 ms");
    println!(
        "  direct to n1, n2, n3: {direct_rps:.0} requests/s ({direct_failed} failed); connect {:.3} / {:.3}",
        direct.0, direct.1
    );
    println!("  direct to n1 only: {one_node_rps:.0} requests/s");
    // A reactive phase's per-flow rules split the switch's flow cache for whatever follows until
    // they idle out, so each phase starts once none is left, and per-flow steering goes last.
    for ((what, pool, algorithm, client, target), via) in modes.into_iter().zip(connects) {
        start_phase(&lab, pool, algorithm).await;
        let series = format!("rudder_lb_packet_ins_total{{pool=\"{pool}\"}}");
        let before = lab.metric(&series).await;
        let all_before = lab.metric_total("of_packet_ins").await;
        let (rps, failed) = rate(&lab, client, [target; 3]).await;
        let connections = rps * 5.0;
        let per_connection = (lab.metric(&series).await - before) / connections;
        // Every PACKET_IN the switch sent, also those that start no flow (conntrack's FIN copies).
        let all_per_connection = (lab.metric_total("of_packet_ins").await - all_before) / connections;
        let ratio = match algorithm {
            "wildcard" => format!("{:.2} (to one node: {:.2})", rps / direct_rps, rps / one_node_rps),
            _ => format!("{:.2}", rps / direct_rps),
        };
        println!(
            "  VIP, {what}: {rps:.0} requests/s ({failed} failed), ratio {ratio}; connect {:.3} / {:.3}, added {:.3} / {:.3}; {per_connection:.2} packet-ins per connection ({all_per_connection:.2} of every kind)",
            via.0,
            via.1,
            via.0 - direct.0,
            via.1 - direct.1
        );
    }
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", loadavg.trim());
}

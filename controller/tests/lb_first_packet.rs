//! The first packet of a new flow through the VIP reaches the backend (no 1 s SYN retransmission).
//!
//! The trap rule sends a flow's first SYN to the controller, which installs the flow's rules and
//! sends the SYN on in a PACKET_OUT. A client whose interface offloads checksums (every veth, and
//! what `rudder up` leaves on) sends that SYN with only the pseudo-header sum in its TCP checksum
//! field; the PACKET_IN loses the "checksum partial" mark, so unless the controller completes the
//! checksum the backend drops the SYN as corrupt and the client connects only after its 1 s
//! retransmission, through the rules. This lab's veths have offload off (its OVS runs without
//! `userspace-tso-enable`), so here the test guards the timing of ordinary new connections; the
//! partial checksum itself is covered by `apps::lb::packet`'s unit tests.

mod support;

use std::time::Duration;

use rudder_controller::apps::lb::config::LbConfig;
use support::lb::{LbLab, Load};

fn pools(p: [u8; 3]) -> LbConfig {
    let text = format!(
        r#"
        probe_interval_ms = 200
        probe_timeout_ms = 500
        [[pools]]
        name = "v1"
        vip = "{a}.{b}.{c}.100"
        backends = [{{ ip = "{a}.{b}.{c}.11" }}, {{ ip = "{a}.{b}.{c}.12" }}]
        "#,
        a = p[0],
        b = p[1],
        c = p[2]
    );
    toml::from_str(&text).expect("valid [lb]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_flows_through_the_vip_connect_without_a_syn_retransmission() {
    let lab = LbLab::start(2, 1, pools).await;
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    let vip = lab.ip(100);

    // Ordinary new connections: each one's SYN is the PACKET_IN the controller answers.
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 10, 1)).await;
    let failed: Vec<_> = samples.iter().filter(|s| !s.ok).collect();
    assert!(failed.is_empty(), "{failed:?}");
    for s in &samples {
        let connect = s.connect_ms.expect("connect time");
        assert!(connect < 300.0, "a new flow took {connect:.0} ms to connect: {samples:?}");
    }
}

/// Sum of every series of a metric family in the controller's `/metrics`.
async fn metric_sum(lab: &LbLab, name: &str) -> f64 {
    let text = reqwest::get(lab.url("/metrics")).await.expect("GET /metrics").text().await.expect("text");
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Under concurrent new connections, Open vSwitch sends some later packets of a just-steered flow
/// (its ACK, its request) to the controller before its flow cache catches up with the new rules.
/// Those are forwarded without installing the flow's rules again: the flow table changes twice per
/// flow (forward and reverse rule), however many packets raced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_that_race_a_new_flows_rules_get_no_second_set_of_rules() {
    let lab = LbLab::start(2, 1, pools).await;
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    let vip = lab.ip(100);
    let (flow_mods, packet_ins, flows) =
        ("of_flowmsgs_sent", "rudder_lb_packet_ins_total", "rudder_lb_flows_total");
    let before = (
        metric_sum(&lab, flow_mods).await,
        metric_sum(&lab, packet_ins).await,
        metric_sum(&lab, flows).await,
    );
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 400, 8)).await;
    assert!(samples.iter().all(|s| s.ok), "failed requests: {:?}", samples.iter().find(|s| !s.ok));
    let flow_mods = metric_sum(&lab, flow_mods).await - before.0;
    let packet_ins = metric_sum(&lab, packet_ins).await - before.1;
    let flows = metric_sum(&lab, flows).await - before.2;
    // A flow is the client's address and source port. The kernel may hand a port out again while
    // the rules of its first connection still live (30 s idle timeout); that connection's SYN then
    // rides those rules to the same backend without reaching the controller, so it is no new flow.
    let ports: std::collections::BTreeSet<_> = samples.iter().filter_map(|s| s.port).collect();
    println!(
        "{flows} flows, {packet_ins} lb packet-ins, {flow_mods} flow mods, {} client ports",
        ports.len()
    );
    assert_eq!(samples.iter().filter(|s| s.port.is_some()).count(), 400, "every request reports its port");
    assert_eq!(flows, ports.len() as f64, "one flow per client port ({} requests)", samples.len());
    // Two rules per flow; a little slack for l2switch's own rules and SYN retransmissions.
    assert!(
        flow_mods <= 2.0 * flows + 20.0,
        "{flow_mods} flow mods for {flows} flows ({packet_ins} packet-ins): rules were re-sent for racing packets"
    );
}

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

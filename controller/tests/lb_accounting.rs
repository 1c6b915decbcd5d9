//! What the balancer counts and keeps when the switch forgets: flows whose rules leave a switch with
//! no FLOW_REMOVED reaching the controller (the switch reconnected and its tables were cleared) stop
//! counting as active, and deleting one of two pools on one VIP leaves the other's ARP trap in place.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use rudder_controller::apps::lb::config::LbConfig;
use serde_json::{Value, json};
use support::lb::{LbLab, Load, run_ok};

const IDLE_TIMEOUT_S: u64 = 2;
const STATS_MS: u64 = 500;

fn pools(p: [u8; 3]) -> LbConfig {
    let text = format!(
        r#"
        stats_interval_ms = {STATS_MS}
        [[pools]]
        name = "a"
        vip = "{a}.{b}.{c}.100"
        idle_timeout = {IDLE_TIMEOUT_S}
        backends = [{{ ip = "{a}.{b}.{c}.11" }}]
        "#,
        a = p[0],
        b = p[1],
        c = p[2]
    );
    toml::from_str(&text).expect("valid [lb]")
}

async fn pool_stats(lab: &LbLab, pool: &str) -> Value {
    lab.get(&format!("/lb/pools/{pool}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_lost_with_the_switch_s_tables_end_and_a_shared_vip_keeps_its_arp_trap() {
    let lab = LbLab::start(1, 1, pools).await;
    lab.wait_healthy("a", Duration::from_secs(90)).await;
    let vip = lab.ip(100);

    // Six short connections; their rules idle out only after IDLE_TIMEOUT_S.
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 6, 1)).await;
    assert!(samples.iter().all(|s| s.ok), "{samples:?}");
    let stats = pool_stats(&lab, "a").await;
    assert_eq!(
        (stats["active_flows"].as_u64(), stats["total_flows"].as_u64()),
        (Some(6), Some(6)),
        "{stats}"
    );

    // The switch drops its controller connection and connects again at once: the controller clears
    // its tables in the handshake, and those rules' FLOW_REMOVEDs come before it is back in service.
    let target = lab.ovs.vsctl(&["get-controller", &lab.bridge]).trim().to_string();
    lab.ovs.vsctl(&["del-controller", &lab.bridge]);
    lab.ovs.vsctl(&["set-controller", &lab.bridge, &target]);
    assert!(lab.ovs.wait_connected(&lab.bridge, Duration::from_secs(10)), "switch back");

    // Within the idle timeout and two flow-stats polls (plus slack) no flow is counted any more.
    let deadline =
        Instant::now() + Duration::from_secs(IDLE_TIMEOUT_S) + Duration::from_millis(6 * STATS_MS + 3000);
    loop {
        let stats = pool_stats(&lab, "a").await;
        if stats["active_flows"].as_u64() == Some(0) {
            assert_eq!(stats["total_flows"].as_u64(), Some(6), "ended, not forgotten: {stats}");
            assert_eq!(stats["backends"][0]["active_flows"].as_u64(), Some(0), "{stats}");
            break;
        }
        assert!(Instant::now() < deadline, "flows still counted after the switch lost them: {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let gauge = format!("rudder_lb_active_flows{{backend=\"{}\",pool=\"a\"}}", lab.ip(11));
    assert_eq!(lab.metric(&gauge).await, 0.0);
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 3, 1)).await;
    assert!(samples.iter().all(|s| s.ok), "steered again after the reconnect: {samples:?}");

    // A second pool on the same VIP (another port) shares the VIP's ARP trap; deleting it must not
    // take the trap from pool a.
    let b = json!({"name": "b", "vip": vip.to_string(), "ports": [8001],
        "backends": [{"ip": lab.ip(11).to_string(), "port": 8000}]});
    let (status, body) = lab.send(Method::POST, "/lb/pools", b).await;
    assert_eq!(status, 201, "{body}");
    let samples = lab.load("c1", vip, 8001, &Load::get("/health", 2, 1)).await;
    assert!(samples.iter().all(|s| s.ok), "pool b serves: {samples:?}");
    let (status, body) = lab.send(Method::DELETE, "/lb/pools/b", Value::Null).await;
    assert_eq!(status, 204, "{body}");
    // The client must ask for the VIP's MAC again.
    run_ok("ip", &["-n", &lab.host("c1").netns, "neigh", "flush", "all"]);
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 3, 1)).await;
    assert!(samples.iter().all(|s| s.ok), "pool a's VIP still answers ARP: {samples:?}");
}

//! Failover end to end: under steady load through the VIP, one `rudder-node` is killed (SIGKILL, by
//! PID). Within two probe intervals its breaker opens and it gets no new flow; only requests in flight
//! around the kill may fail. Restarted, it is probed back in and gets traffic again, with no
//! controller restart. Health, breaker transitions and `rudder_lb_backend_healthy` show all of it.

mod support;

use std::time::Duration;

use rudder_controller::apps::lb::config::LbConfig;
use support::lb::{LbLab, Load, by_node, now_epoch};

const PROBE_MS: u64 = 200;

fn pools(p: [u8; 3]) -> LbConfig {
    let text = format!(
        r#"
        probe_interval_ms = {PROBE_MS}
        probe_timeout_ms = 150
        [[pools]]
        name = "v1"
        vip = "{a}.{b}.{c}.100"
        breaker = {{ failure_threshold = 1, success_threshold = 1, cooldown_ms = 500 }}
        backends = [{{ ip = "{a}.{b}.{c}.11" }}, {{ ip = "{a}.{b}.{c}.12" }}, {{ ip = "{a}.{b}.{c}.13" }}]
        "#,
        a = p[0],
        b = p[1],
        c = p[2]
    );
    toml::from_str(&text).expect("valid [lb]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_is_ejected_and_a_restarted_one_returns() {
    let mut lab = LbLab::start(3, 1, pools).await;
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    let vip = lab.ip(100);
    let n2 = format!("rudder_lb_backend_healthy{{backend=\"{}\",pool=\"v1\"}}", lab.ip(12));
    assert_eq!(lab.metric(&n2).await, 1.0);

    let load = Load { duration: Some(Duration::from_secs(5)), ..Load::get("/health", 0, 2) };
    let before = lab.load("c1", vip, 8000, &Load::get("/health", 30, 2)).await;
    assert!(before.iter().all(|s| s.ok), "all healthy before the kill: {before:?}");
    assert_eq!(by_node(&before).len(), 3);

    // Steady load for 5 s from c1; n2 dies 1.5 s in.
    let load_task = {
        let netns = lab.host("c1").netns.clone();
        tokio::spawn(support::lb::load_in(netns, vip, 8000, load))
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = now_epoch();
    lab.kill_node("n2");
    let samples = load_task.await.expect("load task");

    let ejected_by = killed_at + 2.0 * PROBE_MS as f64 / 1000.0;
    let to_n2_after: Vec<_> =
        samples.iter().filter(|s| s.t > killed_at && s.node.as_deref() == Some("n2")).collect();
    assert!(to_n2_after.is_empty(), "n2 answered after it was killed: {to_n2_after:?}");
    // Allow one scheduling slice beyond the two intervals for the failures' own timestamps.
    let late_failures: Vec<_> = samples.iter().filter(|s| !s.ok && s.t > ejected_by + 0.1).collect();
    assert!(late_failures.is_empty(), "requests failed after n2 was ejected: {late_failures:?}");
    let after: Vec<_> = samples.iter().filter(|s| s.t > ejected_by + 0.1).cloned().collect();
    assert!(after.len() > 20, "the load went on after the ejection: {} requests", after.len());
    assert_eq!(by_node(&after).keys().cloned().collect::<Vec<_>>(), vec!["n1".to_string(), "n3".to_string()]);

    let backends = lab.backends("v1").await;
    assert_eq!(backends[1]["health"], "ejected", "{:#?}", backends[1]);
    assert!(
        backends[1]["last_probe"].as_str().is_some_and(|p| p.starts_with("failed: ")),
        "{:#?}",
        backends[1]
    );
    assert_eq!(lab.metric(&n2).await, 0.0);
    let opened =
        format!("rudder_lb_breaker_transitions_total{{backend=\"{}\",pool=\"v1\",to=\"open\"}}", lab.ip(12));
    // Opened at the kill, then again after each cool-down whose half-open probe failed.
    assert!(lab.metric(&opened).await >= 1.0);

    // Back from the dead: loads its model, passes a probe after the cool-down, gets flows again.
    lab.restart_node("n2");
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    assert_eq!(lab.metric(&n2).await, 1.0);
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 30, 2)).await;
    assert!(samples.iter().all(|s| s.ok), "{samples:?}");
    assert!(
        by_node(&samples).get("n2").is_some_and(|&n| n >= 5),
        "n2 is back in rotation: {:?}",
        by_node(&samples)
    );
}

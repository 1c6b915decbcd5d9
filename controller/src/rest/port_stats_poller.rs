//! Background poll of every switch's port statistics (OF1.3.5 §7.3.5.6) into the `of_port_*`
//! gauges of [`Metrics`](crate::metrics::Metrics), labelled `{dpid, port}` as Faucet does. Series of
//! switches or ports that went away are removed, so the label set stays bounded.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use ofproto::Message;
use ofproto::PortNo;
use ofproto::multipart::{MultipartReplyBody, MultipartRequest, PortStats};
use tokio::task::{JoinHandle, JoinSet};

use super::ofctl_json::Reserved;
use crate::Controller;
use crate::metrics::{Metrics, dpid_label};

/// Polls every `interval` until `shutdown` resolves.
pub fn spawn_port_stats_poller(
    controller: Controller,
    interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(100)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut series = HashSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            let timeout = interval.max(Duration::from_millis(100));
            series = poll_port_stats_once(&controller, timeout, &series).await;
        }
    })
}

/// One round: asks every connected switch for its port statistics (all at once, each bounded by
/// `timeout`), sets the gauges, and removes the series in `previous` not seen this round. Returns the
/// series set now. A switch that fails to answer keeps its old values until it disconnects.
pub async fn poll_port_stats_once(
    controller: &Controller,
    timeout: Duration,
    previous: &HashSet<(String, String)>,
) -> HashSet<(String, String)> {
    let mut requests = JoinSet::new();
    for dp in controller.registry.handles() {
        requests.spawn(async move {
            let request = Message::MultipartRequest(MultipartRequest::port_stats(PortNo::ANY));
            (dp.dpid(), dp.request_with_timeout(&request, timeout).await)
        });
    }
    let mut seen = HashSet::new();
    let connected: HashSet<String> = controller.registry.dpids().into_iter().map(dpid_label).collect();
    while let Some(joined) = requests.join_next().await {
        let Ok((dpid, result)) = joined else { continue };
        let dpid = dpid_label(dpid);
        match result {
            Ok(Message::MultipartReply(reply)) => {
                if let MultipartReplyBody::PortStats(stats) = reply.body {
                    for s in &stats {
                        let port = Reserved::Port.to_user_str(u64::from(s.port_no.0));
                        set_port_gauges(&controller.metrics, &dpid, &port, s);
                        seen.insert((dpid.clone(), port));
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(%dpid, cause = %e, "port stats poll failed");
                // Keep the previous series of a connected switch that did not answer this time.
                seen.extend(previous.iter().filter(|(d, _)| *d == dpid).cloned());
            }
        }
    }
    // Failed polls carried their switch's old series into `seen`, unless the switch is gone.
    seen.retain(|(dpid, _)| connected.contains(dpid));
    for (dpid, port) in previous.difference(&seen) {
        remove_port_gauges(&controller.metrics, dpid, port);
    }
    seen
}

fn gauge_values(s: &PortStats) -> [u64; 8] {
    [s.rx_packets, s.tx_packets, s.rx_bytes, s.tx_bytes, s.rx_dropped, s.tx_dropped, s.rx_errors, s.tx_errors]
}

fn gauges(m: &Metrics) -> [&prometheus::IntGaugeVec; 8] {
    [
        &m.port_rx_packets,
        &m.port_tx_packets,
        &m.port_rx_bytes,
        &m.port_tx_bytes,
        &m.port_rx_dropped,
        &m.port_tx_dropped,
        &m.port_rx_errors,
        &m.port_tx_errors,
    ]
}

fn set_port_gauges(m: &Metrics, dpid: &str, port: &str, s: &PortStats) {
    for (gauge, value) in gauges(m).into_iter().zip(gauge_values(s)) {
        // Counters beyond i64::MAX (never in practice) saturate rather than wrap negative.
        gauge.with_label_values(&[dpid, port]).set(i64::try_from(value).unwrap_or(i64::MAX));
    }
}

fn remove_port_gauges(m: &Metrics, dpid: &str, port: &str) {
    for gauge in gauges(m) {
        let _ = gauge.remove_label_values(&[dpid, port]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(port: u32, rx_packets: u64) -> PortStats {
        PortStats {
            port_no: PortNo(port),
            rx_packets,
            tx_packets: 2,
            rx_bytes: 3,
            tx_bytes: 4,
            rx_dropped: 5,
            tx_dropped: 6,
            rx_errors: 7,
            tx_errors: 8,
            rx_frame_err: 0,
            rx_over_err: 0,
            rx_crc_err: 0,
            collisions: 0,
            duration_sec: 0,
            duration_nsec: 0,
        }
    }

    #[test]
    fn gauges_are_set_and_removed() {
        let m = Metrics::new();
        set_port_gauges(&m, "1", "2", &stats(2, 42));
        set_port_gauges(&m, "1", "LOCAL", &stats(0xffff_fffe, u64::MAX));
        let text = m.render();
        assert!(text.contains("of_port_rx_packets{dpid=\"1\",port=\"2\"} 42"), "{text}");
        assert!(text.contains("of_port_tx_errors{dpid=\"1\",port=\"2\"} 8"), "{text}");
        assert_eq!(m.port_rx_packets.with_label_values(&["1", "LOCAL"]).get(), i64::MAX, "saturates");
        remove_port_gauges(&m, "1", "2");
        assert!(!m.render().contains("port=\"2\""));
    }

    #[tokio::test]
    async fn a_round_without_switches_drops_old_series() {
        let controller = Controller {
            config: std::sync::Arc::new(crate::Config::default()),
            metrics: Metrics::new(),
            registry: crate::ofp::registry::DatapathRegistry::new(),
            topology: None,
            lb: None,
        };
        set_port_gauges(&controller.metrics, "9", "1", &stats(1, 1));
        let previous: HashSet<_> = [("9".to_string(), "1".to_string())].into();
        let now = poll_port_stats_once(&controller, Duration::from_millis(100), &previous).await;
        assert!(now.is_empty());
        assert!(!controller.metrics.render().contains("dpid=\"9\""));
    }
}

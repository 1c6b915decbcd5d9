//! Prometheus metrics of the controller, with Faucet's names where Faucet has one.
//!
//! One `Metrics` value is created at startup and passed explicitly (no global registry); labels come
//! only from bounded sets (datapath ids, port numbers, app names, event kinds).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// `of_packet_ins{dpid}`: PACKET_IN messages received.
    pub packet_ins: IntCounterVec,
    /// `of_packet_ins_dropped{app}`: PACKET_INs dropped because an app's queue was full.
    pub packet_ins_dropped: IntCounterVec,
    /// `of_flowmsgs_sent{dpid}`: FLOW_MOD messages sent.
    pub flowmsgs_sent: IntCounterVec,
    /// `of_packet_outs_sent{dpid}`.
    pub packet_outs_sent: IntCounterVec,
    /// `of_errors{dpid}`: OFPT_ERROR messages received.
    pub errors: IntCounterVec,
    /// `of_dp_connections{dpid}` / `of_dp_disconnections{dpid}`.
    pub dp_connections: IntCounterVec,
    pub dp_disconnections: IntCounterVec,
    /// `of_malformed_messages_total`: messages that failed to decode (connection closed).
    pub malformed: IntCounterVec,
    /// `of_dp_connected`: switches connected now.
    pub dp_connected: IntGauge,
    /// `of_port_*{dpid,port}` from polled port stats.
    pub port_rx_packets: IntGaugeVec,
    pub port_tx_packets: IntGaugeVec,
    pub port_rx_bytes: IntGaugeVec,
    pub port_tx_bytes: IntGaugeVec,
    pub port_rx_dropped: IntGaugeVec,
    pub port_tx_dropped: IntGaugeVec,
    pub port_rx_errors: IntGaugeVec,
    pub port_tx_errors: IntGaugeVec,
    /// `rudder_event_handling_seconds{app,event}`: from the message being read off the socket to the app
    /// finishing its handler (the packet-in handling latency).
    pub event_latency: HistogramVec,
    /// `rudder_lb_*`: the load balancer's per-pool and per-backend metrics.
    pub lb: LbMetrics,
}

/// The load balancer's metrics (labels: pool name, backend IP; both bounded by the configuration).
#[derive(Clone)]
pub struct LbMetrics {
    /// `rudder_lb_flows_total{pool,backend}`: flows steered to the backend by the controller.
    pub flows_total: IntCounterVec,
    /// `rudder_lb_active_flows{pool,backend}`: steered flows whose rules are still on the switch.
    pub active_flows: IntGaugeVec,
    /// `rudder_lb_backend_healthy{pool,backend}`: 1 while the breaker is closed, else 0.
    pub backend_healthy: IntGaugeVec,
    /// `rudder_lb_probe_latency_seconds{pool,backend}`: round trips of successful health probes.
    pub probe_latency: HistogramVec,
    /// `rudder_lb_breaker_transitions_total{pool,backend,to}`.
    pub breaker_transitions: IntCounterVec,
    /// `rudder_lb_packet_ins_total{pool}`: PACKET_INs of new flows to the pool's VIP.
    pub packet_ins: IntCounterVec,
    /// `rudder_lb_arp_replies_total{pool}`: ARP requests for the VIP answered.
    pub arp_replies: IntCounterVec,
    /// `rudder_lb_bytes_total{pool,backend}`: client-to-backend bytes of steered flows.
    pub bytes: IntCounterVec,
    /// `rudder_lb_transition_active{pool}`: 1 while old switch-side rules are being retired.
    pub transition_active: IntGaugeVec,
}

impl LbMetrics {
    fn new(registry: &Registry) -> LbMetrics {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let probe_latency = HistogramVec::new(
            HistogramOpts::new("rudder_lb_probe_latency_seconds", "Round trip of successful health probes")
                .buckets(vec![
                    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0,
                ]),
            &["pool", "backend"],
        )
        .expect("valid metric");
        registry.register(Box::new(probe_latency.clone())).expect("unique metric");
        LbMetrics {
            flows_total: counter(
                "rudder_lb_flows_total",
                "Flows the load balancer steered to a backend",
                &["pool", "backend"],
            ),
            active_flows: gauge(
                "rudder_lb_active_flows",
                "Steered flows whose rules are still installed",
                &["pool", "backend"],
            ),
            backend_healthy: gauge(
                "rudder_lb_backend_healthy",
                "1 while the backend's circuit breaker is closed, else 0",
                &["pool", "backend"],
            ),
            probe_latency,
            breaker_transitions: counter(
                "rudder_lb_breaker_transitions_total",
                "Circuit breaker state changes, by the state entered",
                &["pool", "backend", "to"],
            ),
            packet_ins: counter("rudder_lb_packet_ins_total", "PACKET_INs of new flows to a VIP", &["pool"]),
            arp_replies: counter("rudder_lb_arp_replies_total", "ARP requests for a VIP answered", &["pool"]),
            bytes: counter(
                "rudder_lb_bytes_total",
                "Client-to-backend bytes of steered flows (flow stats and FLOW_REMOVED)",
                &["pool", "backend"],
            ),
            transition_active: gauge(
                "rudder_lb_transition_active",
                "1 while a pool's old switch-side rules still carry the connections made under them",
                &["pool"],
            ),
        }
    }

    /// Drops every series of a backend (removed from its pool).
    pub fn forget_backend(&self, pool: &str, backend: &str) {
        let labels = [pool, backend];
        let _ = self.flows_total.remove_label_values(&labels);
        let _ = self.active_flows.remove_label_values(&labels);
        let _ = self.backend_healthy.remove_label_values(&labels);
        let _ = self.probe_latency.remove_label_values(&labels);
        let _ = self.bytes.remove_label_values(&labels);
        for to in ["closed", "open", "half_open"] {
            let _ = self.breaker_transitions.remove_label_values(&[pool, backend, to]);
        }
    }

    /// Drops a pool's own series (its backends are forgotten one by one).
    pub fn forget_pool(&self, pool: &str) {
        let _ = self.packet_ins.remove_label_values(&[pool]);
        let _ = self.arp_replies.remove_label_values(&[pool]);
        let _ = self.transition_active.remove_label_values(&[pool]);
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let dp_connected = IntGauge::new("of_dp_connected", "Switches connected now").expect("valid metric");
        registry.register(Box::new(dp_connected.clone())).expect("unique metric");
        let event_latency = HistogramVec::new(
            HistogramOpts::new(
                "rudder_event_handling_seconds",
                "Time from reading an OpenFlow message to an app finishing with its event",
            )
            .buckets(vec![
                5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0,
            ]),
            &["app", "event"],
        )
        .expect("valid metric");
        registry.register(Box::new(event_latency.clone())).expect("unique metric");
        Metrics {
            packet_ins: counter("of_packet_ins", "PACKET_IN messages received", &["dpid"]),
            packet_ins_dropped: counter(
                "of_packet_ins_dropped",
                "PACKET_IN events dropped because an app's queue was full",
                &["app"],
            ),
            flowmsgs_sent: counter("of_flowmsgs_sent", "FLOW_MOD messages sent", &["dpid"]),
            packet_outs_sent: counter("of_packet_outs_sent", "PACKET_OUT messages sent", &["dpid"]),
            errors: counter("of_errors", "OFPT_ERROR messages received", &["dpid"]),
            dp_connections: counter("of_dp_connections", "Switch connections established", &["dpid"]),
            dp_disconnections: counter("of_dp_disconnections", "Switch disconnections", &["dpid"]),
            malformed: counter(
                "of_malformed_messages_total",
                "Messages that failed to decode (the connection was closed)",
                &["reason"],
            ),
            dp_connected,
            port_rx_packets: gauge(
                "of_port_rx_packets",
                "Received packets (polled port stats)",
                &["dpid", "port"],
            ),
            port_tx_packets: gauge(
                "of_port_tx_packets",
                "Sent packets (polled port stats)",
                &["dpid", "port"],
            ),
            port_rx_bytes: gauge("of_port_rx_bytes", "Received bytes (polled port stats)", &["dpid", "port"]),
            port_tx_bytes: gauge("of_port_tx_bytes", "Sent bytes (polled port stats)", &["dpid", "port"]),
            port_rx_dropped: gauge(
                "of_port_rx_dropped",
                "Receive drops (polled port stats)",
                &["dpid", "port"],
            ),
            port_tx_dropped: gauge(
                "of_port_tx_dropped",
                "Transmit drops (polled port stats)",
                &["dpid", "port"],
            ),
            port_rx_errors: gauge(
                "of_port_rx_errors",
                "Receive errors (polled port stats)",
                &["dpid", "port"],
            ),
            port_tx_errors: gauge(
                "of_port_tx_errors",
                "Transmit errors (polled port stats)",
                &["dpid", "port"],
            ),
            event_latency,
            lb: LbMetrics::new(&registry),
            registry,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Formats a datapath id the way metrics labels and Ryu's REST API show it (decimal).
pub fn dpid_label(dpid: u64) -> String {
    dpid.to_string()
}

//! Prometheus metrics and the cheap counters `/health` reads. Every label comes from a bounded
//! set: routes are the router's own paths (or `other`), statuses the codes this node emits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Routes used as label values; anything else is `other`.
pub const ROUTES: [&str; 4] = ["/predict", "/health", "/info", "/metrics"];
/// How many recent `/predict` latencies the health percentiles cover.
const WINDOW: usize = 1024;

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_seconds: HistogramVec,
    pub decode_seconds: Histogram,
    pub inference_seconds: Histogram,
    pub in_flight: IntGauge,
    pub queue_depth: IntGauge,
    pub batch_size: Histogram,
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
    /// Successful predictions served (health).
    pub predictions_served: AtomicU64,
    recent_predict_ms: Mutex<VecDeque<f64>>,
}

fn build<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: prometheus::Result<C>,
) -> C {
    // Names and label sets are constants of this file, so creating and registering them cannot
    // fail; the unit test `renders_every_family` proves it on every build.
    let c = c.unwrap_or_else(|e| unreachable!("metric definition: {e}"));
    registry.register(Box::new(c.clone())).unwrap_or_else(|e| unreachable!("metric registration: {e}"));
    c
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new_custom(Some("rudder_node".into()), None)
            .unwrap_or_else(|e| unreachable!("registry prefix: {e}"));
        let latency = vec![0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0];
        let hist = |name: &str, help: &str| HistogramOpts::new(name, help).buckets(latency.clone());
        Metrics {
            requests: build(
                &r,
                IntCounterVec::new(
                    Opts::new("requests_total", "HTTP requests by route and status"),
                    &["route", "status"],
                ),
            ),
            request_seconds: build(
                &r,
                HistogramVec::new(hist("request_duration_seconds", "Total request latency"), &["route"]),
            ),
            decode_seconds: build(
                &r,
                Histogram::with_opts(hist("decode_duration_seconds", "Image decode time")),
            ),
            inference_seconds: build(
                &r,
                Histogram::with_opts(hist("inference_duration_seconds", "Model run time per batch")),
            ),
            in_flight: build(&r, IntGauge::new("in_flight_requests", "Requests being served")),
            queue_depth: build(&r, IntGauge::new("queue_depth", "Jobs waiting for an inference worker")),
            batch_size: build(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new("batch_size", "Images per model run")
                        .buckets(vec![1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0]),
                ),
            ),
            cache_hits: build(&r, IntCounter::new("cache_hits_total", "Predictions answered from the cache")),
            cache_misses: build(&r, IntCounter::new("cache_misses_total", "Predictions that ran the model")),
            registry: r,
            predictions_served: AtomicU64::new(0),
            recent_predict_ms: Mutex::new(VecDeque::with_capacity(WINDOW)),
        }
    }

    /// Bounded route label for a matched path.
    pub fn route_label(matched: Option<&str>) -> &'static str {
        matched.and_then(|m| ROUTES.iter().find(|r| **r == m).copied()).unwrap_or("other")
    }

    pub fn observe_request(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.requests.with_label_values(&[route, status_label(status)]).inc();
        self.request_seconds.with_label_values(&[route]).observe(elapsed.as_secs_f64());
        if route == "/predict" && status == 200 {
            self.predictions_served.fetch_add(1, Ordering::Relaxed);
            let mut recent = self.recent_predict_ms.lock().unwrap_or_else(PoisonError::into_inner);
            if recent.len() == WINDOW {
                recent.pop_front();
            }
            recent.push_back(elapsed.as_secs_f64() * 1e3);
        }
    }

    /// p50 and p95 of the recent successful `/predict` latencies, in ms.
    pub fn recent_percentiles(&self) -> Option<(f64, f64)> {
        let mut values: Vec<f64> =
            self.recent_predict_ms.lock().unwrap_or_else(PoisonError::into_inner).iter().copied().collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some((percentile(&values, 0.50), percentile(&values, 0.95)))
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding to a Vec only fails for malformed metric families, which `build` rules out.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        404 => "404",
        405 => "405",
        413 => "413",
        415 => "415",
        422 => "422",
        500 => "500",
        503 => "503",
        s if s < 400 => "2xx_3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.observe_request("/predict", 200, Duration::from_millis(12));
        m.batch_size.observe(3.0);
        m.cache_hits.inc();
        let text = m.render();
        for family in [
            "rudder_node_requests_total{route=\"/predict\",status=\"200\"} 1",
            "rudder_node_request_duration_seconds_bucket",
            "rudder_node_decode_duration_seconds",
            "rudder_node_inference_duration_seconds",
            "rudder_node_in_flight_requests",
            "rudder_node_queue_depth",
            "rudder_node_batch_size_bucket",
            "rudder_node_cache_hits_total 1",
            "rudder_node_cache_misses_total 0",
        ] {
            assert!(text.contains(family), "missing {family} in\n{text}");
        }
    }

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(Metrics::route_label(Some("/predict")), "/predict");
        assert_eq!(Metrics::route_label(Some("/x/../etc")), "other");
        assert_eq!(Metrics::route_label(None), "other");
        assert_eq!(status_label(418), "4xx");
    }

    #[test]
    fn percentiles_over_the_window() {
        let m = Metrics::new();
        assert_eq!(m.recent_percentiles(), None);
        for ms in 1..=100 {
            m.observe_request("/predict", 200, Duration::from_millis(ms));
        }
        m.observe_request("/predict", 400, Duration::from_secs(9)); // errors are not counted
        let (p50, p95) = m.recent_percentiles().expect("values");
        assert!((p50 - 50.0).abs() < 0.5 && (p95 - 95.0).abs() < 0.5, "{p50} {p95}");
        assert_eq!(m.predictions_served.load(Ordering::Relaxed), 100);
    }
}

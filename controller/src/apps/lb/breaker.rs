//! The per-backend circuit breaker, driven by health-probe results.
//!
//! ```text
//!  Closed --K consecutive failures--> Open --cool-down elapsed--> HalfOpen --J consecutive successes--> Closed
//!                                      ^                            |
//!                                      +-------- any failure -------+
//! ```
//!
//! Only a Closed backend receives new flows; Open means ejected; HalfOpen is probed but still gets no
//! new flows, so one lucky probe cannot pull traffic back to a node that is still failing. The machine
//! is pure: the caller passes `now`, and every call returns the transitions it caused (for logs and
//! metrics).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// `breaker = { ... }` in a pool's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// K: consecutive probe failures that open a closed breaker.
    pub failure_threshold: u32,
    /// J: consecutive probe successes that close a half-open breaker.
    pub success_threshold: u32,
    /// How long an open breaker waits before it lets probes decide again.
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig { failure_threshold: 3, success_threshold: 2, cooldown_ms: 5_000 }
    }
}

impl BreakerConfig {
    /// Thresholds of 0 would open or close on no evidence at all.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.failure_threshold == 0 {
            return Err("failure_threshold must be at least 1");
        }
        if self.success_threshold == 0 {
            return Err("success_threshold must be at least 1");
        }
        Ok(())
    }

    pub fn cooldown(&self) -> Duration {
        Duration::from_millis(self.cooldown_ms)
    }
}

/// Where a breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Healthy: receives new flows.
    Closed,
    /// Ejected: no new flows until the cool-down has passed.
    Open,
    /// Cool-down over: probes decide whether it closes (J successes) or opens again (one failure).
    HalfOpen,
}

/// One change of state, with the reason, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
}

/// The outcome of one health probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    Success,
    Failure,
}

/// A circuit breaker for one backend.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    consecutive_failures: u32,
    consecutive_successes: u32,
    opened_at: Option<Instant>,
}

impl CircuitBreaker {
    /// A closed breaker: a configured backend is trusted until probes say otherwise.
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        CircuitBreaker {
            config,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            consecutive_successes: 0,
            opened_at: None,
        }
    }

    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether new flows may go to this backend.
    pub fn admits_new_flows(&self) -> bool {
        self.state == BreakerState::Closed
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Moves Open → HalfOpen once the cool-down has passed. Called by [`CircuitBreaker::on_probe`]
    /// and worth calling from a timer so the state shown over REST is current.
    pub fn poll(&mut self, now: Instant) -> Option<Transition> {
        let opened = self.opened_at?;
        if self.state == BreakerState::Open && now.saturating_duration_since(opened) >= self.config.cooldown()
        {
            self.consecutive_successes = 0;
            return Some(self.go(BreakerState::HalfOpen, now));
        }
        None
    }

    /// Feeds one probe result taken at `now`; returns every transition it caused, in order (at most
    /// two: Open → HalfOpen on an expired cool-down, then HalfOpen → Closed or → Open).
    pub fn on_probe(&mut self, result: ProbeResult, now: Instant) -> Vec<Transition> {
        let mut out: Vec<Transition> = self.poll(now).into_iter().collect();
        match (self.state, result) {
            (BreakerState::Closed, ProbeResult::Success) => self.consecutive_failures = 0,
            (BreakerState::Closed, ProbeResult::Failure) => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.consecutive_failures >= self.config.failure_threshold {
                    out.push(self.go(BreakerState::Open, now));
                }
            }
            // Probes during the cool-down are ignored: the node gets its full cool-down.
            (BreakerState::Open, _) => {}
            (BreakerState::HalfOpen, ProbeResult::Success) => {
                self.consecutive_successes = self.consecutive_successes.saturating_add(1);
                if self.consecutive_successes >= self.config.success_threshold {
                    out.push(self.go(BreakerState::Closed, now));
                }
            }
            (BreakerState::HalfOpen, ProbeResult::Failure) => out.push(self.go(BreakerState::Open, now)),
        }
        out
    }

    /// Opens the breaker at once (operator eject, or the node reported itself unhealthy).
    pub fn force_open(&mut self, now: Instant) -> Option<Transition> {
        (self.state != BreakerState::Open).then(|| self.go(BreakerState::Open, now))
    }

    fn go(&mut self, to: BreakerState, now: Instant) -> Transition {
        let from = self.state;
        self.state = to;
        self.consecutive_failures = 0;
        self.consecutive_successes = 0;
        self.opened_at = (to == BreakerState::Open).then_some(now);
        Transition { from, to }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::*;
    use ProbeResult::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig { failure_threshold: 3, success_threshold: 2, cooldown_ms: 1000 })
    }

    #[test]
    fn opens_after_k_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut b = breaker();
        assert!(b.on_probe(Failure, t0).is_empty());
        assert!(b.on_probe(Failure, t0).is_empty());
        assert!(b.on_probe(Success, t0).is_empty(), "a success resets the count");
        assert!(b.on_probe(Failure, t0).is_empty());
        assert!(b.on_probe(Failure, t0).is_empty());
        assert!(b.admits_new_flows());
        assert_eq!(b.on_probe(Failure, t0), vec![Transition { from: Closed, to: Open }]);
        assert!(!b.admits_new_flows());
    }

    #[test]
    fn cooldown_then_half_open_then_closed_after_j_successes() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.on_probe(Failure, t0);
        }
        assert_eq!(b.state(), Open);
        // Successes during the cool-down change nothing.
        assert!(b.on_probe(Success, t0 + Duration::from_millis(999)).is_empty());
        assert_eq!(b.state(), Open);
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(b.on_probe(Success, t1), vec![Transition { from: Open, to: HalfOpen }]);
        assert!(!b.admits_new_flows(), "half-open gets no new flows");
        assert_eq!(b.on_probe(Success, t1), vec![Transition { from: HalfOpen, to: Closed }]);
        assert!(b.admits_new_flows());
    }

    #[test]
    fn failure_in_half_open_reopens_with_a_fresh_cooldown() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.on_probe(Failure, t0);
        }
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.poll(t1), Some(Transition { from: Open, to: HalfOpen }));
        assert_eq!(b.on_probe(Failure, t1), vec![Transition { from: HalfOpen, to: Open }]);
        assert_eq!(b.poll(t1 + Duration::from_millis(500)), None, "cool-down restarted at t1");
        assert_eq!(b.poll(t1 + Duration::from_secs(1)), Some(Transition { from: Open, to: HalfOpen }));
        // One success is not enough with J = 2.
        assert!(b.on_probe(Success, t1 + Duration::from_secs(1)).is_empty());
        assert_eq!(b.state(), HalfOpen);
    }

    #[test]
    fn force_open_ejects_once() {
        let t0 = Instant::now();
        let mut b = breaker();
        assert_eq!(b.force_open(t0), Some(Transition { from: Closed, to: Open }));
        assert_eq!(b.force_open(t0), None);
        assert!(BreakerConfig { failure_threshold: 0, ..BreakerConfig::default() }.validate().is_err());
    }
}

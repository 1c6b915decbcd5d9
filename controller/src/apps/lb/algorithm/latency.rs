//! Latency-driven selectors: least latency and latency-weighted random.

use super::rng::SplitMix64;
use super::{Candidate, SelectionContext, Selector, next_after};
use crate::apps::lb::backend::BackendId;

/// Floor on a score so that a node reporting 0 ms does not get an infinite share.
const MIN_SCORE_MS: f64 = 0.01;
/// Score assumed when no candidate has reported anything.
const UNKNOWN_SCORE_MS: f64 = 1.0;

/// Scores of all candidates, lower is better:
///
/// `score = (probe_ewma_ms + reported_p50_ms) × (1 + queue_depth) / weight`
///
/// i.e. [`LatencyStats::expected_ms`](crate::apps::lb::backend::LatencyStats::expected_ms) divided by
/// the weight. A candidate that has reported nothing yet gets the mean of the known expected latencies
/// (so it is tried, but not flooded), or 1 ms when nobody is known.
pub fn latency_score(candidates: &[Candidate]) -> Vec<f64> {
    let known: Vec<f64> = candidates.iter().filter_map(|c| c.latency.expected_ms()).collect();
    let fallback =
        if known.is_empty() { UNKNOWN_SCORE_MS } else { known.iter().sum::<f64>() / known.len() as f64 };
    candidates
        .iter()
        .map(|c| {
            let expected = c.latency.expected_ms().filter(|v| v.is_finite()).unwrap_or(fallback);
            (expected / f64::from(c.weight.max(1))).max(MIN_SCORE_MS)
        })
        .collect()
}

/// The lowest [`latency_score`]; ties in turn.
#[derive(Debug, Default)]
pub struct LeastLatency {
    last: Option<BackendId>,
}

impl Selector for LeastLatency {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        let scores = latency_score(ctx.candidates);
        let best = scores.iter().copied().fold(f64::INFINITY, f64::min);
        let tied: Vec<Candidate> =
            ctx.candidates.iter().zip(&scores).filter(|(_, s)| **s <= best).map(|(c, _)| *c).collect();
        let id = next_after(&tied, self.last)?.id;
        self.last = Some(id);
        Some(id)
    }

    fn name(&self) -> &'static str {
        "least_latency"
    }
}

/// Random with probability proportional to 1 / [`latency_score`]: a node twice as fast gets twice the
/// new flows, and slow nodes still get some traffic, so their latency keeps being measured.
#[derive(Debug)]
pub struct LatencyWeighted {
    rng: SplitMix64,
}

impl LatencyWeighted {
    pub fn new(seed: u64) -> LatencyWeighted {
        LatencyWeighted { rng: SplitMix64::new(seed) }
    }
}

impl Selector for LatencyWeighted {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        let inverse: Vec<f64> = latency_score(ctx.candidates).iter().map(|s| 1.0 / s).collect();
        let total: f64 = inverse.iter().sum();
        let mut ticket = self.rng.unit() * total;
        for (c, w) in ctx.candidates.iter().zip(&inverse) {
            if ticket < *w {
                return Some(c.id);
            }
            ticket -= w;
        }
        // Rounding can leave the ticket a hair past the end.
        ctx.candidates.last().map(|c| c.id)
    }

    fn name(&self) -> &'static str {
        "latency_weighted"
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn with_latency(p50: &[f64], queue: &[u32]) -> Vec<Candidate> {
        let mut cands = candidates(&vec![1; p50.len()]);
        for ((c, &p), &q) in cands.iter_mut().zip(p50).zip(queue) {
            c.latency.reported_p50_ms = Some(p);
            c.latency.probe_ewma_ms = Some(1.0);
            c.latency.queue_depth = Some(q);
        }
        cands
    }

    #[test]
    fn score_formula() {
        let mut cands = with_latency(&[9.0, 9.0], &[0, 1]);
        cands[1].weight = 4;
        let s = latency_score(&cands);
        assert!((s[0] - 10.0).abs() < 1e-9);
        assert!((s[1] - 5.0).abs() < 1e-9, "(1+9)·(1+1)/4");
        cands[0].latency = Default::default();
        assert!((latency_score(&cands)[0] - 20.0).abs() < 1e-9, "unknown = mean of known");
    }

    #[test]
    fn least_latency_picks_the_fast_node_and_counts_queue_depth() {
        let cands = with_latency(&[50.0, 5.0, 20.0], &[0, 0, 0]);
        assert_eq!(tally(&mut LeastLatency::default(), &cands, 10), vec![0, 10, 0]);
        // The fast node with a deep queue loses to the medium one.
        let cands = with_latency(&[50.0, 5.0, 20.0], &[0, 9, 0]);
        assert_eq!(tally(&mut LeastLatency::default(), &cands, 10), vec![0, 0, 10]);
    }

    #[test]
    fn latency_weighted_prefers_the_fast_node() {
        // Expected 4 ms vs 39 ms: shares ≈ 0.907 and 0.093.
        let cands = with_latency(&[3.0, 38.0], &[0, 0]);
        let counts = tally(&mut LatencyWeighted::new(5), &cands, 2000);
        let fast = f64::from(counts[0]) / 2000.0;
        assert!((fast - 39.0 / 43.0).abs() < 0.03, "{counts:?}");
        assert!(counts[1] > 0, "the slow node still gets some flows");
    }
}

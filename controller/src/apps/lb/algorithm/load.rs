//! Load-driven and random selectors: least connections, weighted random, power of two choices.

use super::rng::SplitMix64;
use super::{Candidate, SelectionContext, Selector, next_after};
use crate::apps::lb::backend::BackendId;

/// Fewest active flows. Ties go to the higher weight, and among equals in turn (a cursor after the
/// last pick), so a burst of new flows onto an idle pool is spread rather than piled on the first.
#[derive(Debug, Default)]
pub struct LeastConnections {
    last: Option<BackendId>,
}

impl Selector for LeastConnections {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        let fewest = ctx.candidates.iter().map(|c| c.active_flows).min()?;
        let heaviest = ctx.candidates.iter().filter(|c| c.active_flows == fewest).map(|c| c.weight).max()?;
        let tied: Vec<Candidate> = ctx
            .candidates
            .iter()
            .filter(|c| c.active_flows == fewest && c.weight == heaviest)
            .copied()
            .collect();
        let id = next_after(&tied, self.last)?.id;
        self.last = Some(id);
        Some(id)
    }

    fn name(&self) -> &'static str {
        "least_connections"
    }
}

/// Picks a candidate at random with probability weight / total weight.
pub(crate) fn weighted_pick(rng: &mut SplitMix64, candidates: &[Candidate]) -> Option<BackendId> {
    let total: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut ticket = rng.below(total);
    for c in candidates {
        let w = u64::from(c.weight);
        if ticket < w {
            return Some(c.id);
        }
        ticket -= w;
    }
    None
}

/// Random, proportional to weight (uniform when all weights are equal), from a seeded generator so a
/// run can be replayed.
#[derive(Debug)]
pub struct WeightedRandom {
    rng: SplitMix64,
}

impl WeightedRandom {
    pub fn new(seed: u64) -> WeightedRandom {
        WeightedRandom { rng: SplitMix64::new(seed) }
    }
}

impl Selector for WeightedRandom {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        weighted_pick(&mut self.rng, ctx.candidates)
    }

    fn name(&self) -> &'static str {
        "random"
    }
}

/// Power of two choices (Mitzenmacher 2001): two distinct candidates drawn uniformly, the one with
/// fewer active flows wins (on a tie the higher weight, then the first drawn). Near least-connections
/// balance without every decision herding onto the same least-loaded node.
#[derive(Debug)]
pub struct PowerOfTwoChoices {
    rng: SplitMix64,
}

impl PowerOfTwoChoices {
    pub fn new(seed: u64) -> PowerOfTwoChoices {
        PowerOfTwoChoices { rng: SplitMix64::new(seed) }
    }
}

impl Selector for PowerOfTwoChoices {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        let n = ctx.candidates.len() as u64;
        let first = ctx.candidates.get(self.rng.below(n.max(1)) as usize)?;
        if n == 1 {
            return Some(first.id);
        }
        // A second index drawn from the other n-1 positions.
        let first_at = ctx.candidates.iter().position(|c| c.id == first.id).unwrap_or(0);
        let mut other_at = self.rng.below(n - 1) as usize;
        if other_at >= first_at {
            other_at += 1;
        }
        let second = ctx.candidates.get(other_at)?;
        let better = if (second.active_flows, std::cmp::Reverse(second.weight))
            < (first.active_flows, std::cmp::Reverse(first.weight))
        {
            second
        } else {
            first
        };
        Some(better.id)
    }

    fn name(&self) -> &'static str {
        "power_of_two_choices"
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn pick(sel: &mut dyn Selector, cands: &[Candidate]) -> u16 {
        sel.select(&SelectionContext { client: client(0), candidates: cands }).map_or(u16::MAX, |b| b.0)
    }

    #[test]
    fn least_connections_prefers_the_idle_backend() {
        let mut cands = candidates(&[1, 1, 1]);
        cands[0].active_flows = 5;
        cands[1].active_flows = 0;
        cands[2].active_flows = 3;
        let mut lc = LeastConnections::default();
        for _ in 0..5 {
            assert_eq!(pick(&mut lc, &cands), 1);
        }
    }

    #[test]
    fn least_connections_ties_go_by_weight_then_in_turn() {
        let mut cands = candidates(&[1, 2, 2, 2]);
        let mut lc = LeastConnections::default();
        assert_eq!(pick(&mut lc, &cands), 1, "heavier wins a tie on flows");
        // Simulate the pool counting each new flow: picks rotate among the tied heavy backends.
        let mut seq = Vec::new();
        for _ in 0..6 {
            let id = pick(&mut lc, &cands);
            seq.push(id);
            cands[usize::from(id)].active_flows += 1;
        }
        assert_eq!(seq, vec![2, 3, 1, 0, 1, 2]);
        // Without counting, equal candidates still rotate instead of always the first.
        let idle = candidates(&[1, 1, 1]);
        let mut lc = LeastConnections::default();
        let picks: Vec<u16> = (0..3).map(|_| pick(&mut lc, &idle)).collect();
        assert_eq!(picks, vec![0, 1, 2]);
    }

    #[test]
    fn random_is_reproducible_and_follows_weights() {
        let cands = candidates(&[1, 3]);
        let a = tally(&mut WeightedRandom::new(9), &cands, 4000);
        let b = tally(&mut WeightedRandom::new(9), &cands, 4000);
        assert_eq!(a, b, "same seed, same picks");
        assert_ne!(tally(&mut WeightedRandom::new(10), &cands, 4000), a, "another seed differs");
        let share = f64::from(a[1]) / 4000.0;
        assert!((share - 0.75).abs() < 0.03, "{a:?}");
    }

    #[test]
    fn power_of_two_prefers_less_loaded() {
        let mut cands = candidates(&[1, 1, 1, 1]);
        cands[0].active_flows = 100;
        cands[1].active_flows = 100;
        cands[2].active_flows = 100;
        cands[3].active_flows = 0;
        let counts = tally(&mut PowerOfTwoChoices::new(3), &cands, 1000);
        // Backend 3 wins whenever drawn (probability 1/2 with 4 candidates); the loaded ones split the rest.
        assert!(counts[3] > 400 && counts[3] < 600, "{counts:?}");
        for &c in &counts[..3] {
            assert!(c < 250, "{counts:?}");
        }
        // With one candidate it is that one.
        assert_eq!(pick(&mut PowerOfTwoChoices::new(3), &cands[..1]), 0);
    }
}

//! Rotation: round robin and nginx's smooth weighted round robin.

use std::collections::HashMap;

use super::{SelectionContext, Selector, next_after};
use crate::apps::lb::backend::BackendId;

/// Each eligible backend in turn, by id. The cursor is the last backend chosen, so a backend leaving
/// or joining does not restart the rotation.
#[derive(Debug, Default)]
pub struct RoundRobin {
    last: Option<BackendId>,
}

impl Selector for RoundRobin {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        let id = next_after(ctx.candidates, self.last)?.id;
        self.last = Some(id);
        Some(id)
    }

    fn name(&self) -> &'static str {
        "round_robin"
    }
}

/// nginx's smooth weighted round robin (`ngx_http_upstream_get_peer`): every pick adds each backend's
/// weight to its current weight, takes the backend with the highest current weight (the first on a
/// tie) and subtracts the total weight from it. Over any window of `total` picks each backend gets
/// exactly its weight's share, interleaved rather than in bursts (5:1:1 gives a a b a c a a).
#[derive(Debug)]
pub struct SmoothWeightedRoundRobin {
    current: HashMap<BackendId, i64>,
    name: &'static str,
}

impl Default for SmoothWeightedRoundRobin {
    fn default() -> Self {
        SmoothWeightedRoundRobin::named("weighted_round_robin")
    }
}

impl SmoothWeightedRoundRobin {
    /// The same algorithm reporting another name (select_group's controller-side fallback).
    pub(crate) fn named(name: &'static str) -> SmoothWeightedRoundRobin {
        SmoothWeightedRoundRobin { current: HashMap::new(), name }
    }
}

impl Selector for SmoothWeightedRoundRobin {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        // A backend that left loses its accumulated credit; one that returns starts from zero.
        self.current.retain(|id, _| ctx.candidates.iter().any(|c| c.id == *id));
        let mut total: i64 = 0;
        let mut best: Option<(BackendId, i64)> = None;
        for c in ctx.candidates {
            let weight = i64::from(c.weight);
            total += weight;
            let cur = self.current.entry(c.id).or_insert(0);
            *cur += weight;
            if best.is_none_or(|(_, b)| *cur > b) {
                best = Some((c.id, *cur));
            }
        }
        let (id, _) = best?;
        if let Some(cur) = self.current.get_mut(&id) {
            *cur -= total;
        }
        Some(id)
    }

    fn name(&self) -> &'static str {
        self.name
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn round_robin_spreads_evenly_within_one() {
        let cands = candidates(&[1, 1, 1]);
        for n in [1u32, 2, 3, 10, 100, 301] {
            let counts = tally(&mut RoundRobin::default(), &cands, n);
            let (min, max) = (counts.iter().min().copied(), counts.iter().max().copied());
            assert!(max.zip(min).is_some_and(|(max, min)| max - min <= 1), "n={n}: {counts:?}");
        }
    }

    #[test]
    fn round_robin_keeps_its_place_when_a_backend_leaves() {
        let all = candidates(&[1, 1, 1, 1]);
        let mut rr = RoundRobin::default();
        let pick = |rr: &mut RoundRobin, cands: &[_]| {
            rr.select(&SelectionContext { client: client(0), candidates: cands }).map(|b| b.0)
        };
        assert_eq!(pick(&mut rr, &all), Some(0));
        assert_eq!(pick(&mut rr, &all), Some(1));
        let without_2: Vec<_> = all.iter().filter(|c| c.id.0 != 2).copied().collect();
        assert_eq!(pick(&mut rr, &without_2), Some(3));
        assert_eq!(pick(&mut rr, &without_2), Some(0));
    }

    #[test]
    fn smooth_wrr_matches_nginx_sequence() {
        let cands = candidates(&[5, 1, 1]);
        let mut wrr = SmoothWeightedRoundRobin::default();
        let seq: String = (0..14)
            .map(|_| {
                let id = wrr.select(&SelectionContext { client: client(0), candidates: &cands });
                id.map_or('?', |b| char::from(b'a' + b.0 as u8))
            })
            .collect();
        assert_eq!(seq, "aabacaaaabacaa");
    }

    #[test]
    fn weighted_1_2_3_within_5_percent_over_600() {
        let cands = candidates(&[1, 2, 3]);
        let counts = tally(&mut SmoothWeightedRoundRobin::default(), &cands, 600);
        for (count, expected) in counts.iter().zip([100.0, 200.0, 300.0]) {
            assert!((f64::from(*count) - expected).abs() <= expected * 0.05, "{counts:?}");
        }
    }
}

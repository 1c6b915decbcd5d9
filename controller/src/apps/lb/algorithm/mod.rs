//! Backend selection: the [`Selector`] trait, the context it decides from, and the [`Algorithm`] names
//! a pool can be switched between at run time.
//!
//! A selector sees only the *eligible* backends (breaker closed, not draining, weight > 0) as
//! [`Candidate`]s: health is the pool's business, selection the selector's. Selectors may keep state
//! between calls (a cursor, smoothed weights, an RNG, a lookup table) but must cope with the candidate
//! set changing under them, and must only return the id of a candidate in the context; the pool checks
//! this anyway (see [`super::pool::Pool::select`]).

mod latency;
mod load;
mod rng;
mod rotation;

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::backend::{BackendId, LatencyStats};
pub use latency::{LatencyWeighted, LeastLatency, latency_score};
pub use load::{LeastConnections, PowerOfTwoChoices, WeightedRandom};
pub use rng::SplitMix64;
pub use rotation::{RoundRobin, SmoothWeightedRoundRobin};

/// The client side of a new flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub ip: Ipv4Addr,
    pub port: u16,
}

/// One eligible backend as a selector sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub id: BackendId,
    /// Stable hash of the backend's address (see [`super::backend::backend_hash_key`]).
    pub key: u64,
    /// Always ≥ 1 (weight-0 backends are not eligible).
    pub weight: u16,
    pub active_flows: u64,
    pub latency: LatencyStats,
}

/// What a selector decides from.
#[derive(Debug, Clone, Copy)]
pub struct SelectionContext<'a> {
    pub client: ClientKey,
    /// Eligible backends, in ascending id order.
    pub candidates: &'a [Candidate],
}

/// A way of choosing the backend of a new flow.
pub trait Selector: Send + Sync + std::fmt::Debug {
    /// The backend for a new flow from `ctx.client`: the id of one of `ctx.candidates`, or `None`
    /// only when there are none.
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId>;

    /// The algorithm's config name.
    fn name(&self) -> &'static str;
}

/// The algorithms a pool can run, by their config/REST names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Each backend in turn.
    RoundRobin,
    /// nginx's smooth weighted round robin.
    WeightedRoundRobin,
    /// Fewest active flows; ties by weight, then in turn.
    LeastConnections,
    /// Lowest [`latency_score`].
    LeastLatency,
    /// Random, with probability inversely proportional to [`latency_score`].
    LatencyWeighted,
    /// Random, proportional to weight, from a seeded generator.
    Random,
    /// Two random candidates; the one with fewer active flows.
    PowerOfTwoChoices,
    /// Maglev consistent hashing on the client IP.
    ConsistentHash,
    /// The switch chooses, through an OpenFlow SELECT group ([`super::select_group`]).
    SelectGroup,
    /// Proactive wildcard rules on client prefixes ([`super::wildcard`]).
    Wildcard,
}

impl Algorithm {
    pub const ALL: [Algorithm; 10] = [
        Algorithm::RoundRobin,
        Algorithm::WeightedRoundRobin,
        Algorithm::LeastConnections,
        Algorithm::LeastLatency,
        Algorithm::LatencyWeighted,
        Algorithm::Random,
        Algorithm::PowerOfTwoChoices,
        Algorithm::ConsistentHash,
        Algorithm::SelectGroup,
        Algorithm::Wildcard,
    ];

    /// The config/REST name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RoundRobin => "round_robin",
            Algorithm::WeightedRoundRobin => "weighted_round_robin",
            Algorithm::LeastConnections => "least_connections",
            Algorithm::LeastLatency => "least_latency",
            Algorithm::LatencyWeighted => "latency_weighted",
            Algorithm::Random => "random",
            Algorithm::PowerOfTwoChoices => "power_of_two_choices",
            Algorithm::ConsistentHash => "consistent_hash",
            Algorithm::SelectGroup => "select_group",
            Algorithm::Wildcard => "wildcard",
        }
    }

    /// Whether the switch, not the controller, picks backends for new flows in this mode (the LB app
    /// then installs proactive rules instead of steering each flow from a PACKET_IN).
    pub fn is_switch_side(self) -> bool {
        matches!(self, Algorithm::SelectGroup | Algorithm::Wildcard)
    }

    /// A fresh selector. `seed` feeds the random algorithms; `wildcard_bits` is the wildcard mode's
    /// leaf prefix length.
    ///
    /// The switch-side modes also get a controller-side selector, for the flows that still reach the
    /// controller (before the proactive rules are in, or for a packet racing a rule change); it
    /// answers as the switch would: the wildcard selector looks the client up in the same partition
    /// the rules are built from, and select_group falls back to smooth weighted round robin, which
    /// splits by the same weights as the group's buckets.
    pub fn build(self, seed: u64, wildcard_bits: u8) -> Box<dyn Selector> {
        match self {
            Algorithm::RoundRobin => Box::new(RoundRobin::default()),
            Algorithm::WeightedRoundRobin => Box::new(SmoothWeightedRoundRobin::default()),
            Algorithm::LeastConnections => Box::new(LeastConnections::default()),
            Algorithm::LeastLatency => Box::new(LeastLatency::default()),
            Algorithm::LatencyWeighted => Box::new(LatencyWeighted::new(seed)),
            Algorithm::Random => Box::new(WeightedRandom::new(seed)),
            Algorithm::PowerOfTwoChoices => Box::new(PowerOfTwoChoices::new(seed)),
            Algorithm::ConsistentHash => Box::new(super::maglev::ConsistentHash::default()),
            Algorithm::SelectGroup => Box::new(SmoothWeightedRoundRobin::named("select_group")),
            Algorithm::Wildcard => Box::new(super::wildcard::WildcardSelector::new(wildcard_bits)),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The candidate after `last` in id order, wrapping: a cursor that survives the set changing.
pub(crate) fn next_after(candidates: &[Candidate], last: Option<BackendId>) -> Option<&Candidate> {
    match last {
        Some(last) => candidates.iter().find(|c| c.id > last).or_else(|| candidates.first()),
        None => candidates.first(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers shared by the selector tests.
    use super::*;

    pub fn candidates(weights: &[u16]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Candidate {
                id: BackendId(i as u16),
                key: super::super::backend::backend_hash_key(Ipv4Addr::new(10, 0, 1, i as u8), 8000),
                weight: w,
                active_flows: 0,
                latency: LatencyStats::default(),
            })
            .collect()
    }

    pub fn client(n: u32) -> ClientKey {
        ClientKey { ip: Ipv4Addr::from(0x0a00_0000 | n), port: 40000 + (n % 20000) as u16 }
    }

    /// Counts picks per backend over `n` selections from distinct clients.
    pub fn tally(sel: &mut dyn Selector, cands: &[Candidate], n: u32) -> Vec<u32> {
        let mut counts = vec![0u32; cands.len()];
        for i in 0..n {
            let ctx = SelectionContext { client: client(i), candidates: cands };
            let id = sel.select(&ctx).expect("candidates present");
            let pos = cands.iter().position(|c| c.id == id).expect("selected an eligible candidate");
            counts[pos] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for alg in Algorithm::ALL {
            let json = serde_json::to_string(&alg).expect("serialises");
            assert_eq!(json, format!("\"{}\"", alg.name()));
            let back: Algorithm = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, alg);
            assert_eq!(alg.build(1, 4).name(), alg.name());
        }
    }

    #[test]
    fn every_selector_returns_none_without_candidates_and_only_candidates_otherwise() {
        let all = candidates(&[1, 2, 3, 4, 5]);
        // Only backends 1 and 3 are eligible (0, 2 and 4 ejected or draining).
        let eligible: Vec<Candidate> = all.iter().filter(|c| c.id.0 % 2 == 1).copied().collect();
        for alg in Algorithm::ALL {
            let mut sel = alg.build(7, 4);
            let empty = SelectionContext { client: client(1), candidates: &[] };
            assert_eq!(sel.select(&empty), None, "{alg}");
            let counts = tally(sel.as_mut(), &eligible, 500);
            assert_eq!(counts.iter().sum::<u32>(), 500, "{alg}");
        }
    }
}

//! Consistent hashing on the client IP with a Maglev lookup table (Eisenbud et al., "Maglev: A Fast
//! and Reliable Software Network Load Balancer", NSDI 2016, §3.4).
//!
//! Each backend owns a permutation of the table's slots, `(offset + j·skip) mod M` with `offset` and
//! `skip` from two hashes of the backend's stable key; backends take turns claiming their next free
//! preferred slot until the table is full. Because preferences do not depend on the other backends,
//! removing one backend mostly re-fills only the slots it held: about 1/N of clients move, the rest
//! keep their backend. `M` is prime so every `skip` in `1..M` generates a full permutation.
//!
//! Weights are honoured by giving a backend `weight / gcd` turns per round (the weighted variant the
//! paper mentions), so shares follow weights while disruption stays minimal.

use std::net::Ipv4Addr;

use super::algorithm::{Candidate, SelectionContext, Selector};
use super::backend::{BackendId, mix64};

/// The default table size: a prime well above 100 × the largest expected pool, as §3.4 advises.
pub const DEFAULT_TABLE_SIZE: usize = 65_537;

/// A filled Maglev lookup table over a fixed list of backends.
#[derive(Debug, Clone)]
pub struct MaglevTable {
    /// `(id, key, weight)` of the backends, in the order given.
    backends: Vec<(BackendId, u64, u16)>,
    /// Slot → index into `backends`.
    slots: Vec<u16>,
}

/// Why a table cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaglevError {
    #[error("Maglev table size {0} must be a prime of at least 3")]
    NotPrime(usize),
    #[error("Maglev table of {size} slots cannot hold {backends} backends")]
    TooManyBackends { size: usize, backends: usize },
}

fn is_prime(n: usize) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| !n.is_multiple_of(d))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl MaglevTable {
    /// Fills a table of `size` slots (prime) for `backends` = `(id, stable key, weight ≥ 1)`.
    /// An empty backend list gives an empty table whose lookups return `None`.
    pub fn build(size: usize, backends: &[(BackendId, u64, u16)]) -> Result<MaglevTable, MaglevError> {
        if size < 3 || !is_prime(size) {
            return Err(MaglevError::NotPrime(size));
        }
        if backends.len() > size || backends.len() > usize::from(u16::MAX) {
            return Err(MaglevError::TooManyBackends { size, backends: backends.len() });
        }
        let backends: Vec<(BackendId, u64, u16)> =
            backends.iter().map(|&(id, key, w)| (id, key, w.max(1))).collect();
        if backends.is_empty() {
            return Ok(MaglevTable { backends, slots: Vec::new() });
        }
        let m = size as u64;
        let g = backends.iter().fold(0, |g, b| gcd(g, u64::from(b.2)));
        let turns: Vec<u64> = backends.iter().map(|b| u64::from(b.2) / g.max(1)).collect();
        let perm: Vec<(u64, u64)> = backends
            .iter()
            .map(|&(_, key, _)| {
                (mix64(key ^ 0x6d61_676c_6576_0001) % m, mix64(key ^ 0x6d61_676c_6576_0002) % (m - 1) + 1)
            })
            .collect();
        let mut next = vec![0u64; backends.len()];
        let mut slots = vec![u16::MAX; size];
        let mut filled = 0usize;
        'fill: loop {
            for (i, &(offset, skip)) in perm.iter().enumerate() {
                for _ in 0..turns[i] {
                    // Each backend's permutation visits every slot once in M steps, so while any slot
                    // is free this finds one within M tries.
                    let mut slot = ((offset + next[i] * skip) % m) as usize;
                    while slots[slot] != u16::MAX {
                        next[i] += 1;
                        slot = ((offset + next[i] * skip) % m) as usize;
                    }
                    slots[slot] = i as u16;
                    next[i] += 1;
                    filled += 1;
                    if filled == size {
                        break 'fill;
                    }
                }
            }
        }
        Ok(MaglevTable { backends, slots })
    }

    /// The backend for a 64-bit flow hash.
    pub fn lookup(&self, hash: u64) -> Option<BackendId> {
        if self.slots.is_empty() {
            return None;
        }
        let slot = (hash % self.slots.len() as u64) as usize;
        self.backends.get(usize::from(*self.slots.get(slot)?)).map(|b| b.0)
    }

    /// The backend for a client IP.
    pub fn lookup_client(&self, ip: Ipv4Addr) -> Option<BackendId> {
        self.lookup(client_hash(ip))
    }

    /// Slots owned by each backend, in the order given to [`MaglevTable::build`].
    pub fn shares(&self) -> Vec<(BackendId, usize)> {
        let mut counts = vec![0usize; self.backends.len()];
        for &s in &self.slots {
            if let Some(c) = counts.get_mut(usize::from(s)) {
                *c += 1;
            }
        }
        self.backends.iter().map(|b| b.0).zip(counts).collect()
    }
}

/// Hash of a client address: consistent hashing looks at the IP only, so every connection of a client
/// reaches the same node (and its warm cache / session).
pub fn client_hash(ip: Ipv4Addr) -> u64 {
    mix64(u64::from(u32::from(ip)) ^ 0x636c_6965_6e74_0000)
}

/// The `consistent_hash` selector: a Maglev table over the eligible candidates, rebuilt only when the
/// candidate set or a weight changes.
#[derive(Debug, Default)]
pub struct ConsistentHash {
    table: Option<MaglevTable>,
}

impl Selector for ConsistentHash {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        let wanted: Vec<(BackendId, u64, u16)> =
            ctx.candidates.iter().map(|c: &Candidate| (c.id, c.key, c.weight)).collect();
        if self.table.as_ref().is_none_or(|t| t.backends != wanted) {
            // Cannot fail: the size is prime and a pool holds at most 65535 backends.
            self.table = MaglevTable::build(DEFAULT_TABLE_SIZE, &wanted).ok();
        }
        self.table.as_ref()?.lookup_client(ctx.client.ip)
    }

    fn name(&self) -> &'static str {
        "consistent_hash"
    }
}

#[cfg(test)]
mod tests {
    use super::super::algorithm::ClientKey;
    use super::super::algorithm::testing::{candidates, client};
    use super::*;

    fn assign(sel: &mut ConsistentHash, cands: &[Candidate], clients: u32) -> Vec<BackendId> {
        (0..clients)
            .map(|i| {
                let ip = Ipv4Addr::from(0xc0a8_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761)));
                let ctx = SelectionContext { client: ClientKey { ip, port: 1 }, candidates: cands };
                sel.select(&ctx).unwrap_or(BackendId(u16::MAX))
            })
            .collect()
    }

    #[test]
    fn refuses_composite_sizes() {
        assert_eq!(MaglevTable::build(65_536, &[]).err(), Some(MaglevError::NotPrime(65_536)));
        assert!(MaglevTable::build(7, &[]).is_ok_and(|t| t.lookup(3).is_none()));
    }

    #[test]
    fn a_client_stays_on_one_backend_whatever_its_port() {
        let cands = candidates(&[1, 1, 1, 1]);
        let mut sel = ConsistentHash::default();
        let mut c = client(42);
        let first = sel.select(&SelectionContext { client: c, candidates: &cands });
        for port in [1u16, 5000, 65535] {
            c.port = port;
            assert_eq!(sel.select(&SelectionContext { client: c, candidates: &cands }), first);
        }
    }

    #[test]
    fn shares_are_balanced_and_follow_weights() {
        let table = MaglevTable::build(
            DEFAULT_TABLE_SIZE,
            &candidates(&[1, 1, 2]).iter().map(|c| (c.id, c.key, c.weight)).collect::<Vec<_>>(),
        )
        .expect("prime size");
        let shares = table.shares();
        let total = DEFAULT_TABLE_SIZE as f64;
        for ((_, n), want) in shares.iter().zip([0.25, 0.25, 0.5]) {
            assert!((*n as f64 / total - want).abs() < 0.01, "{shares:?}");
        }
    }

    #[test]
    fn removing_a_backend_moves_about_one_nth_of_clients() {
        let n = 5;
        let all = candidates(&[1; 5]);
        let clients = 20_000;
        let before = assign(&mut ConsistentHash::default(), &all, clients);
        let without: Vec<Candidate> = all.iter().filter(|c| c.id != BackendId(2)).copied().collect();
        let after = assign(&mut ConsistentHash::default(), &without, clients);
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        let moved_needlessly =
            before.iter().zip(&after).filter(|(b, a)| **b != BackendId(2) && b != a).count();
        let share = moved as f64 / f64::from(clients);
        assert!((share - 1.0 / n as f64).abs() < 0.03, "moved {share:.3} of clients");
        // Clients of surviving backends almost all stay put (Maglev trades a little of this for balance).
        assert!(
            (moved_needlessly as f64) < 0.02 * f64::from(clients),
            "{moved_needlessly} clients of surviving backends moved"
        );
        assert!(after.iter().all(|b| *b != BackendId(2)), "never the removed backend");
    }
}

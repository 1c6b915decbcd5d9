//! The `wildcard` mode: proactive rules that split the client source-address space by weight, after
//! Wang, Butnariu & Rexford, "OpenFlow-Based Server Load Balancing Gone Wild" (Hot-ICE 2011).
//!
//! The IPv4 space is cut into `2^bits` equal leaves (`bits`-long prefixes of `ipv4_src`). Each
//! eligible backend gets a number of leaves proportional to its weight (largest remainder), and the
//! leaves are covered by the fewest aligned prefixes: a fresh partition decomposes each count into
//! powers of two and lays the blocks out largest-first, so every block is aligned (§3 of the paper).
//! Rules use priority `PROACTIVE_PRIORITY + prefix length`, so a longer prefix always wins.
//!
//! On a weight or health change, [`WildcardAssignment::rebalance`] moves as few leaves as possible:
//! backends over their new share give up their highest leaves, backends under it take free leaves;
//! every other leaf keeps its owner. [`transition`] turns old → new into FlowMods that leave unchanged
//! rules untouched: adds or modifies rules for the new prefixes, then deletes the old prefixes no
//! longer used, so no packet meets a gap (a longer new prefix overrides an old shorter one as soon as
//! it is added). It compares partitions only; the LB app installs a partition's whole rule set
//! (`transition` from `None`) and diffs it against the rules the switch has (`rules::resync`), which
//! also catches a member located since the last change. Changes move the connections of the prefixes
//! that change hands, so the app applies them at once only for a lost backend or a first install,
//! and otherwise lets the installed rules carry their connections to the end first
//! (`app::transition`, the paper's §4).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ofproto::flow::FlowMod;
use ofproto::oxm::{Match, Oxm};
use serde::{Deserialize, Serialize};

use super::algorithm::{SelectionContext, Selector};
use super::backend::BackendId;
use super::pool::PoolId;
use super::rules::{
    BackendPort, LbCookie, PROACTIVE_PRIORITY, RuleGeneration, RuleKind, to_backend_actions, vip_match,
};

/// One wildcard rule: clients in `prefix/len` go to `backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PrefixRule {
    pub prefix: Ipv4Addr,
    pub len: u8,
    pub backend: BackendId,
}

impl PrefixRule {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.len);
        u32::from(ip) & mask == u32::from(self.prefix) & mask
    }

    /// Fraction of the address space the rule covers.
    pub fn share(&self) -> f64 {
        0.5f64.powi(i32::from(self.len.min(32)))
    }
}

fn prefix_mask(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) }
}

/// Leaf counts proportional to weights (largest remainder method: floors first, then the leftover
/// leaves to the largest fractional parts, ties to the lower id). Weight-0 entries get nothing.
pub fn leaf_counts(weights: &[(BackendId, u16)], bits: u8) -> BTreeMap<BackendId, u32> {
    let leaves = 1u64 << bits.min(16);
    let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut counts = BTreeMap::new();
    if total == 0 {
        return counts;
    }
    let mut remainders: Vec<(u64, BackendId)> = Vec::new();
    let mut given = 0u64;
    for &(id, w) in weights.iter().filter(|(_, w)| *w > 0) {
        let exact = u64::from(w) * leaves;
        counts.insert(id, (exact / total) as u32);
        given += exact / total;
        remainders.push((exact % total, id));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, id) in remainders.into_iter().take((leaves - given) as usize) {
        if let Some(c) = counts.get_mut(&id) {
            *c += 1;
        }
    }
    counts
}

/// Which bits of the client address the leaves are cut from.
///
/// The paper splits by the *top* bits (prefixes), which suits clients spread over the Internet. Clients
/// in one subnet (the usual inference cluster) share their top bits, so by default the split uses the
/// *low* bits: the rules then match `ipv4_src` with a suffix mask (any bitmask is allowed for
/// `ipv4_src`, OF1.3.5 §7.2.3.7). Internally the low-bits split works on the bit-reversed address, so
/// the partition, aggregation and rebalancing are the same code for both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WildcardSplit {
    /// Prefixes of the client address (Wang, Butnariu & Rexford).
    HighBits,
    /// Suffixes of the client address: spreads the hosts of one subnet.
    #[default]
    LowBits,
}

impl WildcardSplit {
    /// The address as the leaves see it.
    pub fn key(self, ip: Ipv4Addr) -> Ipv4Addr {
        match self {
            WildcardSplit::HighBits => ip,
            WildcardSplit::LowBits => Ipv4Addr::from(u32::from(ip).reverse_bits()),
        }
    }
}

/// Which backend owns each leaf of the client address space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WildcardAssignment {
    bits: u8,
    owners: Vec<Option<BackendId>>,
    split: WildcardSplit,
}

impl WildcardAssignment {
    /// A fresh partition of `2^bits` leaves (bits clamped to 1..=16) by weight, with aligned
    /// power-of-two blocks so each backend needs at most one rule per set bit of its leaf count.
    pub fn partition(weights: &[(BackendId, u16)], bits: u8) -> WildcardAssignment {
        let bits = bits.clamp(1, 16);
        let mut blocks: Vec<(u32, BackendId)> = Vec::new();
        for (id, count) in leaf_counts(weights, bits) {
            (0..32).rev().filter(|b| count & (1 << b) != 0).for_each(|b| blocks.push((1 << b, id)));
        }
        blocks.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut owners = Vec::with_capacity(1 << bits);
        for (size, id) in blocks {
            owners.extend(std::iter::repeat_n(Some(id), size as usize));
        }
        owners.resize(1 << bits, None);
        WildcardAssignment { bits, owners, split: WildcardSplit::HighBits }
    }

    /// The same leaves, cut from the bits `split` names.
    pub fn with_split(mut self, split: WildcardSplit) -> WildcardAssignment {
        self.split = split;
        self
    }

    pub fn split(&self) -> WildcardSplit {
        self.split
    }

    /// The assignment for new `weights` that moves the fewest leaves from `self` (see the module
    /// docs). With a different `bits` nothing can be kept, and it is a fresh partition.
    pub fn rebalance(&self, weights: &[(BackendId, u16)], bits: u8) -> WildcardAssignment {
        let bits = bits.clamp(1, 16);
        if bits != self.bits {
            return WildcardAssignment::partition(weights, bits).with_split(self.split);
        }
        let target = leaf_counts(weights, bits);
        let mut owners = self.owners.clone();
        let mut have: BTreeMap<BackendId, u32> = BTreeMap::new();
        for owner in owners.iter_mut() {
            match owner {
                Some(id) if target.contains_key(id) => *have.entry(*id).or_default() += 1,
                _ => *owner = None,
            }
        }
        // Over-share backends give up their highest leaves.
        for owner in owners.iter_mut().rev() {
            let Some(id) = *owner else { continue };
            let want = target.get(&id).copied().unwrap_or(0);
            if let Some(h) = have.get_mut(&id).filter(|h| **h > want) {
                *h -= 1;
                *owner = None;
            }
        }
        // Under-share backends take the free leaves in address order.
        let mut deficits =
            target.iter().map(|(id, want)| (*id, want.saturating_sub(have.get(id).copied().unwrap_or(0))));
        let mut current = deficits.next();
        for owner in owners.iter_mut().filter(|o| o.is_none()) {
            while let Some((_, 0)) = current {
                current = deficits.next();
            }
            let Some((id, left)) = current.as_mut() else { break };
            *owner = Some(*id);
            *left -= 1;
        }
        WildcardAssignment { bits, owners, split: self.split }
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The backend whose prefix contains `ip`.
    pub fn owner(&self, ip: Ipv4Addr) -> Option<BackendId> {
        let ip = self.split.key(ip);
        let leaf = (u32::from(ip) >> (32 - u32::from(self.bits))) as usize;
        self.owners.get(leaf).copied().flatten()
    }

    /// Leaves owned by `id`.
    pub fn leaves_of(&self, id: BackendId) -> usize {
        self.owners.iter().filter(|o| **o == Some(id)).count()
    }

    /// The fewest aligned prefixes covering each backend's leaves, in address order.
    pub fn rules(&self) -> Vec<PrefixRule> {
        let mut out = Vec::new();
        self.aggregate(0, self.owners.len(), &mut out);
        out
    }

    fn aggregate(&self, start: usize, size: usize, out: &mut Vec<PrefixRule>) {
        let Some(block) = self.owners.get(start..start + size) else { return };
        let first = block.first().copied().flatten();
        if block.iter().all(|o| *o == first) {
            if let Some(backend) = first {
                let len = self.bits - size.trailing_zeros() as u8;
                let prefix = Ipv4Addr::from(((start as u64) << (32 - u32::from(self.bits))) as u32);
                out.push(PrefixRule { prefix, len, backend });
            }
            return;
        }
        self.aggregate(start, size / 2, out);
        self.aggregate(start + size / 2, size / 2, out);
    }
}

/// FlowMods taking the switch from one assignment to the next, and what they do.
#[derive(Debug, Clone, Default)]
pub struct WildcardTransition {
    /// In order: adds and modifies, then deletes.
    pub flow_mods: Vec<FlowMod>,
    /// Prefix rules left as they were (per VIP port).
    pub unchanged: usize,
    /// Backends that own leaves but are missing from `members` (no MAC or no port yet): their
    /// prefixes get no rule, so those clients reach the controller through the trap rule.
    pub unresolved: Vec<BackendId>,
}

/// The match of a wildcard rule (no `ipv4_src` at all for the /0 rule).
pub fn wildcard_match(rule: &PrefixRule, vip: Ipv4Addr, vip_port: u16) -> Match {
    wildcard_match_split(rule, WildcardSplit::HighBits, vip, vip_port)
}

/// The match of a rule of an assignment split by `split`: a prefix of the client address, or for
/// [`WildcardSplit::LowBits`] the bit-reversed prefix (a suffix) and mask.
pub fn wildcard_match_split(rule: &PrefixRule, split: WildcardSplit, vip: Ipv4Addr, vip_port: u16) -> Match {
    let rule = PrefixRule { prefix: split.key(rule.prefix), ..*rule };
    let mask = split.key(Ipv4Addr::from(prefix_mask(rule.len)));
    let mut m = vip_match(vip, vip_port);
    if rule.len > 0 {
        m.insert(Oxm::Ipv4Src(rule.prefix, Some(mask)));
    }
    m
}

fn wildcard_priority(rule: &PrefixRule) -> u16 {
    PROACTIVE_PRIORITY + u16::from(rule.len)
}

/// The pool a wildcard transition is for.
#[derive(Debug, Clone, Copy)]
pub struct WildcardVip<'a> {
    pub pool: PoolId,
    pub vip: Ipv4Addr,
    pub ports: &'a [u16],
    /// The mark the rules carry (see [`RuleGeneration`]).
    pub generation: RuleGeneration,
}

/// The FlowMods from `old` (None: nothing installed) to `new` for the pool `vip`; `members` are the
/// backends rules may point at (eligible and draining ones, with the port towards each).
///
/// Flows the controller steered itself keep their exact per-flow rules, which outrank every prefix
/// rule, so they need nothing here. (Pinning them again with exact rules of even higher priority, as
/// an earlier version did, only added rules that match single source ports; in Open vSwitch's
/// userspace datapath such rules split the cached megaflows by port ranges of different widths, and
/// after a later mode switch some of those cached flows kept the old mode's actions for seconds.)
pub fn transition(
    vip: &WildcardVip<'_>,
    old: Option<&WildcardAssignment>,
    new: &WildcardAssignment,
    members: &[BackendPort],
) -> WildcardTransition {
    let WildcardVip { pool, vip, ports: vip_ports, generation } = *vip;
    let member = |id: BackendId| members.iter().find(|m| m.target.id == id);
    let old_rules: BTreeMap<(Ipv4Addr, u8), BackendId> = old
        .map(|o| o.rules())
        .unwrap_or_default()
        .into_iter()
        .map(|r| ((r.prefix, r.len), r.backend))
        .collect();
    let new_rules = new.rules();
    let mut out = WildcardTransition::default();

    for rule in &new_rules {
        let previous = old_rules.get(&(rule.prefix, rule.len));
        if previous == Some(&rule.backend) {
            out.unchanged += vip_ports.len();
            continue;
        }
        let Some(m) = member(rule.backend) else {
            if !out.unresolved.contains(&rule.backend) {
                out.unresolved.push(rule.backend);
            }
            continue;
        };
        for &port in vip_ports {
            let matcher = generation.mark(wildcard_match_split(rule, new.split(), vip, port));
            let fm = if previous.is_some() { FlowMod::modify_strict(matcher) } else { FlowMod::add(matcher) };
            out.flow_mods.push(
                fm.priority(wildcard_priority(rule))
                    .cookie(LbCookie::new(pool, Some(rule.backend), RuleKind::Wildcard).encode())
                    .apply_actions(to_backend_actions(&m.target, port, m.out_port)),
            );
        }
    }
    for (&(prefix, len), &backend) in &old_rules {
        if new_rules.iter().any(|r| r.prefix == prefix && r.len == len) {
            continue;
        }
        let rule = PrefixRule { prefix, len, backend };
        for &port in vip_ports {
            out.flow_mods.push(
                FlowMod::delete_strict(generation.mark(wildcard_match_split(&rule, new.split(), vip, port)))
                    .priority(wildcard_priority(&rule)),
            );
        }
    }
    out
}

/// The controller-side answer of the wildcard mode, for packets that reach the controller: the owner
/// of the client's prefix in a fresh partition of the candidates' weights. (The pool answers from the
/// assignment it installed when it has one; see `Pool::select`.)
#[derive(Debug)]
pub struct WildcardSelector {
    bits: u8,
    cached: Option<(Vec<(BackendId, u16)>, WildcardAssignment)>,
}

impl WildcardSelector {
    pub fn new(bits: u8) -> WildcardSelector {
        WildcardSelector { bits, cached: None }
    }
}

impl Selector for WildcardSelector {
    fn select(&mut self, ctx: &SelectionContext<'_>) -> Option<BackendId> {
        let weights: Vec<(BackendId, u16)> = ctx.candidates.iter().map(|c| (c.id, c.weight)).collect();
        if self.cached.as_ref().is_none_or(|(w, _)| *w != weights) {
            let assignment = WildcardAssignment::partition(&weights, self.bits);
            self.cached = Some((weights, assignment));
        }
        let owner = self.cached.as_ref().and_then(|(_, a)| a.owner(ctx.client.ip));
        // With more candidates than leaves some own nothing; every leaf still has an owner.
        owner.or_else(|| ctx.candidates.first().map(|c| c.id))
    }

    fn name(&self) -> &'static str {
        "wildcard"
    }
}

#[cfg(test)]
mod tests;

use ofproto::PortNo;
use ofproto::flow::FlowModCommand;

use super::*;
use crate::apps::lb::pool::BackendTarget;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

fn vip(ports: &[u16]) -> WildcardVip<'_> {
    WildcardVip { pool: PoolId(0), vip: VIP, ports, generation: RuleGeneration::default() }
}

fn ids(weights: &[u16]) -> Vec<(BackendId, u16)> {
    weights.iter().enumerate().map(|(i, &w)| (BackendId(i as u16), w)).collect()
}

fn members(n: u16) -> Vec<BackendPort> {
    (0..n)
        .map(|i| BackendPort {
            target: BackendTarget {
                id: BackendId(i),
                ip: Ipv4Addr::new(10, 0, 0, 11 + i as u8),
                mac: ofproto::MacAddr([0, 0, 0, 0, 0, 0x11 + i as u8]),
                port: 8000,
                weight: 1,
            },
            out_port: PortNo(u32::from(i) + 2),
        })
        .collect()
}

fn share_of(rules: &[PrefixRule], id: BackendId) -> f64 {
    rules.iter().filter(|r| r.backend == id).map(PrefixRule::share).sum()
}

#[test]
fn partition_sizes_approximate_weights_with_power_of_two_blocks() {
    let counts = leaf_counts(&ids(&[1, 2, 3]), 4);
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![3, 5, 8]);
    let a = WildcardAssignment::partition(&ids(&[1, 2, 3]), 4);
    let rules = a.rules();
    // 8 = one /1; 5 = /2 + /4; 3 = /3 + /4: one rule per set bit.
    assert_eq!(rules.len(), 5, "{rules:?}");
    assert_eq!(rules[0], PrefixRule { prefix: Ipv4Addr::new(0, 0, 0, 0), len: 1, backend: BackendId(2) });
    for (id, weight) in ids(&[1, 2, 3]) {
        let want = f64::from(weight) / 6.0;
        assert!((share_of(&rules, id) - want).abs() <= 1.0 / 16.0, "{id:?}: {}", share_of(&rules, id));
    }
    let total: f64 = rules.iter().map(PrefixRule::share).sum();
    assert!((total - 1.0).abs() < 1e-12, "the whole space is covered");
    // Every address falls in exactly one rule, the owner's.
    for n in 0..64u32 {
        let ip = Ipv4Addr::from(n.wrapping_mul(0x0400_0001).wrapping_add(n << 26));
        let hits: Vec<_> = rules.iter().filter(|r| r.contains(ip)).collect();
        assert_eq!(hits.len(), 1, "{ip}");
        assert_eq!(Some(hits[0].backend), a.owner(ip));
    }
    // Finer leaves approximate better.
    let fine = WildcardAssignment::partition(&ids(&[1, 2, 3]), 10).rules();
    assert!((share_of(&fine, BackendId(0)) - 1.0 / 6.0).abs() <= 1.0 / 1024.0);
}

#[test]
fn ejecting_a_backend_moves_only_its_prefix() {
    let old = WildcardAssignment::partition(&ids(&[1, 1, 1, 1]), 2);
    assert_eq!(old.rules().len(), 4);
    // Backend 3 ejected.
    let new = old.rebalance(&ids(&[1, 1, 1]), 2);
    let rules = new.rules();
    assert_eq!(rules[3], PrefixRule { prefix: Ipv4Addr::new(192, 0, 0, 0), len: 2, backend: BackendId(0) });
    let t = transition(&vip(&[8000]), Some(&old), &new, &members(3));
    assert_eq!(t.unchanged, 3, "three prefixes keep their rules");
    assert_eq!(t.flow_mods.len(), 1);
    let fm = &t.flow_mods[0];
    assert_eq!(fm.command, FlowModCommand::ModifyStrict);
    assert_eq!(fm.priority, PROACTIVE_PRIORITY + 2);
    assert_eq!(
        fm.r#match.get(ofproto::oxm::OxmField::Ipv4Src),
        Some(&Oxm::Ipv4Src(Ipv4Addr::new(192, 0, 0, 0), Some(Ipv4Addr::new(192, 0, 0, 0))))
    );
    assert_eq!(
        LbCookie::decode(fm.cookie).map(|c| (c.backend, c.kind)),
        Some((Some(BackendId(0)), RuleKind::Wildcard))
    );
}

#[test]
fn weight_change_keeps_unchanged_prefixes_and_adds_before_it_deletes() {
    let old = WildcardAssignment::partition(&ids(&[1, 1, 1, 1]), 3);
    let new = old.rebalance(&ids(&[3, 1, 1, 1]), 3);
    assert_eq!(leaf_counts(&ids(&[3, 1, 1, 1]), 3).values().copied().collect::<Vec<_>>(), vec![4, 2, 1, 1]);
    for id in 0..4 {
        assert_eq!(new.leaves_of(BackendId(id)), [4, 2, 1, 1][usize::from(id)]);
    }
    // Only two leaves changed owner (the fewest possible for 2,2,2,2 → 4,2,1,1).
    let moved = (0..8u32)
        .filter(|l| old.owner(Ipv4Addr::from(l << 29)) != new.owner(Ipv4Addr::from(l << 29)))
        .count();
    assert_eq!(moved, 2);
    // A client in leaf 5 (160.0.0.0/3) was on backend 2 and its leaf moves.
    let moving = Ipv4Addr::new(170, 0, 0, 1);
    assert_eq!(old.owner(moving), Some(BackendId(2)));
    assert_ne!(new.owner(moving), Some(BackendId(2)));
    let t = transition(&vip(&[8000]), Some(&old), &new, &members(4));
    assert_eq!(t.unchanged, 2, "0.0.0.0/2 and 64.0.0.0/2 untouched");
    let kinds: Vec<(FlowModCommand, u16)> = t.flow_mods.iter().map(|f| (f.command, f.priority)).collect();
    assert!(
        t.flow_mods.iter().all(|f| f.r#match.get(ofproto::oxm::OxmField::TcpSrc).is_none()),
        "prefix rules only: no rule for a single client port"
    );
    let adds = kinds.iter().filter(|k| **k == (FlowModCommand::Add, PROACTIVE_PRIORITY + 3)).count();
    let deletes: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| k.0 == FlowModCommand::DeleteStrict)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(adds, 4, "four /3 rules replace two /2 rules");
    assert_eq!(deletes, vec![4, 5], "deletes come last");
    // Nothing installed yet: everything is an add.
    let first = transition(&vip(&[8000, 8001]), None, &new, &members(4));
    assert_eq!(first.flow_mods.len(), new.rules().len() * 2);
    assert!(first.flow_mods.iter().all(|f| f.command == FlowModCommand::Add));
}

#[test]
fn single_backend_owns_everything_with_one_unmasked_rule() {
    let a = WildcardAssignment::partition(&ids(&[5]), 4);
    let rules = a.rules();
    assert_eq!(rules, vec![PrefixRule { prefix: Ipv4Addr::UNSPECIFIED, len: 0, backend: BackendId(0) }]);
    assert_eq!(wildcard_match(&rules[0], VIP, 8000).get(ofproto::oxm::OxmField::Ipv4Src), None);
    let t = transition(&vip(&[8000]), None, &a, &[]);
    assert_eq!(t.unresolved, vec![BackendId(0)], "no member to point at");
    assert!(t.flow_mods.is_empty());
    assert!(WildcardAssignment::partition(&[], 4).rules().is_empty());
}

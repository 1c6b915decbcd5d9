//! Tests of the topology graph on the shapes the Mininet tests use: a ring and a k=4 fat-tree.

use super::*;

fn port(n: u32) -> PortInfo {
    PortInfo {
        port_no: PortNo(n),
        hw_addr: MacAddr([2, 0, 0, 0, 0, n as u8]),
        name: format!("eth{n}"),
        up: true,
    }
}

fn mac(n: u8) -> MacAddr {
    MacAddr([0, 0, 0, 0, 0, n])
}

/// A bidirectional link between (switch, port) pairs.
type TestLink = ((u64, u32), (u64, u32));

/// Builds a graph from switches (dpid, port count) and bidirectional links.
fn build(switches: &[(u64, u32)], links: &[TestLink], now: Instant) -> TopologyGraph {
    let mut g = TopologyGraph::new();
    for &(dpid, n) in switches {
        g.add_switch(dpid, (1..=n).map(port), now);
    }
    for &((a, pa), (b, pb)) in links {
        let (a, b) = (Endpoint::new(a, PortNo(pa)), Endpoint::new(b, PortNo(pb)));
        assert!(matches!(g.learn_link(a, b, now), LinkUpdate::New { .. }));
        assert!(matches!(g.learn_link(b, a, now), LinkUpdate::New { .. }));
    }
    g
}

/// A ring of `n` switches: port 1 goes to the next switch, port 2 to the previous, port 3 to a host.
fn ring_links(n: u64) -> Vec<TestLink> {
    (1..=n).map(|i| ((i, 1), (i % n + 1, 2))).collect()
}

fn ring(n: u64, now: Instant) -> TopologyGraph {
    let switches: Vec<(u64, u32)> = (1..=n).map(|i| (i, 3)).collect();
    build(&switches, &ring_links(n), now)
}

/// The k=4 fat-tree of `mininet/topos.py`: cores 1-4, aggregation 5-12 and edge 13-20 (pod p owns
/// aggregation 5+2p, 6+2p and edge 13+2p, 14+2p). Edge ports 1-2 face hosts, 3-4 the pod's
/// aggregation switches; aggregation ports 1-2 face the pod's edges, 3-4 two cores; core port p+1
/// faces pod p.
fn fat_tree(now: Instant) -> TopologyGraph {
    let mut switches = Vec::new();
    let mut links = Vec::new();
    for dpid in 1..=20 {
        switches.push((dpid, 4));
    }
    for pod in 0..4u64 {
        for a in 0..2u64 {
            let agg = 5 + 2 * pod + a;
            for e in 0..2u64 {
                let edge = 13 + 2 * pod + e;
                links.push(((agg, 1 + e as u32), (edge, 3 + a as u32)));
            }
            for c in 0..2u64 {
                let core = 1 + 2 * a + c;
                links.push(((agg, 3 + c as u32), (core, 1 + pod as u32)));
            }
        }
    }
    build(&switches, &links, now)
}

/// Floods one broadcast from `start` the way the app does (a PACKET_OUT per switch on the ports
/// `flood_ports` names; a copy arriving on a port goes to the controller again) and returns how many
/// copies each edge port received. Panics if the flood does not die out.
fn flood_deliveries(g: &TopologyGraph, start: Endpoint) -> BTreeMap<Endpoint, usize> {
    let peers: BTreeMap<Endpoint, Endpoint> = g.links().collect();
    let mut delivered = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    let mut steps = 0;
    while let Some(arrived) = queue.pop_front() {
        steps += 1;
        assert!(steps < 10_000, "broadcast storm");
        let Some(ports) = g.flood_ports(arrived.dpid, arrived.port) else { continue };
        for p in ports {
            let out = Endpoint::new(arrived.dpid, p);
            match peers.get(&out) {
                Some(far) => queue.push_back(*far),
                None => *delivered.entry(out).or_insert(0) += 1,
            }
        }
    }
    delivered
}

#[test]
fn ring_shortest_paths_are_shortest_and_tie_break_is_independent_of_learning_order() {
    let now = Instant::now();
    let g = ring(4, now);
    // Neighbours: one hop.
    assert_eq!(g.shortest_path(1, 2), Some(vec![Hop { dpid: 1, out_port: PortNo(1) }]));
    assert_eq!(g.shortest_path(2, 1), Some(vec![Hop { dpid: 2, out_port: PortNo(2) }]));
    assert_eq!(g.shortest_path(3, 3), Some(vec![]));
    // Opposite corners: two equal-length paths (via 2 or via 4). The search from 3 visits 3's port 1
    // (towards 4) first, so 1 → 4 → 3.
    let p = g.shortest_path(1, 3).unwrap();
    assert_eq!(p, vec![Hop { dpid: 1, out_port: PortNo(2) }, Hop { dpid: 4, out_port: PortNo(2) }]);

    // The same links learned in reverse order give the same path.
    let mut links = ring_links(4);
    links.reverse();
    let reversed = build(&[(4, 3), (3, 3), (2, 3), (1, 3)], &links, now);
    assert_eq!(reversed.shortest_path(1, 3), Some(p));
}

#[test]
fn paths_towards_one_destination_agree_on_shared_switches() {
    let g = ring(6, Instant::now());
    let mut next_hop: BTreeMap<u64, PortNo> = BTreeMap::new();
    for src in 1..=6 {
        for hop in g.shortest_path(src, 4).unwrap() {
            let prev = next_hop.insert(hop.dpid, hop.out_port);
            assert!(prev.is_none() || prev == Some(hop.out_port), "switch {} disagrees", hop.dpid);
        }
    }
}

#[test]
fn fat_tree_path_lengths() {
    let g = fat_tree(Instant::now());
    // Same edge switch: nothing to cross. Same pod: edge → agg → edge. Other pod: up to a core and down.
    assert_eq!(g.shortest_path(13, 13).unwrap().len(), 0);
    assert_eq!(g.shortest_path(13, 14).unwrap().len(), 2);
    for dst in [15, 17, 20] {
        let path = g.shortest_path(13, dst).unwrap();
        assert_eq!(path.len(), 4, "13 → {dst}: {path:?}");
        assert!((1..=4).contains(&path[2].dpid), "third switch is a core: {path:?}");
    }
    // Every hop leaves through a port that really leads to the next switch.
    let peers: BTreeMap<Endpoint, Endpoint> = g.links().collect();
    let path = g.shortest_path(20, 13).unwrap();
    let mut at = 20;
    for hop in &path {
        assert_eq!(hop.dpid, at);
        at = peers[&Endpoint::new(hop.dpid, hop.out_port)].dpid;
    }
    assert_eq!(at, 13);
}

#[test]
fn spanning_tree_spans_without_cycles() {
    let now = Instant::now();
    for (g, n) in [(ring(4, now), 4usize), (fat_tree(now), 20)] {
        let tree = g.spanning_tree();
        // A tree on n switches has n - 1 links, two endpoints each.
        assert_eq!(tree.len(), 2 * (n - 1));
        let touched: BTreeSet<u64> = tree.iter().map(|e| e.dpid).collect();
        assert_eq!(touched.len(), n);
    }
    // The ring's tree leaves out exactly one link; a copy arriving on it is dropped.
    let g = ring(4, now);
    let tree = g.spanning_tree();
    let blocked: Vec<(Endpoint, Endpoint)> = g.links().filter(|(a, _)| !tree.contains(a)).collect();
    assert_eq!(blocked.len(), 2, "one link, both directions: {blocked:?}");
    assert_eq!(g.flood_ports(blocked[0].0.dpid, blocked[0].0.port), None);
}

#[test]
fn broadcast_reaches_every_host_port_exactly_once() {
    let now = Instant::now();
    // Ring: every switch has a host on port 3.
    let g = ring(4, now);
    let got = flood_deliveries(&g, Endpoint::new(1, PortNo(3)));
    let want: BTreeMap<Endpoint, usize> = (2..=4).map(|s| (Endpoint::new(s, PortNo(3)), 1)).collect();
    assert_eq!(got, want);

    // Fat-tree: 16 host ports (edge switches 13-20, ports 1-2); from one of them the other 15 get one copy.
    let g = fat_tree(now);
    let start = Endpoint::new(17, PortNo(2));
    let got = flood_deliveries(&g, start);
    assert_eq!(got.len(), 15);
    assert!(got.values().all(|&n| n == 1), "{got:?}");
    assert!(!got.contains_key(&start), "never back out of the input port");
    assert!(got.keys().all(|e| (13..=20).contains(&e.dpid) && e.port.0 <= 2));
}

#[test]
fn flood_skips_down_ports_and_unknown_switches() {
    let now = Instant::now();
    let mut g = build(&[(1, 3)], &[], now);
    let mut down = port(2);
    down.up = false;
    g.update_port(1, PortNo(2), Some(down));
    assert_eq!(g.flood_ports(1, PortNo(1)), Some(vec![PortNo(3)]));
    assert_eq!(g.flood_ports(9, PortNo(1)), None);
}

#[test]
fn links_expire_unless_refreshed() {
    let t0 = Instant::now();
    let mut g = build(&[(1, 2), (2, 2)], &[((1, 1), (2, 1))], t0);
    let timeout = Duration::from_secs(3);
    let (a, b) = (Endpoint::new(1, PortNo(1)), Endpoint::new(2, PortNo(1)));
    let found = g.link_generation();
    assert_eq!(found, 2, "one change per direction found");
    assert_eq!(g.learn_link(a, b, t0 + Duration::from_secs(2)), LinkUpdate::Refreshed);
    assert_eq!(g.learn_link(b, a, t0 + Duration::from_secs(2)), LinkUpdate::Refreshed);
    assert!(g.expire_links(t0 + Duration::from_secs(4), timeout).is_empty(), "refreshed at t0+2");
    assert_eq!(g.link_generation(), found, "refreshing or expiring nothing changes no path");
    let expired = g.expire_links(t0 + Duration::from_secs(6), timeout);
    assert_eq!(expired, vec![(a, b), (b, a)]);
    assert_eq!(g.link_generation(), found + 1, "the expiry is one change");
    assert!(!g.is_inter_switch(a));
    assert_eq!(g.shortest_path(1, 2), None, "no link, no path");
}

#[test]
fn stale_direction_expires_alone() {
    let t0 = Instant::now();
    let mut g = build(&[(1, 2), (2, 2)], &[((1, 1), (2, 1))], t0);
    let (a, b) = (Endpoint::new(1, PortNo(1)), Endpoint::new(2, PortNo(1)));
    g.learn_link(a, b, t0 + Duration::from_secs(3));
    let expired =
        g.expire_links(t0 + Duration::from_secs(4), Duration::from_secs(3) + Duration::from_millis(500));
    assert_eq!(expired, vec![(b, a)]);
    assert!(g.is_inter_switch(b), "the other direction still marks both ports as inter-switch");
}

#[test]
fn hosts_are_learned_on_edge_ports_only() {
    let now = Instant::now();
    let mut g = build(&[(1, 3), (2, 3)], &[((1, 1), (2, 1))], now);
    let ip = Some(Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(g.learn_host(mac(1), Endpoint::new(1, PortNo(1)), ip, None), HostUpdate::Ignored);
    assert_eq!(g.learn_host(mac(1), Endpoint::new(2, PortNo(1)), ip, None), HostUpdate::Ignored);
    assert_eq!(
        g.learn_host(MacAddr::BROADCAST, Endpoint::new(1, PortNo(3)), None, None),
        HostUpdate::Ignored
    );
    assert_eq!(g.learn_host(mac(1), Endpoint::new(7, PortNo(3)), None, None), HostUpdate::Ignored);
    assert_eq!(g.learn_host(mac(1), Endpoint::new(1, PortNo(3)), ip, None), HostUpdate::New);
    let v6: Ipv6Addr = "fe80::1".parse().unwrap();
    assert_eq!(g.learn_host(mac(1), Endpoint::new(1, PortNo(3)), None, Some(v6)), HostUpdate::Known);
    assert_eq!(
        g.learn_host(mac(1), Endpoint::new(1, PortNo(3)), Some(Ipv4Addr::UNSPECIFIED), None),
        HostUpdate::Known
    );
    let h = g.host(&mac(1)).unwrap();
    assert_eq!(h.ipv4, BTreeSet::from([Ipv4Addr::new(10, 0, 0, 1)]));
    assert_eq!(h.ipv6, BTreeSet::from([v6]));

    // Path from switch 2 to the host: across the link, then onto its port.
    assert_eq!(
        g.path_to_host(2, &mac(1)),
        Some(vec![Hop { dpid: 2, out_port: PortNo(1) }, Hop { dpid: 1, out_port: PortNo(3) }])
    );

    // The host moves to switch 2.
    let moved = g.learn_host(mac(1), Endpoint::new(2, PortNo(2)), None, None);
    assert_eq!(moved, HostUpdate::Moved { from: Endpoint::new(1, PortNo(3)) });
    assert!(g.host(&mac(1)).unwrap().ipv4.is_empty());
}

#[test]
fn a_new_link_evicts_hosts_learned_on_its_ports() {
    let now = Instant::now();
    let mut g = build(&[(1, 2), (2, 2)], &[], now);
    // Before discovery, a frame relayed from switch 2 looked like a host on switch 1 port 2.
    assert_eq!(g.learn_host(mac(9), Endpoint::new(1, PortNo(2)), None, None), HostUpdate::New);
    let update = g.learn_link(Endpoint::new(2, PortNo(2)), Endpoint::new(1, PortNo(2)), now);
    assert_eq!(update, LinkUpdate::New { removed_hosts: vec![mac(9)] });
    assert!(g.host(&mac(9)).is_none());
}

#[test]
fn probes_from_unknown_places_or_back_to_the_same_switch_are_ignored() {
    let now = Instant::now();
    let mut g = build(&[(1, 2)], &[], now);
    assert_eq!(
        g.learn_link(Endpoint::new(1, PortNo(1)), Endpoint::new(1, PortNo(2)), now),
        LinkUpdate::Ignored
    );
    assert_eq!(
        g.learn_link(Endpoint::new(5, PortNo(1)), Endpoint::new(1, PortNo(2)), now),
        LinkUpdate::Ignored
    );
    assert_eq!(
        g.learn_link(Endpoint::new(1, PortNo(9)), Endpoint::new(1, PortNo(2)), now),
        LinkUpdate::Ignored
    );
}

#[test]
fn port_down_and_switch_down_remove_links_and_hosts() {
    let now = Instant::now();
    let mut g = ring(4, now);
    g.learn_host(mac(3), Endpoint::new(3, PortNo(3)), None, None);
    // Port 1 of switch 1 (towards 2) goes down: the ring becomes a line, 1 → 2 now goes the long way.
    let mut down = port(1);
    down.up = false;
    let before = g.link_generation();
    assert_eq!(g.update_port(1, PortNo(1), Some(down)), (true, vec![]));
    assert_eq!(g.shortest_path(1, 2).unwrap().len(), 3);
    assert_eq!(g.link_generation(), before + 1, "paths may have changed");
    // A host port that is deleted loses its host.
    assert_eq!(g.update_port(3, PortNo(3), None), (false, vec![mac(3)]));
    assert!(!g.switch(3).unwrap().ports.contains_key(&PortNo(3)));
    assert_eq!(g.link_generation(), before + 1, "no link went with the host port");
    // Switch 4 leaves: 1 is cut off.
    assert!(g.remove_switch(4));
    assert_eq!(g.link_generation(), before + 2);
    assert_eq!(g.shortest_path(1, 2), None);
    assert!(g.links().all(|(a, b)| a.dpid != 4 && b.dpid != 4));
}

#[test]
fn reserved_ports_are_not_tracked() {
    let mut g = TopologyGraph::new();
    let local = PortInfo { port_no: PortNo::LOCAL, ..port(1) };
    g.add_switch(1, [port(1), local], Instant::now());
    assert_eq!(g.switch(1).unwrap().ports.keys().copied().collect::<Vec<_>>(), vec![PortNo(1)]);
    assert_eq!(g.flood_ports(1, PortNo::CONTROLLER), Some(vec![PortNo(1)]));
}

use super::*;
use crate::apps::lb::algorithm::Algorithm;
use crate::lab::topology::Topology;

fn repo_topology(name: &str) -> Topology {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies").join(name);
    Topology::from_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn names_follow_the_documented_rules() {
    assert_eq!(host_namespace("default", "c1"), "rudder-default-c1");
    assert_eq!(switch_namespace("default"), "rudder-default-ovs");
    assert_eq!(bridge_name("default", "s1"), "r-default-s1");
    assert_eq!(bridge_name("fat-tree", "core1"), "r-fat-tre-core1", "topology part cut to fit 15");
    assert_eq!(bridge_name("a-very-long-topology", "edge8"), "r-a-very--edge8");
    assert_eq!(access_interface("default"), "rudder-default");
    assert_eq!(access_interface("fat-tree"), "rudder-fat-tree");
    assert_eq!(access_interface("experiment-one"), "rudder-experime");
    for t in ["default", "hetero", "tree", "fat-tree"] {
        let plan = Plan::new(&repo_topology(&format!("{t}.toml")), true).unwrap();
        for b in &plan.bridges {
            assert!(b.name.len() <= IFNAME_MAX, "{}", b.name);
        }
    }
}

#[test]
fn the_default_plan_wires_every_host_to_its_switch_in_order() {
    let plan = Plan::new(&repo_topology("default.toml"), true).unwrap();
    assert_eq!(plan.switch_namespace.as_deref(), Some("rudder-default-ovs"));
    let ports: Vec<(String, u16)> = plan.hosts.iter().map(|h| (h.port.name.clone(), h.port.ofport)).collect();
    let expected: Vec<(String, u16)> = [("c1", 1), ("c2", 2), ("n1", 3), ("n2", 4), ("n3", 5)]
        .iter()
        .map(|(n, p)| (n.to_string(), *p))
        .collect();
    assert_eq!(ports, expected);
    let access = plan.access.as_ref().unwrap();
    assert_eq!(
        (access.interface.as_str(), access.port.name.as_str(), access.port.ofport),
        ("rudder-default", "rudder-default", 6)
    );
    let n3 = &plan.hosts[4];
    assert_eq!(n3.namespace, "rudder-default-n3");
    assert_eq!(n3.node.as_ref().unwrap().listen.to_string(), "10.0.0.13:8000");
    assert_eq!(n3.node.as_ref().unwrap().model, "v2");
    assert!(plan.hosts[0].node.is_none(), "clients run nothing");

    let steps = plan.steps(true, true);
    assert_eq!(steps[0], Step::StartOvs { namespace: "rudder-default-ovs".into() });
    let pos = |f: &dyn Fn(&Step) -> bool| steps.iter().position(f).unwrap();
    let controller = pos(&|s| matches!(s, Step::StartController));
    let first_node = pos(&|s| matches!(s, Step::StartNode(_)));
    let access_step = pos(&|s| matches!(s, Step::AddHostAccess(_)));
    assert!(access_step < controller && controller < first_node, "network, then controller, then nodes");
    assert_eq!(steps.last(), Some(&Step::WaitNodes));
    assert_eq!(steps.iter().filter(|s| matches!(s, Step::StartNode(_))).count(), 3);

    let bare = plan.steps(false, false);
    assert!(!bare.iter().any(|s| matches!(s, Step::StartController | Step::StartNode(_) | Step::WaitNodes)));
}

#[test]
fn an_external_ovs_gets_distinct_names_in_the_machines_namespace() {
    let plan = Plan::new(&repo_topology("default.toml"), false).unwrap();
    assert_eq!(plan.switch_namespace, None);
    let access = plan.access.clone().unwrap();
    assert_eq!((access.interface.as_str(), access.port.name.as_str()), ("rudder-default", "ha-default"));
    assert!(!plan.steps(true, true).iter().any(|s| matches!(s, Step::StartOvs { .. })));
}

#[test]
fn links_get_ports_on_both_switches_and_shaping_on_both_ends() {
    let plan = Plan::new(&repo_topology("tree.toml"), true).unwrap();
    let l = &plan.links[0];
    assert_eq!((l.a.bridge.as_str(), l.a.name.as_str()), ("r-tree-s1", "s1-s2"));
    assert_eq!((l.b.bridge.as_str(), l.b.name.as_str()), ("r-tree-s2", "s2-s1"));
    // s1 has no hosts: its ports are the three links then host access.
    assert_eq!(plan.links.iter().map(|l| l.a.ofport).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(plan.access.as_ref().unwrap().port.ofport, 4);
    // s2 has two clients first, then its link.
    assert_eq!(l.b.ofport, 3);
    let shaped: Vec<String> = plan
        .steps(false, false)
        .iter()
        .filter_map(|s| match s {
            Step::Shape { interface, netem, .. } => Some(format!("{interface}:{netem}")),
            _ => None,
        })
        .collect();
    assert!(shaped.contains(&"s1-s2:delay 2000us".to_string()), "{shaped:?}");
    assert!(shaped.contains(&"s2-s1:delay 2000us".to_string()), "{shaped:?}");
    assert!(shaped.contains(&"s4-s1:delay 2000us, rate 100000000bit".to_string()), "{shaped:?}");
}

#[test]
fn netem_arguments_carry_delay_jitter_loss_and_rate() {
    let plan = Plan::new(&repo_topology("hetero.toml"), true).unwrap();
    let n4 = plan.hosts.iter().find(|h| h.name == "n4").unwrap();
    let netem = n4.shaping.unwrap();
    assert_eq!(
        netem.tc_args("eth0").join(" "),
        "qdisc replace dev eth0 root netem delay 20000us 2000us loss 0.1%"
    );
    let steps = plan.steps(false, false);
    let n4_shapes: Vec<&Step> = steps
        .iter()
        .filter(|s| matches!(s, Step::Shape { interface, .. } if interface == "n4" || interface == "eth0"))
        .filter(|s| matches!(s, Step::Shape { netem: n, .. } if *n == netem))
        .collect();
    assert_eq!(n4_shapes.len(), 2, "both ends of n4's access link are shaped");
    assert_eq!(Netem::new(None, None, Some(0.0), None), None, "0 % loss shapes nothing");
    let rate = Netem::new(None, None, None, Some("1gbit".parse().unwrap())).unwrap();
    assert_eq!(rate.tc_args("x").join(" "), "qdisc replace dev x root netem rate 1000000000bit");
    let n1 = plan.hosts.iter().find(|h| h.name == "n1").unwrap().node.clone().unwrap();
    assert_eq!((n1.cpu, n1.workers), (Some(2.0), Some(2)));
    let n3 = plan.hosts.iter().find(|h| h.name == "n3").unwrap().node.clone().unwrap();
    assert_eq!(n3.workers, Some(1), "half a core still gets one worker");
}

#[test]
fn the_controller_config_parses_as_the_controller_and_lb_configs() {
    let topology = repo_topology("default.toml");
    let text = controller_config(&topology).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(table["listen"].as_array().unwrap()[0].as_str(), Some("127.0.0.1:6653"));
    assert_eq!(table["api_listen"].as_str(), Some("127.0.0.1:8080"));
    let apps: Vec<&str> = table["apps"].as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
    assert_eq!(apps, ["l2switch", "lb"]);
    let lb: LbConfig = table["lb"].clone().try_into().expect("[lb] parses as LbConfig");
    lb.validate().unwrap();
    assert_eq!(lb.pools.len(), 2);
    let v1 = &lb.pools[0];
    assert_eq!(
        (v1.name.as_str(), v1.vip.to_string(), v1.algorithm),
        ("v1", "10.0.0.100".into(), Algorithm::RoundRobin)
    );
    assert_eq!(v1.vip_mac.to_string(), "02:00:00:00:01:64");
    let backends: Vec<String> = v1
        .backends
        .iter()
        .map(|b| {
            format!(
                "{}:{} {} w{} {}",
                b.ip,
                b.port,
                b.mac.unwrap(),
                b.weight,
                b.model_version.as_deref().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        backends,
        ["10.0.0.11:8000 02:00:00:00:00:0b w1 v1", "10.0.0.12:8000 02:00:00:00:00:0c w1 v1"]
    );
    assert_eq!(lb.pools[1].backends[0].model_version.as_deref(), Some("v2"));
    assert_ne!(lb.pools[0].vip_mac, lb.pools[1].vip_mac, "each VIP answers ARP with its own MAC");

    // And the whole text is what `rudder serve --config` reads.
    let config: crate::Config = toml::from_str(&text).unwrap();
    assert_eq!(config.api_listen.unwrap().port(), 8080);
    assert_eq!(config.apps, ["l2switch", "lb"]);
    assert_eq!(config.lb.pools, lb.pools);
}

#[test]
fn a_topology_without_pools_has_no_lb_section_and_weights_carry_over() {
    let text = r#"
        name = "plain"
        subnet = "10.9.0.0/24"
        [controller]
        openflow = "127.0.0.1:16653"
        api = "127.0.0.1:18080"
        [[switches]]
        name = "s1"
    "#;
    let topology = Topology::from_toml(text, "t").unwrap();
    let config: crate::Config = toml::from_str(&controller_config(&topology).unwrap()).unwrap();
    assert_eq!(config.listen[0].port(), 16653);
    assert_eq!(config.apps, ["l2switch"]);

    let hetero = lb_config(&repo_topology("hetero.toml"));
    let weights: Vec<u16> = hetero.pools[0].backends.iter().map(|b| b.weight).collect();
    assert_eq!(weights, [4, 2, 1, 1]);
    assert_eq!(hetero.pools[0].algorithm, Algorithm::WeightedRoundRobin);
}

#[test]
fn probe_timing_in_the_topology_reaches_the_balancer() {
    // The shipped topologies probe every second, so a killed node is ejected within seconds.
    let default = lb_config(&repo_topology("default.toml"));
    assert_eq!((default.probe_interval_ms, default.probe_timeout_ms), (1000, 500));

    let mut topology = repo_topology("default.toml");
    topology.controller.probe_interval = None;
    topology.controller.probe_timeout = None;
    let lb = lb_config(&topology);
    assert_eq!((lb.probe_interval_ms, lb.probe_timeout_ms), (5000, 1000), "the balancer's defaults");

    // Too fast to be useful: refused with the balancer's own limit in the message.
    topology.controller.probe_interval = Some("20ms".parse().unwrap());
    let err = controller_config(&topology).unwrap_err().to_string();
    assert!(err.contains("probe_interval_ms"), "{err}");
}

#[test]
fn colliding_interface_names_are_refused() {
    // Long switch names make the link ports `l0a`/`l0b`; a host named `l0a` would take the same
    // name in the switch namespace.
    let text = |host: &str| {
        format!(
            r#"
            name = "x"
            subnet = "10.9.0.0/24"
            [[switches]]
            name = "switchaaaa1"
            [[switches]]
            name = "switchbbbb2"
            [[links]]
            a = "switchaaaa1"
            b = "switchbbbb2"
            [[hosts]]
            name = "{host}"
            role = "client"
            switch = "switchaaaa1"
            ip = "10.9.0.1"
            "#
        )
    };
    let fine = Plan::new(&Topology::from_toml(&text("h1"), "t").unwrap(), true).unwrap();
    assert_eq!((fine.links[0].a.name.as_str(), fine.links[0].b.name.as_str()), ("l0a", "l0b"));
    let err = Plan::new(&Topology::from_toml(&text("l0a"), "t").unwrap(), true).unwrap_err();
    assert!(err.0.contains("\"l0a\""), "{err}");
}

#[test]
fn without_netem_only_the_rate_has_a_substitute() {
    let both =
        Netem::new(Some("2ms".parse().unwrap()), None, Some(1.0), Some("100mbit".parse().unwrap())).unwrap();
    assert_eq!(
        both.tbf_args("s1-s2").unwrap().join(" "),
        "qdisc replace dev s1-s2 root tbf rate 100000000bit burst 125000 latency 100ms"
    );
    assert_eq!(both.netem_only(), "delay 2000us, loss 1%");
    let slow = Netem::new(None, None, None, Some("64kbit".parse().unwrap())).unwrap();
    assert!(slow.tbf_args("x").unwrap().contains(&"3000".to_string()), "a burst holds a full frame");
    assert_eq!(slow.netem_only(), "");
    let delay_only = Netem::new(Some("1ms".parse().unwrap()), None, None, None).unwrap();
    assert_eq!(delay_only.tbf_args("x"), None);
}

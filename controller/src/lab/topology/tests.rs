use std::collections::HashSet;

use super::*;

const MINIMAL: &str = r#"
name = "t"
subnet = "10.0.0.0/24"
[[switches]]
name = "s1"
[[hosts]]
name = "c1"
role = "client"
switch = "s1"
ip = "10.0.0.1"
[[hosts]]
name = "n1"
role = "inference"
switch = "s1"
ip = "10.0.0.11"
"#;

fn parse(text: &str) -> Result<Topology, TopologyError> {
    Topology::from_toml(text, "test.toml")
}

/// The validation error for `MINIMAL` with `extra` appended (or `replace` swapped in).
fn error_with(extra: &str) -> String {
    parse(&format!("{MINIMAL}{extra}")).expect_err("must be rejected").to_string()
}

fn error_replacing(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "{from:?} not in the sample");
    parse(&MINIMAL.replace(from, to)).expect_err("must be rejected").to_string()
}

fn repo_file(name: &str) -> Topology {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies").join(name);
    Topology::from_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_minimal_file_gets_the_documented_defaults() {
    let t = parse(MINIMAL).unwrap();
    assert_eq!(t.controller.apps, vec!["l2switch"]);
    assert_eq!(t.controller.openflow.to_string(), "127.0.0.1:6653");
    assert_eq!(t.controller.api.to_string(), "127.0.0.1:8080");
    assert_eq!(t.switches[0].dpid(), 1, "dpid from the number in the name");
    let n1 = t.host("n1").unwrap();
    assert_eq!(n1.serve_port(), 8000);
    assert_eq!(n1.model_name(), "v1");
    assert_eq!(n1.mac().to_string(), "02:00:00:00:00:0b", "MAC from the last octet");
}

#[test]
fn every_shipped_topology_is_valid_and_shaped_as_documented() {
    let default = repo_file("default.toml");
    assert_eq!(default.switches.len(), 1);
    let models: Vec<&str> = default.inference_hosts().map(|h| h.model_name()).collect();
    assert_eq!(models, ["v1", "v1", "v2"]);
    assert_eq!(default.hosts.iter().filter(|h| h.role == Role::Client).count(), 2);
    let vips: Vec<String> = default.pools.iter().map(|p| format!("{}={}", p.name, p.vip)).collect();
    assert_eq!(vips, ["v1=10.0.0.100", "v2=10.0.0.200"]);

    let hetero = repo_file("hetero.toml");
    let cpus: HashSet<String> =
        hetero.inference_hosts().filter_map(|h| h.cpu).map(|c| c.to_string()).collect();
    assert!(cpus.len() >= 3, "nodes differ in CPU share: {cpus:?}");
    let weights: HashSet<u16> = hetero.pools[0].backends.iter().map(|b| b.weight).collect();
    assert!(weights.len() > 1, "the pool is weighted");

    let tree = repo_file("tree.toml");
    assert!(tree.controller.apps.contains(&"topology".to_string()));
    assert!(tree.switches.len() >= 3 && tree.links.len() == tree.switches.len() - 1, "a tree");

    let fat = repo_file("fat-tree.toml");
    let count = |prefix: &str| fat.switches.iter().filter(|s| s.name.starts_with(prefix)).count();
    assert_eq!((count("core"), count("agg"), count("edge")), (4, 8, 8));
    assert_eq!(fat.links.len(), 32, "k=4: 16 core-aggregation + 16 aggregation-edge links");
    assert!(fat.has_loop());
    assert!(fat.hosts.iter().all(|h| h.switch.starts_with("edge")), "hosts hang off edge switches");
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let err = error_with("[[links]]\na = \"s1\"\nb = \"s1\"\ndelya = \"5ms\"\n");
    assert!(err.contains("delya"), "{err}");
    let err = error_replacing("role = \"client\"", "role = \"client\"\nmodle = \"v1\"");
    assert!(err.contains("modle"), "{err}");
}

#[test]
fn a_link_to_an_unknown_switch_names_the_key() {
    let err = error_with("[[links]]\na = \"s1\"\nb = \"s9\"\n");
    assert_eq!(err, "links[0].b: unknown switch \"s9\"");
}

#[test]
fn duplicate_and_out_of_subnet_addresses_are_rejected() {
    let err = error_replacing("ip = \"10.0.0.11\"", "ip = \"10.0.0.1\"");
    assert_eq!(err, "hosts[1] (n1).ip: 10.0.0.1 is already used by hosts[0] (c1).ip");
    let err = error_replacing("ip = \"10.0.0.11\"", "ip = \"10.0.1.11\"");
    assert_eq!(err, "hosts[1] (n1).ip: 10.0.1.11 is outside the subnet 10.0.0.0/24");
    let err = error_replacing("ip = \"10.0.0.11\"", "ip = \"10.0.0.255\"");
    assert!(err.contains("broadcast"), "{err}");
    let err = error_with("[host_access]\nswitch = \"s1\"\nip = \"10.0.0.11\"\n");
    assert!(err.starts_with("host_access.ip: 10.0.0.11 is already used by hosts[1] (n1).ip"), "{err}");
}

#[test]
fn pool_backends_must_be_inference_hosts_on_a_pool_port() {
    let apps = "[controller]\napps = [\"l2switch\", \"lb\"]\n";
    let pool = |backends: &str| {
        format!("[[pools]]\nname = \"p\"\nvip = \"10.0.0.100\"\nports = [8000]\nbackends = [{backends}]\n")
    };
    let with = |extra: String| parse(&format!("{MINIMAL}{extra}")).map(|_| ()).map_err(|e| e.to_string());
    assert_eq!(with(format!("{apps}{}", pool("{ host = \"n1\" }"))), Ok(()));
    let err = with(format!("{apps}{}", pool("{ host = \"c1\" }"))).unwrap_err();
    assert_eq!(err, "pools[0] (p).backends[0].host: \"c1\" is a Client host, not an inference host");
    let err = with(format!("{apps}{}", pool("{ host = \"n9\" }"))).unwrap_err();
    assert_eq!(err, "pools[0] (p).backends[0].host: unknown host \"n9\"");
    let err = with(format!("{apps}{}", pool("{ host = \"n1\", weight = 0 }"))).unwrap_err();
    assert_eq!(err, "pools[0] (p).backends[0].weight: must be at least 1");
    let err = with(pool("{ host = \"n1\" }")).unwrap_err();
    assert!(err.contains("\"lb\" app is not listed"), "{err}");
    let off_port = MINIMAL.replace("ip = \"10.0.0.11\"", "ip = \"10.0.0.11\"\nport = 9000");
    let err = parse(&format!("{off_port}{apps}{}", pool("{ host = \"n1\" }"))).unwrap_err().to_string();
    assert!(err.contains("serves on port 9000, which is not one of the pool's ports"), "{err}");
    let err =
        with(format!("{apps}{}", pool("{ host = \"n1\" }").replace("10.0.0.100", "10.0.0.1"))).unwrap_err();
    assert!(err.starts_with("pools[0] (p).vip: 10.0.0.1 is already used"), "{err}");
}

#[test]
fn names_must_make_valid_interface_names() {
    let err = error_replacing("name = \"c1\"", "name = \"C-1\"");
    assert!(err.starts_with("hosts[0].name: \"C-1\" is not a valid name"), "{err}");
    let err = error_replacing("name = \"c1\"", "name = \"n1\"");
    assert_eq!(err, "hosts[1].name: two hosts are named \"n1\"");
    let err = error_replacing("name = \"c1\"", "name = \"ovs\"");
    assert!(err.contains("reserved"), "{err}");
    let err = error_replacing("name = \"t\"", "name = \"Has Space\"");
    assert!(err.starts_with("name: "), "{err}");
}

#[test]
fn dpids_come_from_names_or_are_required_and_unique() {
    let err = error_replacing("name = \"s1\"", "name = \"core\"");
    assert!(err.contains("switches[0] (core).dpid: the name holds no number"), "{err}");
    let err = error_with("[[switches]]\nname = \"x1\"\n");
    assert_eq!(err, "switches[1] (x1).dpid: datapath id 1 is also switch \"s1\"'s");
}

#[test]
fn l2switch_refuses_loops_and_conflicting_apps() {
    let triangle = "[[switches]]\nname = \"s2\"\n[[switches]]\nname = \"s3\"\n\
                    [[links]]\na = \"s1\"\nb = \"s2\"\n[[links]]\na = \"s2\"\nb = \"s3\"\n[[links]]\na = \"s3\"\nb = \"s1\"\n";
    let err = error_with(triangle);
    assert!(err.contains("loop") && err.contains("topology"), "{err}");
    let ok = parse(&format!("{MINIMAL}[controller]\napps = [\"topology\"]\n{triangle}"));
    assert!(ok.is_ok(), "{ok:?}");
    let err = error_with("[controller]\napps = [\"l2switch\", \"topology\"]\n");
    assert!(err.contains("pick one"), "{err}");
    let err = error_with("[controller]\napps = [\"l2switch\", \"lbb\"]\n");
    assert_eq!(err, "controller.apps[1]: unknown app \"lbb\" (known: l2switch, topology, lb)");
    let err = error_with("[[links]]\na = \"s1\"\nb = \"s1\"\n");
    assert!(err.contains("to itself"), "{err}");
}

#[test]
fn shaping_values_are_checked() {
    let err = error_replacing("ip = \"10.0.0.1\"", "ip = \"10.0.0.1\"\ndelay = \"5 parsecs\"");
    assert!(err.contains("is not a delay"), "{err}");
    let err = error_replacing("ip = \"10.0.0.1\"", "ip = \"10.0.0.1\"\nloss = 140.0");
    assert_eq!(err, "hosts[0] (c1).loss: 140 is not a percentage (0 to 100)");
    let err = error_replacing("ip = \"10.0.0.1\"", "ip = \"10.0.0.1\"\njitter = \"1ms\"");
    assert_eq!(err, "hosts[0] (c1).jitter: jitter needs a delay");
    let err = error_replacing("ip = \"10.0.0.1\"", "ip = \"10.0.0.1\"\nrate = \"fast\"");
    assert!(err.contains("is not a rate"), "{err}");
    let err = error_replacing("ip = \"10.0.0.1\"", "ip = \"10.0.0.1\"\ncpu = 2.0");
    assert_eq!(err, "hosts[0] (c1).cpu: only inference hosts serve a model (role = \"inference\")");
    let err = error_replacing("ip = \"10.0.0.11\"", "ip = \"10.0.0.11\"\nmodel = \"../etc\"");
    assert!(err.contains("directory name under models/"), "{err}");
}

#[test]
fn syntax_errors_name_the_file() {
    let err = parse("name = ").unwrap_err().to_string();
    assert!(err.starts_with("topology test.toml:"), "{err}");
}

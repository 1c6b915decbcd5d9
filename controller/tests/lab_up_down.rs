//! `rudder up` / `rudder down` on a real private Open vSwitch with network namespaces: a tiny
//! topology (one switch, a client, an inference node, l2switch) is built, traffic flows between
//! namespaces and from the machine, `up` twice is safe, and `down` leaves nothing behind, also
//! after the controller crashed. With an Open vSwitch someone else runs (`--ovs-db`), `down` deletes
//! the bridges it added, so the next `up` starts clean. With `--no-controller`, the bridges reach a
//! controller the user runs on loopback through the relay.

mod lab;

use std::path::PathBuf;
use std::process::Command;

use lab::{Lab, http_get, require_root_and_ovs};

const CLIENT_AND_NODE: &str = r#"
[[hosts]]
name = "c1"
role = "client"
switch = "s1"
ip = "{net}.1"

[[hosts]]
name = "n1"
role = "inference"
switch = "s1"
ip = "{net}.11"
port = 8000
model = "v1"
cpu = 1.0
delay = "1ms"

[host_access]
switch = "s1"
ip = "{net}.254"
"#;

#[test]
fn up_builds_a_working_topology_and_down_removes_everything() {
    require_root_and_ovs();
    let lab = Lab::new(&["l2switch"], CLIENT_AND_NODE);
    let out = lab.up(&[]);
    assert!(out.contains(&format!("topology {:?} is up", lab.name)), "{out}");
    assert!(
        out.contains(&format!("ip netns exec {} curl", lab.namespace("c1"))),
        "the summary shows how: {out}"
    );

    // The switch connected to the controller `up` started.
    let (code, body) = http_get(lab.api, "/stats/switches").expect("the REST API answers");
    assert_eq!((code, body.trim()), (200, "[1]"));

    // Namespaces reach each other through the bridge and the controller's flows.
    let node_ip = lab.ip(11).to_string();
    let ping = lab.exec("c1", "ping", &["-c", "3", "-i", "0.2", "-W", "2", &node_ip]);
    assert!(ping.status.success(), "c1 cannot ping n1: {}", String::from_utf8_lossy(&ping.stdout));
    // The 1 ms access-link delay applies in both directions on n1's link.
    let rtt = String::from_utf8_lossy(&ping.stdout).to_string();
    let avg: f64 = rtt
        .lines()
        .find(|l| l.contains("min/avg/max"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.trim().split('/').nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    if out.contains("has no netem qdisc") {
        // Kernels without sch_netem (some VMs) cannot delay: up must say so, naming the link.
        assert!(out.contains("delay 1000us on eth0 not applied"), "{out}");
        assert!(out.contains("delay 1000us on n1 not applied"), "{out}");
    } else {
        assert!(avg >= 2.0, "netem delay of 1 ms each way missing: avg rtt {avg} ms\n{rtt}");
    }

    // The node answers /health from the client's namespace...
    let url = format!("http://{node_ip}:8000/health");
    let health = lab.exec("c1", "curl", &["-s", "-m", "10", &url]);
    let json: serde_json::Value = serde_json::from_slice(&health.stdout).unwrap_or_else(|e| {
        panic!("/health from c1 is not JSON ({e}): {}", String::from_utf8_lossy(&health.stdout))
    });
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["node_id"], "n1", "{json}");
    // ... and from this machine through the host-access port.
    let (code, body) = http_get(format!("{node_ip}:8000").parse().unwrap(), "/health").expect("host access");
    assert_eq!(code, 200, "{body}");

    // Up again: nothing changes.
    let pids = lab.all_pids();
    assert_eq!(lab.pids("node").len(), 1);
    assert_eq!(lab.pids("controller").len(), 1);
    let again = lab.up(&[]);
    assert!(again.contains("already up"), "{again}");
    assert_eq!(lab.all_pids(), pids, "the second up started nothing");

    let out = lab.down();
    assert!(out.contains("is down"), "{out}");
    lab.assert_nothing_left(&pids);
    // Down again is fine.
    let out = lab.down();
    assert!(out.contains("is not up"), "{out}");
}

#[test]
fn down_and_up_recover_after_the_controller_crashed() {
    require_root_and_ovs();
    let lab = Lab::new(&["l2switch"], CLIENT_AND_NODE);
    lab.up(&["--no-nodes"]);
    assert!(lab.pids("node").is_empty(), "--no-nodes starts no node");
    let first = lab.all_pids();
    let controller = lab.pids("controller")[0];
    let killed =
        std::process::Command::new("kill").args(["-KILL", &controller.to_string()]).status().unwrap();
    assert!(killed.success());

    // Up notices the crash, tears the rest down and builds afresh.
    let out = lab.up(&["--no-nodes"]);
    assert!(out.contains("not fully up") && out.contains("is up"), "{out}");
    let second = lab.all_pids();
    assert_ne!(lab.pids("controller"), vec![controller], "a new controller runs");
    for pid in &first {
        assert!(!second.contains(pid) || !std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
    let (code, _) = http_get(lab.api, "/stats/switches").expect("the new controller answers");
    assert_eq!(code, 200);

    // Crash again, then down cleans up everything from the record.
    let controller = lab.pids("controller")[0];
    std::process::Command::new("kill").args(["-KILL", &controller.to_string()]).status().unwrap();
    lab.down();
    lab.assert_nothing_left(&second);
    lab.assert_nothing_left(&first);
}

/// An ovsdb-server and ovs-vswitchd in this machine's namespace, as a user's own OVS would run:
/// stopped by the PIDs they wrote, with their directory removed, when dropped. (The only OVS the
/// tests run outside a namespace of their own: one userspace datapath per namespace.)
struct ExternalOvs {
    dir: PathBuf,
}

impl ExternalOvs {
    fn start(name: &str) -> ExternalOvs {
        let dir = std::env::temp_dir().join(format!("rudder-{name}-external-ovs"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ovs = ExternalOvs { dir };
        let p = |f: &str| ovs.dir.join(f).display().to_string();
        ovs.run("ovsdb-tool", &["create", &p("conf.db"), "/usr/share/openvswitch/vswitch.ovsschema"]);
        ovs.run(
            "ovsdb-server",
            &[
                &p("conf.db"),
                &format!("--remote=punix:{}", p("db.sock")),
                &format!("--pidfile={}", p("ovsdb-server.pid")),
                &format!("--log-file={}", p("ovsdb-server.log")),
                &format!("--unixctl={}", p("ovsdb-server.ctl")),
                "--detach",
            ],
        );
        ovs.run("ovs-vsctl", &[&format!("--db={}", ovs.db()), "--no-wait", "init"]);
        ovs.run(
            "ovs-vswitchd",
            &[
                &ovs.db(),
                &format!("--pidfile={}", p("ovs-vswitchd.pid")),
                &format!("--log-file={}", p("ovs-vswitchd.log")),
                &format!("--unixctl={}", p("ovs-vswitchd.ctl")),
                "--detach",
            ],
        );
        ovs
    }

    fn db(&self) -> String {
        format!("unix:{}", self.dir.join("db.sock").display())
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .env("OVS_RUNDIR", &self.dir)
            .env("OVS_DBDIR", &self.dir)
            .env("OVS_LOGDIR", &self.dir)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn bridges(&self) -> Vec<String> {
        self.run("ovs-vsctl", &[&format!("--db={}", self.db()), "list-br"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for ExternalOvs {
    fn drop(&mut self) {
        // `exit --cleanup` deletes the datapath's tap device (`ovs-netdev`) and the bridges' internal
        // ports: a netdev datapath left in this namespace would stop the next one from starting.
        // Bridges a failed test left go first: with them, the tap device outlived `exit --cleanup`.
        let db = format!("--db={}", self.db());
        let left =
            Command::new("ovs-vsctl").args([&db, "list-br"]).output().map(|o| o.stdout).unwrap_or_default();
        for bridge in String::from_utf8_lossy(&left).lines() {
            let _ = Command::new("ovs-vsctl").args([&db, "del-br", bridge]).status();
        }
        let ctl = self.dir.join("ovs-vswitchd.ctl").display().to_string();
        let _ = Command::new("ovs-appctl").args(["-t", &ctl, "exit", "--cleanup"]).status();
        for daemon in ["ovs-vswitchd", "ovsdb-server"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(format!("{daemon}.pid"))) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn down_deletes_the_bridges_it_added_to_an_external_ovs() {
    require_root_and_ovs();
    // Declared first, dropped last: a failing test's `down` still finds the database.
    let ovs;
    let lab = Lab::new(&["l2switch"], CLIENT_AND_NODE);
    ovs = ExternalOvs::start(&lab.name);
    let bridge = format!("r-{}-s1", lab.name);
    let node_ip = lab.ip(11).to_string();
    for round in 1..=2 {
        lab.up(&["--no-nodes", "--ovs-db", &ovs.db()]);
        assert_eq!(ovs.bridges(), vec![bridge.clone()], "round {round}: up adds its bridge");
        // Round 2 is the one a bridge left over from round 1 broke: its ports named interfaces
        // that no longer existed, so nothing was forwarded.
        let ping = lab.exec("c1", "ping", &["-c", "2", "-i", "0.2", "-W", "2", &node_ip]);
        assert!(ping.status.success(), "round {round}: c1 cannot reach n1 through the external OVS");
        let out = lab.down();
        assert!(out.contains(&format!("bridge {bridge}")), "round {round}: down names the bridge: {out}");
        assert_eq!(ovs.bridges(), Vec::<String>::new(), "round {round}: down leaves no bridge behind");
    }
}

#[test]
fn without_its_own_controller_up_relays_the_bridges_to_the_users() {
    require_root_and_ovs();
    let lab = Lab::new(&["l2switch"], CLIENT_AND_NODE);
    // The user's controller, on the topology's `[controller]` addresses.
    // Killed when dropped, also when an assertion fails.
    struct Serve(std::process::Child);
    impl Drop for Serve {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _controller = Serve(
        Command::new(env!("CARGO_BIN_EXE_rudder"))
            .args(["serve", "--app", "l2switch", "--no-dashboard"])
            .args(["--listen", &lab.openflow.to_string(), "--api-listen", &lab.api.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start rudder serve"),
    );
    lab.up(&["--no-controller", "--no-nodes"]);
    assert_eq!(lab.pids("controller"), Vec::<u32>::new(), "up started no controller");
    assert_eq!(lab.pids("relay").len(), 1, "the relay runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut switches = String::new();
    while std::time::Instant::now() < deadline {
        switches = http_get(lab.api, "/stats/switches").map(|(_, b)| b).unwrap_or_default();
        if switches.trim() == "[1]" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(switches.trim(), "[1]", "the bridge reached the user's controller through the relay");
    let ping = lab.exec("c1", "ping", &["-c", "2", "-i", "0.2", "-W", "2", &lab.ip(11).to_string()]);
    assert!(ping.status.success(), "c1 cannot reach n1 through the user's controller's flows");
    let relay = lab.pids("relay");
    lab.down();
    lab.assert_nothing_left(&relay);
}

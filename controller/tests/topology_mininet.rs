//! Mininet acceptance tests: `mn ... --test pingall` against the real `rudder` binary must lose no
//! packet, with `l2switch` and `topology` on loop-free topologies and with `topology` on a ring and a
//! k=4 fat-tree (loops, equal-cost paths). On the ring the s1-s2 link is then taken down: the REST API
//! must stop listing it and a second pingall must still lose nothing (traffic reroutes the long way).
//!
//! Needs root, Mininet and the system Open vSwitch (Mininet only drives the system instance); the test
//! starts OVS with `ovs-ctl` if it is not running and stops it again afterwards. The cases run one
//! after another in a single test because they share the system OVS and Mininet's global names (s1,
//! h1, ...). Slow (a few minutes), so ignored by default:
//!
//! ```text
//! cargo test -p rudder-controller --test topology_mininet -- --ignored --nocapture
//! ```

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OVS_CTL: &str = "/usr/share/openvswitch/scripts/ovs-ctl";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("controller/ is inside the repository")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

fn command_ok(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The system OVS, started by this test if it was not running (and then stopped by it).
struct SystemOvs {
    started_here: bool,
}

impl SystemOvs {
    fn ensure() -> SystemOvs {
        if command_ok("ovs-vsctl", &["--timeout=5", "show"]) {
            return SystemOvs { started_here: false };
        }
        assert!(command_ok(OVS_CTL, &["start", "--system-id=random"]), "ovs-ctl start failed");
        assert!(command_ok("ovs-vsctl", &["--timeout=10", "show"]), "OVS started but does not answer");
        SystemOvs { started_here: true }
    }
}

impl Drop for SystemOvs {
    fn drop(&mut self) {
        if self.started_here {
            let _ = Command::new(OVS_CTL).arg("stop").status();
        }
    }
}

/// A `rudder serve` process, killed (by its PID) when dropped.
struct Controller {
    child: Child,
    log: PathBuf,
}

impl Controller {
    fn start(app: &str, port: u16, api_port: u16) -> Controller {
        let log = std::env::temp_dir().join(format!("rudder-mininet-{app}-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("controller log file");
        let child = Command::new(env!("CARGO_BIN_EXE_rudder"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--app", app])
            .args(["--api-listen", &format!("127.0.0.1:{api_port}")])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawning rudder");
        let mut c = Controller { child, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = c.child.try_wait() {
                panic!("rudder exited with {status} before listening:\n{}", c.log_text());
            }
            assert!(Instant::now() < deadline, "rudder is not listening on {port}:\n{}", c.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        // The tail is what explains a failure.
        let start = s.len().saturating_sub(8000);
        let start = (start..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
        s[start..].to_string()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every `*** Results: 0% dropped (12/12 received)` line → (dropped percent, received, sent).
fn parse_pingall(output: &str) -> Vec<(u32, u32, u32)> {
    let parse = |line: &str| -> Option<(u32, u32, u32)> {
        let rest = line.split("Results:").nth(1)?.trim();
        let (pct, rest) = rest.split_once("% dropped (")?;
        let (counts, _) = rest.split_once(" received)")?;
        let (received, sent) = counts.split_once('/')?;
        Some((pct.trim().parse().ok()?, received.parse().ok()?, sent.parse().ok()?))
    };
    output.lines().filter(|l| l.trim_start().starts_with("*** Results:")).filter_map(parse).collect()
}

/// For the link-failure case: a Mininet CLI script run after the first pingall that records the
/// links the REST API reports, takes the s1-s2 link down, waits, records them again and pings again.
fn link_down_script(dir: &Path, api_port: u16) -> PathBuf {
    let url = format!("http://127.0.0.1:{api_port}/v1.0/topology/links");
    let script = format!(
        "sh curl -s {url} > {before}\nlink s1 s2 down\nsh sleep 3\nsh curl -s {url} > {after}\npingall\n",
        before = dir.join("links-before.json").display(),
        after = dir.join("links-after.json").display(),
    );
    let path = dir.join("ring-link-down.cli");
    std::fs::write(&path, script).expect("writing the Mininet script");
    path
}

/// (src dpid, src port, dst dpid, dst port) of every link in a `/v1.0/topology/links` answer.
fn links_in(path: &Path) -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {text:?}", path.display()));
    let field =
        |v: &serde_json::Value, end: &str, f: &str| v[end][f].as_str().unwrap_or_default().to_string();
    json.as_array()
        .map(|links| {
            links
                .iter()
                .map(|l| {
                    (
                        field(l, "src", "dpid"),
                        field(l, "src", "port_no"),
                        field(l, "dst", "dpid"),
                        field(l, "dst", "port_no"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

struct Case {
    app: &'static str,
    topo: &'static str,
    custom: bool,
    hosts: u32,
    timeout: Duration,
    /// Take the s1-s2 link down after the first pingall and ping again (ring only).
    link_down: bool,
}

/// Runs one `mn --test pingall` against a fresh controller; panics with both sides' output unless
/// every pingall lost nothing.
fn run_case(case: &Case) {
    let port = free_port();
    let api_port = free_port();
    let controller = Controller::start(case.app, port, api_port);
    let scratch = std::env::temp_dir().join(format!("rudder-mininet-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let topos = repo_root().join("mininet/topos.py");
    let mut args: Vec<String> =
        vec!["-k".into(), "10".into(), case.timeout.as_secs().to_string(), "mn".into()];
    args.extend(["--switch".into(), "ovs,datapath=user,protocols=OpenFlow13".into()]);
    args.extend(["--controller".into(), format!("remote,ip=127.0.0.1,port={port}"), "--wait".into()]);
    if case.custom {
        args.extend(["--custom".into(), topos.display().to_string()]);
    }
    if case.link_down {
        args.extend(["--post".into(), link_down_script(&scratch, api_port).display().to_string()]);
    }
    args.extend(["--topo".into(), case.topo.into(), "--test".into(), "pingall".into()]);
    let started = Instant::now();
    let out = Command::new("timeout").args(&args).output().expect("running mn under timeout");
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        // Our own run died half-way: clean up what it left behind before the next case.
        let _ = Command::new("mn").arg("-c").stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
    let results = parse_pingall(&output);
    eprintln!("{} --topo {}: {results:?} in {:.1}s", case.app, case.topo, started.elapsed().as_secs_f64());
    let pairs = case.hosts * (case.hosts - 1);
    let want_runs = if case.link_down { 2 } else { 1 };
    let ok = results.len() == want_runs && results.iter().all(|&(pct, _, sent)| pct == 0 && sent == pairs);
    assert!(
        ok,
        "{} --topo {}: pingall {results:?}, want {want_runs} x 0% of {pairs} (mn exit {:?})\n--- mn ---\n{output}\n--- rudder ---\n{}",
        case.app,
        case.topo,
        out.status,
        controller.log_text()
    );
    if case.link_down {
        // Before: the whole ring, both directions. After: the s1-s2 link (s1 port 1, s2 port 2) is gone.
        let before = links_in(&scratch.join("links-before.json"));
        let after = links_in(&scratch.join("links-after.json"));
        assert_eq!(before.len(), 8, "links before: {before:?}");
        assert_eq!(after.len(), 6, "links after s1-s2 went down: {after:?}");
        let s1_1 = ("0000000000000001".to_string(), "00000001".to_string());
        assert!(
            after
                .iter()
                .all(|(sd, sp, dd, dp)| (sd.clone(), sp.clone()) != s1_1 && (dd.clone(), dp.clone()) != s1_1),
            "the downed link is still listed: {after:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
#[ignore = "needs root, Mininet and the system Open vSwitch; takes minutes"]
fn pingall_loses_nothing() {
    assert!(is_root(), "Mininet needs root");
    assert!(command_ok("which", &["mn"]), "mn is not installed");
    let _ovs = SystemOvs::ensure();
    let min = |m: u64| Duration::from_secs(60 * m);
    let mut cases = Vec::new();
    for app in ["l2switch", "topology"] {
        let builtin =
            |topo, hosts, timeout| Case { app, topo, custom: false, hosts, timeout, link_down: false };
        cases.push(builtin("single,4", 4, min(2)));
        cases.push(builtin("linear,4", 4, min(2)));
        cases.push(builtin("tree,depth=2,fanout=3", 9, min(3)));
    }
    cases.push(Case {
        app: "topology",
        topo: "ring,4",
        custom: true,
        hosts: 4,
        timeout: min(3),
        link_down: true,
    });
    cases.push(Case {
        app: "topology",
        topo: "fattree,4",
        custom: true,
        hosts: 16,
        timeout: min(6),
        link_down: false,
    });
    // `RUDDER_MININET_ONLY=ring` runs the cases whose topology contains that text.
    if let Ok(only) = std::env::var("RUDDER_MININET_ONLY") {
        cases.retain(|c| c.topo.contains(&only) || c.app == only);
    }
    for case in &cases {
        run_case(case);
    }
}

#[test]
fn parses_mininet_results_line() {
    let out = "*** Ping: testing ping reachability\nh1 -> h2 \n*** Results: 0% dropped (12/12 received)\n";
    assert_eq!(parse_pingall(out), vec![(0, 12, 12)]);
    let two = "*** Results: 0% dropped (12/12 received)\nh1 -> X\n*** Results: 25% dropped (9/12 received)";
    assert_eq!(parse_pingall(two), vec![(0, 12, 12), (25, 9, 12)]);
    assert_eq!(parse_pingall("no results here"), vec![]);
}

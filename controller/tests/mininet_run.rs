//! Mininet runner acceptance tests (`mininet/run.py`, `mininet/topos.py`):
//!
//! - `run.py --test` on a two-switch topology file with the `topology` app: every client and node
//!   pings every other, the nodes become healthy, and the root namespace reaches each node through
//!   the host-access port;
//! - `run.py --test` on the same file with `l2switch` + `lb`: one `/predict` of the sample photo
//!   through the pool's VIP from each client and from the root namespace (through the host-access
//!   port) succeeds, classifies it as a cat, and names a backend of the pool as the serving node;
//! - `mn --custom mininet/topos.py --topo lbpool,2 --test pingall` against
//!   `rudder serve --config mininet/lbpool.toml` (l2switch + lb) loses nothing.
//!
//! Needs root, Mininet, the system Open vSwitch (started here if it is not running, and then stopped
//! again), curl, the models (`make model`) and a `rudder-node` binary (`$RUDDER_NODE_BIN`, else the
//! one next to this test's target directory, else PATH; `cargo build -p rudder-node`). The tests
//! share the system OVS and Mininet's global node names, so they run one at a time. Slow, so
//! ignored by default:
//!
//! ```text
//! cargo test -p rudder-controller --test mininet_run -- --ignored --test-threads=1 --nocapture
//! ```

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const OVS_CTL: &str = "/usr/share/openvswitch/scripts/ovs-ctl";
/// The test topology (`mininet/tests/small.toml`): its hosts, and the names run.py gives nodes.
const SMALL_TOPOLOGY: &str = "mininet/tests/small.toml";
const SMALL_CLIENTS: [&str; 2] = ["mc1", "mc2"];
const SMALL_NODES: [&str; 2] = ["mn1", "mn2"];
/// Labels ImageNet models give `chelsea.png` (models/samples/expected.json).
const CAT_LABELS: [&str; 4] = ["tiger cat", "Egyptian cat", "tabby", "lynx"];

/// One Mininet run at a time: they share the system OVS and interface names.
static SERIAL: Mutex<()> = Mutex::new(());

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

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Root, Mininet and curl are present; panics saying which is missing.
fn check_prerequisites() {
    let uid = Command::new("id").arg("-u").output().expect("running id");
    assert_eq!(String::from_utf8_lossy(&uid.stdout).trim(), "0", "Mininet needs root");
    for tool in ["mn", "curl", "ovs-vsctl"] {
        assert!(command_ok("which", &[tool]), "{tool} is not installed: run `make deps`");
    }
}

/// `rudder-node`: `$RUDDER_NODE_BIN`, else next to this test's target directory (`target/debug/`),
/// else PATH.
fn node_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("RUDDER_NODE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test's own path");
    // target/debug/deps/mininet_run-<hash> → target/debug/rudder-node
    if let Some(beside) = exe.parent().and_then(Path::parent).map(|d| d.join("rudder-node"))
        && beside.is_file()
    {
        return beside;
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("rudder-node")).find(|p| p.is_file()));
    on_path.unwrap_or_else(|| {
        panic!(
            "rudder-node not found ($RUDDER_NODE_BIN, target/debug, PATH): run `cargo build -p rudder-node`"
        )
    })
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
            let _ = Command::new(OVS_CTL).arg("stop").stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rudder-mn-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `mininet/tests/small.toml` with the given apps, free controller ports, and optionally no pools.
fn small_topology(dir: &Path, apps: &[&str], with_pools: bool) -> PathBuf {
    let source =
        std::fs::read_to_string(repo_root().join(SMALL_TOPOLOGY)).expect("reading the test topology");
    let apps = apps.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
    let mut out = String::new();
    let mut in_pool = false;
    for line in source.lines() {
        if line.starts_with("[[") || line.starts_with('[') {
            in_pool = line == "[[pools]]";
        }
        if in_pool && !with_pools {
            continue;
        }
        let line = match line.split_once(" = ").map(|(k, _)| k) {
            Some("apps") => format!("apps = [{apps}]"),
            Some("openflow") => format!("openflow = \"127.0.0.1:{}\"", free_port()),
            Some("api") => format!("api = \"127.0.0.1:{}\"", free_port()),
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let path = dir.join("topology.toml");
    std::fs::write(&path, out).expect("writing the test topology");
    path
}

/// Runs `python3 mininet/run.py FILE --test` under `timeout`; returns its exit status and output.
fn run_py_test(topology: &Path, limit: Duration) -> (bool, String) {
    let started = Instant::now();
    let out = Command::new("timeout")
        .args(["-k", "10", &limit.as_secs().to_string(), "python3"])
        .arg(repo_root().join("mininet/run.py"))
        .arg(topology)
        .args(["--test", "--rudder-bin", env!("CARGO_BIN_EXE_rudder")])
        .arg("--node-bin")
        .arg(node_binary())
        .arg("--keep-logs")
        .stdin(Stdio::null())
        .output()
        .expect("running python3 mininet/run.py");
    let output = text(&out);
    eprintln!("run.py --test: {:?} in {:.1}s", out.status, started.elapsed().as_secs_f64());
    (out.status.success(), output)
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

/// run.py's `ok   <client> -> pool <pool> <url>: served by <node> (model <v>): <label> (<conf>)`
/// lines → (client, node, label).
fn served_lines(output: &str) -> Vec<(String, String, String)> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("*** ok   ")?;
            let (client, rest) = rest.split_once(" -> pool ")?;
            let (_, rest) = rest.split_once(": served by ")?;
            let (node, rest) = rest.split_once(" (model ")?;
            let (_, rest) = rest.split_once("): ")?;
            let (label, _) = rest.rsplit_once(" (")?;
            Some((client.to_string(), node.to_string(), label.to_string()))
        })
        .collect()
}

/// The `Logs kept in DIR` directory run.py names; removed by the caller once the test has passed.
fn kept_logs(output: &str) -> Option<PathBuf> {
    output.lines().find_map(|l| l.strip_prefix("*** Logs kept in ")).map(PathBuf::from)
}

fn remove_logs(output: &str) {
    if let Some(dir) = kept_logs(output).filter(|d| d.starts_with(std::env::temp_dir())) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
#[ignore = "needs root, Mininet, the system Open vSwitch and rudder-node; about a minute"]
fn run_py_pings_and_reaches_nodes_with_the_topology_app() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    check_prerequisites();
    let _ovs = SystemOvs::ensure();
    let scratch = Scratch::new("topo");
    let topology = small_topology(&scratch.0, &["topology"], false);
    let (ok, output) = run_py_test(&topology, Duration::from_secs(120));
    assert!(ok, "run.py --test failed:\n{output}");
    // 2 clients + 2 nodes: 12 pings, none lost.
    assert_eq!(parse_pingall(&output), vec![(0, 12, 12)], "{output}");
    for node in SMALL_NODES {
        assert!(
            output.contains(&format!("*** ok   host access -> {node} ")),
            "the root namespace did not reach {node} through the host-access port:\n{output}"
        );
    }
    assert!(output.contains("*** run.py --test: all 3 checks passed"), "{output}");
    assert!(
        !command_ok("ip", &["link", "show", "rudder-mnsmall"]),
        "run.py left its host-access port behind"
    );
    remove_logs(&output);
}

#[test]
#[ignore = "needs root, Mininet, the system Open vSwitch, rudder-node and the lb app; about a minute"]
fn run_py_classifies_through_the_vip_from_every_client() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    check_prerequisites();
    let _ovs = SystemOvs::ensure();
    let scratch = Scratch::new("lb");
    let topology = small_topology(&scratch.0, &["l2switch", "lb"], true);
    let (ok, output) = run_py_test(&topology, Duration::from_secs(120));
    assert!(ok, "run.py --test failed:\n{output}");
    let served = served_lines(&output);
    // Each client, then the machine itself through the host-access port (the dashboard's path).
    assert_eq!(
        served.iter().map(|(source, _, _)| source.as_str()).collect::<Vec<_>>(),
        [SMALL_CLIENTS[0], SMALL_CLIENTS[1], "host"],
        "one served request per client and one from the host:\n{output}"
    );
    for (client, node, label) in &served {
        assert!(SMALL_NODES.contains(&node.as_str()), "{client} was served by {node}, not a backend");
        assert!(CAT_LABELS.contains(&label.as_str()), "{client}: chelsea.png classified as {label:?}");
    }
    // Round robin over two backends: the two clients' first flows land on different nodes.
    assert_ne!(served[0].1, served[1].1, "round robin sent both flows to one node:\n{output}");
    remove_logs(&output);
}

/// A `rudder serve` process, killed (by its PID) when dropped.
struct Controller {
    child: Child,
    log: PathBuf,
}

impl Controller {
    /// `rudder serve --config mininet/lbpool.toml` (l2switch + lb), on the given OpenFlow port.
    fn start(dir: &Path, port: u16) -> Controller {
        let log = dir.join("rudder.log");
        let log_file = std::fs::File::create(&log).expect("controller log file");
        let child = Command::new(env!("CARGO_BIN_EXE_rudder"))
            .arg("serve")
            .arg("--config")
            .arg(repo_root().join("mininet/lbpool.toml"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--api-listen", &format!("127.0.0.1:{}", free_port())])
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
        s
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mininet/lbpool.toml` is what `LbPoolTopo` says: a valid config, l2switch + lb, VIP 10.0.0.100:8000
/// over n1..n3 at 10.0.0.11-13 with MACs 02:00:00:00:00:0b-0d.
#[test]
fn lbpool_config_matches_the_lbpool_topology() {
    let path = repo_root().join("mininet/lbpool.toml");
    let config = rudder_controller::Config::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    config.lb.validate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(config.apps, ["l2switch", "lb"]);
    let [pool] = config.lb.pools.as_slice() else { panic!("one pool expected: {:?}", config.lb.pools) };
    assert_eq!((pool.vip.to_string(), pool.ports.as_slice()), ("10.0.0.100".to_string(), &[8000][..]));
    let backends: Vec<(String, String)> = pool
        .backends
        .iter()
        .map(|b| (b.ip.to_string(), b.mac.map(|m| m.to_string()).unwrap_or_default()))
        .collect();
    let expected: Vec<(String, String)> =
        (11..=13).map(|octet| (format!("10.0.0.{octet}"), format!("02:00:00:00:00:{octet:02x}"))).collect();
    assert_eq!(backends, expected);
}

#[test]
#[ignore = "needs root, Mininet and the system Open vSwitch; about 20 seconds"]
fn lbpool_custom_topology_pings_with_l2switch_and_lb() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    check_prerequisites();
    let _ovs = SystemOvs::ensure();
    let scratch = Scratch::new("lbpool");
    let port = free_port();
    let controller = Controller::start(&scratch.0, port);
    let out = Command::new("timeout")
        .args(["-k", "10", "90", "mn", "--custom"])
        .arg(repo_root().join("mininet/topos.py"))
        .args(["--topo", "lbpool,2", "--switch", "ovs,datapath=user,protocols=OpenFlow13"])
        .args(["--controller", &format!("remote,ip=127.0.0.1,port={port}"), "--wait", "--test", "pingall"])
        .stdin(Stdio::null())
        .output()
        .expect("running mn under timeout");
    let output = text(&out);
    // c1, c2, n1, n2: 12 pings.
    assert_eq!(
        parse_pingall(&output),
        vec![(0, 12, 12)],
        "mn exit {:?}\n--- mn ---\n{output}\n--- rudder ---\n{}",
        out.status,
        controller.log_text()
    );
    assert!(out.status.success(), "mn exit {:?}:\n{output}", out.status);
}

#[test]
fn parses_run_py_served_lines() {
    let out = "*** ok   mc1 -> pool v1 http://10.77.0.100:8000/predict: served by mn2 (model v2): \
               tiger cat (0.38)\n*** FAIL mc2 -> pool v1 http://10.77.0.100:8000/predict: HTTP 000: \n\
               *** ok   host access -> mn1 http://10.77.0.11:8000/health: status ok\n";
    assert_eq!(served_lines(out), vec![("mc1".into(), "mn2".into(), "tiger cat".into())]);
    assert_eq!(parse_pingall("*** Results: 0% dropped (12/12 received)"), vec![(0, 12, 12)]);
    assert_eq!(kept_logs("x\n*** Logs kept in /tmp/rudder-mn-a\n"), Some(PathBuf::from("/tmp/rudder-mn-a")));
}

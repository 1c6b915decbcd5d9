//! The load balancer's lab: one userspace OVS bridge, the controller in-process (`l2switch` + `lb`),
//! real `rudder-node` processes serving the real model and clients, each in a network namespace of
//! its own, and a host-access port in the test's namespace (the controller's health probes reach the
//! nodes through it, as `rudder up`'s host-access port does).
//!
//! Every lab gets its own /24 (`10.<200 + pid % 50>.<counter>.0`), namespaces and port names from
//! [`unique_name`], so labs may run in parallel. Dropping the lab kills its nodes (by PID) and
//! deletes its namespaces; the OVS instance deletes its bridge and veths.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rudder_controller::Config;
use rudder_controller::apps::lb::config::LbConfig;
use serde::Deserialize;
use serde_json::Value;

use super::controller::TestController;
use super::ovs::{OvsInstance, unique_dpid, unique_name};

/// OpenFlow port of the host-access veth; hosts use 1, 2, ...
const HOST_ACCESS_PORT: u16 = 100;

/// One client request as the load script saw it.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    /// Wall-clock start, seconds since the Unix epoch.
    pub t: f64,
    pub ok: bool,
    /// The node that answered (`node_id` of the JSON reply).
    pub node: Option<String>,
    /// The top class label of a `/predict` reply.
    pub label: Option<String>,
    pub err: Option<String>,
    /// The client's TCP source port (a flow is client address + this port).
    #[serde(default)]
    pub port: Option<u16>,
    /// TCP connect time (SYN to SYN-ACK, as the client sees it), ms.
    #[serde(default)]
    pub connect_ms: Option<f64>,
    /// Whole request time, ms.
    #[serde(default)]
    pub total_ms: Option<f64>,
}

/// How a client drives load.
#[derive(Debug, Clone)]
pub struct Load {
    pub path: &'static str,
    /// Requests in all (ignored when `duration` is set).
    pub requests: usize,
    pub concurrency: usize,
    pub duration: Option<Duration>,
    /// POST this file as `image/png` instead of a GET.
    pub body: Option<PathBuf>,
    /// Source addresses to use in turn (the client's own when empty).
    pub sources: Vec<Ipv4Addr>,
}

impl Load {
    pub fn get(path: &'static str, requests: usize, concurrency: usize) -> Load {
        Load { path, requests, concurrency, duration: None, body: None, sources: Vec::new() }
    }
}

/// Sends requests from a client namespace, each over a new TCP connection (so each is a new flow),
/// and prints one JSON line per request.
const LOAD_SCRIPT: &str = r#"
import http.client, json, sys, threading, time
host, port, path, n, conc, duration, body_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
sources = [s for s in sys.argv[8].split(",") if s]
count = [0]
body = open(body_path, "rb").read() if body_path else None
lock = threading.Lock()
left = [n]
deadline = time.time() + duration if duration > 0 else None
def one(i):
    t = time.time()
    rec = {"t": t, "ok": False, "node": None, "label": None, "err": None}
    src = (sources[i % len(sources)], 0) if sources else None
    c = http.client.HTTPConnection(host, port, timeout=10, source_address=src)
    start = time.perf_counter()
    try:
        c.connect()
        rec["connect_ms"] = (time.perf_counter() - start) * 1000.0
        rec["port"] = c.sock.getsockname()[1]
        if body is None:
            c.request("GET", path, headers={"Connection": "close"})
        else:
            c.request("POST", path, body=body, headers={"Content-Type": "image/png", "Connection": "close"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            rec["err"] = "HTTP %d" % r.status
        else:
            j = json.loads(data)
            rec["ok"] = True
            rec["node"] = j.get("node_id")
            preds = j.get("predictions") or []
            if preds:
                rec["label"] = preds[0].get("label")
            rec["total_ms"] = (time.perf_counter() - start) * 1000.0
    except Exception as e:
        rec["err"] = type(e).__name__ + ": " + str(e)
    finally:
        c.close()
    return rec
def worker():
    while True:
        with lock:
            if deadline is None:
                if left[0] <= 0:
                    return
                left[0] -= 1
            elif time.time() >= deadline:
                return
            i = count[0]
            count[0] += 1
        rec = one(i)
        with lock:
            print(json.dumps(rec), flush=True)
threads = [threading.Thread(target=worker) for _ in range(conc)]
for th in threads: th.start()
for th in threads: th.join()
"#;

/// One request of a keep-alive load ([`keepalive_in`]): connection `conn` of the script sent it.
#[derive(Debug, Clone, Deserialize)]
pub struct KeepaliveSample {
    /// Which of the script's connections (0-based); it keeps its number when reopened.
    pub conn: usize,
    /// Wall-clock start, seconds since the Unix epoch.
    pub t: f64,
    pub ok: bool,
    /// The node that answered (`node_id` of the JSON reply).
    pub node: Option<String>,
    /// The connection's TCP source port: a new one means the connection was reopened after a failure.
    pub port: Option<u16>,
    pub err: Option<String>,
}

/// Keeps `conns` HTTP/1.1 connections open (no `Connection: close`) and sends a GET on each every
/// interval until the deadline, printing one JSON line per request: unlike [`LOAD_SCRIPT`], one flow
/// carries many requests, which is what a mode switch must not break. `auto_open` is off so that a
/// connection the far end closed or reset shows up as a failed request instead of being reopened
/// silently by `http.client`; the script then reopens it itself (a new source port) and goes on.
const KEEPALIVE_SCRIPT: &str = r#"
import http.client, json, sys, threading, time
host, port, path, conns, interval, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
lock = threading.Lock()
deadline = time.time() + duration
def worker(i):
    c = None
    due = time.time()
    while due < deadline:
        time.sleep(max(0.0, due - time.time()))
        t = time.time()
        due = max(due + interval, t)
        rec = {"conn": i, "t": t, "ok": False, "node": None, "port": None, "err": None}
        try:
            if c is None:
                c = http.client.HTTPConnection(host, port, timeout=5)
                c.auto_open = 0
                c.connect()
            if c.sock is not None:
                rec["port"] = c.sock.getsockname()[1]
            c.request("GET", path)
            r = c.getresponse()
            data = r.read()
            if r.status != 200:
                rec["err"] = "HTTP %d" % r.status
            else:
                rec["ok"] = True
                rec["node"] = json.loads(data).get("node_id")
        except Exception as e:
            rec["err"] = type(e).__name__ + ": " + str(e)
            if c is not None:
                c.close()
            c = None
        with lock:
            print(json.dumps(rec), flush=True)
    if c is not None:
        c.close()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
for th in threads: th.start()
for th in threads: th.join()
"#;

/// A host in its own namespace.
pub struct Host {
    pub name: String,
    pub netns: String,
    pub ip: Ipv4Addr,
    pub ofport: u16,
    /// The host's interface (inside its namespace).
    pub ifname: String,
}

/// The `rudder-node` binary: `RUDDER_NODE_BIN` (a relative path is taken from the workspace root),
/// else next to the test's own profile's binaries, else on `PATH`.
pub fn node_binary() -> PathBuf {
    workspace_binary("rudder-node", "RUDDER_NODE_BIN", "rudder-node")
}

/// The `rudder` binary (`RUDDER_BIN`, else as [`node_binary`] looks).
pub fn rudder_binary() -> PathBuf {
    workspace_binary("rudder", "RUDDER_BIN", "rudder-controller")
}

fn workspace_binary(name: &str, env_var: &str, package: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        // Tests run in the crate's directory, not where the user typed the command.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p);
        assert!(path.is_file(), "{env_var}: no file at {}", path.display());
        return path;
    }
    // Tests run from target/<profile>/deps/; binaries live in target/<profile>/.
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent().and_then(Path::parent)
        && dir.join(name).is_file()
    {
        return dir.join(name);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join(name).is_file() {
                return dir.join(name);
            }
        }
    }
    panic!("{name} not found: build it with `cargo build -p {package}` (or set {env_var} to its path)");
}

/// What `rudder load --json` reports of a run.
#[derive(Debug, Clone, Copy)]
pub struct LoadSummary {
    pub requests: u64,
    pub ok: u64,
    pub throughput_rps: f64,
}

/// `rudder load` (the project's Rust load generator) from namespace `netns`: closed loop of
/// `concurrency` clients, a new connection per `GET path`, for `duration`.
pub async fn rudder_load_in(
    netns: &str,
    ip: Ipv4Addr,
    port: u16,
    path: &str,
    concurrency: usize,
    duration: Duration,
) -> LoadSummary {
    let out = tokio::process::Command::new("ip")
        .args(["netns", "exec", netns])
        .arg(rudder_binary())
        .args(["load", "--method", "get", "--json", "--url", &format!("http://{ip}:{port}{path}")])
        .args([
            "--concurrency",
            &concurrency.to_string(),
            "--duration",
            &format!("{}ms", duration.as_millis()),
        ])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("run rudder load: {e}"));
    assert!(out.status.success(), "rudder load failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("rudder load output: {e}"));
    let s = &v["summary"];
    LoadSummary {
        requests: s["requests"].as_u64().unwrap_or(0),
        ok: s["ok"].as_u64().unwrap_or(0),
        throughput_rps: s["throughput_rps"].as_f64().unwrap_or(0.0),
    }
}

/// The repository's `models/` directory.
pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// Turns TX checksum offload off on interface `ifname` (`ethtool -K IF tx off`, done with the
/// SIOCETHTOOL ioctl so no ethtool is needed). A veth leaves TCP checksums for the NIC to fill in,
/// and Open vSwitch's userspace datapath forwards such frames as they are, so the receiver would drop
/// every segment as corrupt.
const TX_CSUM_OFF: &str = r#"
import ctypes, fcntl, socket, struct, sys
value = ctypes.create_string_buffer(struct.pack("II", 0x17, 0))  # ETHTOOL_STXCSUM, off
ifreq = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(value))
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(sock.fileno(), 0x8946, ifreq)  # SIOCETHTOOL
"#;

fn tx_checksum_off(netns: Option<&str>, ifname: &str) {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "python3"]);
            c
        }
        None => Command::new("python3"),
    };
    let out = cmd.args(["-c", TX_CSUM_OFF, ifname]).output().expect("run python3");
    assert!(out.status.success(), "tx checksum off on {ifname}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn run_ok(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A fresh 10.x.y.0/24 for this lab, skipping any the machine already routes (e.g. the host-access
/// port of a lab left behind by a killed run, which would swallow this lab's probes).
fn subnet() -> [u8; 3] {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let prefix = [10, 200 + (std::process::id() % 50) as u8, (n % 250) as u8 + 1];
        // /proc/net/route writes destinations as little-endian hex.
        let dest = format!("{:02X}{:02X}{:02X}{:02X}", 0, prefix[2], prefix[1], prefix[0]);
        if n >= 250 || !routes.lines().any(|l| l.split_whitespace().nth(1) == Some(dest.as_str())) {
            return prefix;
        }
    }
}

/// A running lab.
pub struct LbLab {
    pub ctl: TestController,
    pub ovs: OvsInstance,
    pub bridge: String,
    pub prefix: [u8; 3],
    pub hosts: Vec<Host>,
    /// Running node processes, by host index.
    nodes: Vec<(usize, std::process::Child)>,
    pub http: reqwest::Client,
}

impl LbLab {
    pub fn ip(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.prefix[0], self.prefix[1], self.prefix[2], last)
    }

    /// Starts a lab with `n_nodes` nodes (.11, .12, ...; node ids n1, n2, ...) and `n_clients`
    /// clients (.1, .2, ...). `lb` builds the `[lb]` section from the lab's address prefix.
    pub async fn start(n_nodes: u8, n_clients: u8, lb: impl FnOnce([u8; 3]) -> LbConfig) -> LbLab {
        let prefix = subnet();
        let config =
            Config { apps: vec!["l2switch".into(), "lb".into()], lb: lb(prefix), ..Config::default() };
        let ctl = TestController::start_with(config, None).await;
        let ovs = OvsInstance::start();
        let bridge = unique_name("lbbr");
        let dpid = unique_dpid();
        ovs.add_bridge(&bridge, dpid, &ctl.of_target());
        let mut lab = LbLab {
            ctl,
            ovs,
            bridge,
            prefix,
            hosts: Vec::new(),
            nodes: Vec::new(),
            http: reqwest::Client::new(),
        };
        // Host access: a veth whose far end stays in the test's namespace with .254.
        let (sw_if, peer) = (unique_name("lbsw"), unique_name("lbha"));
        lab.ovs.add_veth_port(&lab.bridge, &sw_if, &peer, HOST_ACCESS_PORT);
        let cidr = format!("{}/24", lab.ip(254));
        run_ok("ip", &["addr", "add", &cidr, "dev", &peer]);
        run_ok("ip", &["link", "set", &peer, "up"]);
        tx_checksum_off(None, &peer);
        for i in 0..n_clients {
            lab.add_host(&format!("c{}", i + 1), lab.ip(1 + i));
        }
        for i in 0..n_nodes {
            lab.add_host(&format!("n{}", i + 1), lab.ip(11 + i));
        }
        lab.ctl.wait_switch(dpid, Duration::from_secs(10)).await;
        for i in 0..n_nodes {
            lab.start_node(usize::from(n_clients + i));
        }
        lab
    }

    fn add_host(&mut self, name: &str, ip: Ipv4Addr) {
        let netns = unique_name("lbh");
        let ofport = self.hosts.len() as u16 + 1;
        let (sw_if, peer) = (unique_name("lbs"), unique_name("lbp"));
        run_ok("ip", &["netns", "add", &netns]);
        self.hosts.push(Host {
            name: name.to_string(),
            netns: netns.clone(),
            ip,
            ofport,
            ifname: peer.clone(),
        });
        self.ovs.add_veth_port(&self.bridge, &sw_if, &peer, ofport);
        run_ok("ip", &["link", "set", &peer, "netns", &netns]);
        let mac = format!("02:00:00:00:00:{:02x}", ip.octets()[3]);
        let cidr = format!("{ip}/24");
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "set", &peer, "address", &mac],
            vec!["addr", "add", &cidr, "dev", &peer],
            vec!["link", "set", &peer, "up"],
        ] {
            let mut all = vec!["-n", netns.as_str()];
            all.extend(args);
            run_ok("ip", &all);
        }
        tx_checksum_off(Some(&netns), &peer);
    }

    /// Gives host `name` one more address in the lab's /24.
    pub fn add_address(&self, name: &str, ip: Ipv4Addr) {
        let host = self.host(name);
        let cidr = format!("{ip}/24");
        run_ok("ip", &["-n", &host.netns, "addr", "add", &cidr, "dev", &host.ifname]);
    }

    pub fn host(&self, name: &str) -> &Host {
        self.hosts.iter().find(|h| h.name == name).unwrap_or_else(|| panic!("no host {name}"))
    }

    /// Starts (or restarts) the node on host `index` with the v1 model.
    pub fn start_node(&mut self, index: usize) {
        let host = &self.hosts[index];
        let listen = format!("{}:8000", host.ip);
        let model = models_dir().join("v1");
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("{}-{}.log", host.netns, host.name)))
                .expect("node log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &host.netns])
            .arg(node_binary())
            .args(["serve", "--listen", &listen, "--node-id", &host.name, "--workers", "1"])
            .arg("--model-dir")
            .arg(&model)
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start rudder-node");
        self.nodes.push((index, child));
    }

    /// Kills the node of host `name` (SIGKILL, by PID) and reaps it.
    pub fn kill_node(&mut self, name: &str) {
        let index = self.hosts.iter().position(|h| h.name == name).expect("host exists");
        let pos = self.nodes.iter().position(|(i, _)| *i == index).expect("node running");
        let (_, mut child) = self.nodes.remove(pos);
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn restart_node(&mut self, name: &str) {
        let index = self.hosts.iter().position(|h| h.name == name).expect("host exists");
        self.start_node(index);
    }

    pub fn url(&self, path: &str) -> String {
        self.ctl.url(path)
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.expect("GET");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("JSON")
    }

    /// Sends `body` with `method` to `path`; returns status and JSON (or Null).
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.request(method, self.url(path)).json(&body).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn set_algorithm(&self, pool: &str, algorithm: &str) {
        let path = format!("/lb/pools/{pool}/algorithm");
        let (status, body) =
            self.send(reqwest::Method::PUT, &path, serde_json::json!({ "algorithm": algorithm })).await;
        assert_eq!(status, 200, "PUT {path}: {body}");
    }

    /// The backend entries of `pool` in `/lb/stats`.
    pub async fn backends(&self, pool: &str) -> Vec<Value> {
        let stats = self.get("/lb/stats").await;
        let pools = stats["pools"].as_array().cloned().unwrap_or_default();
        let p = pools.into_iter().find(|p| p["name"] == pool).unwrap_or_else(|| panic!("no pool {pool}"));
        p["backends"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until every backend of `pool` reports `health == "healthy"` after a successful probe (a
    /// backend counts as healthy before its first probe, so that alone proves nothing).
    pub async fn wait_healthy(&self, pool: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let backends = self.backends(pool).await;
            let probed_ok = |b: &Value| b["health"] == "healthy" && b["last_probe"] == "ok";
            if !backends.is_empty() && backends.iter().all(probed_ok) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "backends of {pool} not healthy within {timeout:?}: {backends:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until `pool` runs no transition (`transition` null in `/lb/pools/{pool}`): the old
    /// switch-side rules have idled out and the pool's current mode is installed.
    pub async fn wait_no_transition(&self, pool: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.get(&format!("/lb/pools/{pool}")).await;
            if stats.get("transition").is_some_and(Value::is_null) {
                return;
            }
            assert!(Instant::now() < deadline, "{pool}: transition still running after {timeout:?}: {stats}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One Prometheus sample from the controller's `/metrics`, e.g.
    /// `rudder_lb_packet_ins_total{pool="v1"}`; 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        self.metrics_text()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse::<f64>().ok()))
            .unwrap_or(0.0)
    }

    /// The sum of every series of metric `name` (all label values).
    pub async fn metric_total(&self, name: &str) -> f64 {
        let labelled = format!("{name}{{");
        self.metrics_text()
            .await
            .lines()
            .filter(|l| l.starts_with(&labelled) || l.starts_with(&format!("{name} ")))
            .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
            .sum()
    }

    async fn metrics_text(&self) -> String {
        self.http.get(self.url("/metrics")).send().await.expect("GET /metrics").text().await.expect("text")
    }

    /// Runs `load` from client `client` against `ip:port` and returns every request's outcome.
    pub async fn load(&self, client: &str, ip: Ipv4Addr, port: u16, load: &Load) -> Vec<Sample> {
        load_in(self.host(client).netns.clone(), ip, port, load.clone()).await
    }
}

/// Runs `load` in namespace `netns` against `ip:port` (owned arguments, so it can be spawned).
pub async fn load_in(netns: String, ip: Ipv4Addr, port: u16, load: Load) -> Vec<Sample> {
    let duration = load.duration.map_or(0.0, |d| d.as_secs_f64()).to_string();
    let body = load.body.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let args = [
        ip.to_string(),
        port.to_string(),
        load.path.to_string(),
        load.requests.to_string(),
        load.concurrency.to_string(),
        duration,
        body,
        load.sources.iter().map(Ipv4Addr::to_string).collect::<Vec<_>>().join(","),
    ];
    run_script(&netns, "load", LOAD_SCRIPT, &args).await
}

/// Runs a client script in namespace `netns` and parses the JSON line it prints per request.
async fn run_script<T: serde::de::DeserializeOwned>(
    netns: &str,
    what: &str,
    script: &str,
    args: &[String],
) -> Vec<T> {
    let out = tokio::process::Command::new("ip")
        .args(["netns", "exec", netns, "python3", "-c", script])
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("run the {what} script: {e}"));
    assert!(out.status.success(), "{what} script failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what} script line {l:?}: {e}")))
        .collect()
}

/// From namespace `netns`, keeps `conns` persistent connections to `ip:port` and sends `GET path`
/// on each every `interval` for `duration`; returns every request's outcome (owned arguments, so it
/// can be spawned and run across a change made meanwhile). The script ends by itself: after
/// `duration`, plus at most one request's 5 s timeout.
pub async fn keepalive_in(
    netns: String,
    ip: Ipv4Addr,
    port: u16,
    conns: usize,
    interval: Duration,
    duration: Duration,
    path: &'static str,
) -> Vec<KeepaliveSample> {
    let args = [
        ip.to_string(),
        port.to_string(),
        path.to_string(),
        conns.to_string(),
        interval.as_secs_f64().to_string(),
        duration.as_secs_f64().to_string(),
    ];
    run_script(&netns, "keep-alive", KEEPALIVE_SCRIPT, &args).await
}

/// Panics, listing them, if any of `samples` failed (`what` names the load).
pub fn assert_all_ok(samples: &[Sample], what: &str) {
    let failed: Vec<_> = samples.iter().filter(|s| !s.ok).collect();
    assert!(failed.is_empty(), "{what}: {} of {} failed: {failed:?}", failed.len(), samples.len());
}

/// Three classifications of the sample photo `chelsea.png` through `vip` from `client`, one after
/// the other: each must succeed and name a cat. Returns the nodes that served them.
pub async fn classify_chelsea(
    lab: &LbLab,
    client: &str,
    vip: Ipv4Addr,
) -> std::collections::BTreeSet<String> {
    let chelsea = Load {
        path: "/predict",
        requests: 3,
        concurrency: 1,
        duration: None,
        body: Some(models_dir().join("samples/chelsea.png")),
        sources: Vec::new(),
    };
    let samples = lab.load(client, vip, 8000, &chelsea).await;
    assert_all_ok(&samples, "classification");
    for s in &samples {
        let label = s.label.as_deref().unwrap_or("");
        assert!(["tiger cat", "tabby", "Egyptian cat"].contains(&label), "chelsea classified as {label:?}");
    }
    samples.iter().filter_map(|s| s.node.clone()).collect()
}

/// Seconds since the Unix epoch, as the load script stamps requests.
pub fn now_epoch() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Requests per node name.
pub fn by_node(samples: &[Sample]) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for s in samples.iter().filter(|s| s.ok) {
        *m.entry(s.node.clone().unwrap_or_default()).or_default() += 1;
    }
    m
}

impl Drop for LbLab {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        for h in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", &h.netns]).output();
        }
    }
}

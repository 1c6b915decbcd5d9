//! The first packet of a new flow through the VIP reaches the backend (no 1 s SYN retransmission).
//!
//! The trap rule sends a flow's first SYN to the controller, which installs the flow's rules and
//! sends the SYN on in a PACKET_OUT. A client whose interface offloads checksums (every veth, and
//! what `rudder up` leaves on) sends that SYN with only the pseudo-header sum in its TCP checksum
//! field; the PACKET_IN loses the "checksum partial" mark, so unless the controller completes the
//! checksum the backend drops the SYN as corrupt and the client connects only after its 1 s
//! retransmission, through the rules. The lab's veths have offload off, so the test sends such a
//! SYN itself from a raw socket and times the SYN-ACK; it also times ordinary new connections.

mod support;

use std::time::Duration;

use rudder_controller::apps::lb::config::LbConfig;
use support::lb::{LbLab, Load};

fn pools(p: [u8; 3]) -> LbConfig {
    let text = format!(
        r#"
        probe_interval_ms = 200
        probe_timeout_ms = 500
        [[pools]]
        name = "v1"
        vip = "{a}.{b}.{c}.100"
        backends = [{{ ip = "{a}.{b}.{c}.11" }}, {{ ip = "{a}.{b}.{c}.12" }}]
        "#,
        a = p[0],
        b = p[1],
        c = p[2]
    );
    toml::from_str(&text).expect("valid [lb]")
}

/// Sends `n` SYNs to VIP:8000 from new source ports, each with the partial checksum an offloading
/// sender leaves, and prints for each the ms until the SYN-ACK from the VIP (or "lost" after 900 ms).
const PARTIAL_SYN_SCRIPT: &str = r#"
import os, socket, struct, sys, time
ifname, src, vip, vip_mac, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
my_mac = open("/sys/class/net/%s/address" % ifname).read().strip()
mac = lambda s: bytes(int(x, 16) for x in s.split(":"))
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    return s
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((ifname, 0))
s.settimeout(0.05)
base = 40000 + os.getpid() % 20000
for i in range(n):
    sport = base + i
    tcp = struct.pack("!HHIIBBHHH", sport, 8000, 1000 + i, 0, 0x50, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(vip) + struct.pack("!BBH", 0, 6, len(tcp))
    partial = csum(pseudo)  # not complemented, not summed over the segment: left to "the NIC"
    tcp = tcp[:16] + struct.pack("!H", partial) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i, 0x4000, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(vip))
    ip = ip[:10] + struct.pack("!H", 0xffff ^ csum(ip)) + ip[12:]
    frame = mac(vip_mac) + mac(my_mac) + b"\x08\x00" + ip + tcp
    start = time.perf_counter()
    s.send(frame)
    got = None
    while time.perf_counter() - start < 0.9 and got is None:
        try:
            f = s.recv(2048)
        except socket.timeout:
            continue
        if len(f) < 54 or f[23] != 6 or f[26:30] != socket.inet_aton(vip): continue
        ihl = (f[14] & 0x0f) * 4
        t = 14 + ihl
        sp, dp = struct.unpack("!HH", f[t:t + 4])
        if sp == 8000 and dp == sport and f[t + 13] & 0x12 == 0x12:
            got = (time.perf_counter() - start) * 1000.0
    print("lost" if got is None else "%.3f" % got, flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_flows_through_the_vip_connect_without_a_syn_retransmission() {
    let lab = LbLab::start(2, 1, pools).await;
    lab.wait_healthy("v1", Duration::from_secs(90)).await;
    let vip = lab.ip(100);

    // Ordinary new connections: each one's SYN is the PACKET_IN the controller answers.
    let samples = lab.load("c1", vip, 8000, &Load::get("/health", 10, 1)).await;
    let failed: Vec<_> = samples.iter().filter(|s| !s.ok).collect();
    assert!(failed.is_empty(), "{failed:?}");
    for s in &samples {
        let connect = s.connect_ms.expect("connect time");
        assert!(connect < 300.0, "a new flow took {connect:.0} ms to connect: {samples:?}");
    }

    // SYNs as an offloading client sends them. The client learnt the VIP's MAC above.
    let c1 = lab.host("c1");
    let neigh = std::process::Command::new("ip")
        .args(["-n", &c1.netns, "neigh", "show", &vip.to_string()])
        .output()
        .expect("ip neigh");
    let neigh = String::from_utf8_lossy(&neigh.stdout).to_string();
    let vip_mac = neigh
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .unwrap_or_else(|| panic!("no neighbour entry for the VIP: {neigh:?}"))
        .to_string();
    let out = tokio::process::Command::new("ip")
        .args(["netns", "exec", &c1.netns, "python3", "-c", PARTIAL_SYN_SCRIPT])
        .args([c1.ifname.clone(), c1.ip.to_string(), vip.to_string(), vip_mac, "10".to_string()])
        .output()
        .await
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "SYN script: {}", String::from_utf8_lossy(&out.stderr));
    let times: Vec<&str> = stdout.lines().collect();
    if std::env::var_os("LB_DEBUG").is_some() {
        eprintln!("{times:?}\n{:#?}", lab.ovs.dump_flows(&lab.bridge));
        for n in ["n1", "n2"] {
            let o = std::process::Command::new("ip")
                .args(["netns", "exec", &lab.host(n).netns, "nstat", "-az", "TcpInCsumErrors", "TcpExtListenDrops"])
                .output()
                .expect("nstat");
            eprintln!("{n}: {}", String::from_utf8_lossy(&o.stdout));
        }
    }
    assert_eq!(times.len(), 10, "{stdout}");
    for t in &times {
        let ms: f64 = t.parse().unwrap_or_else(|_| panic!("a first SYN got no SYN-ACK: {times:?}"));
        assert!(ms < 300.0, "SYN-ACK after {ms:.0} ms: {times:?}");
    }
}

//! Network namespaces, veth pairs, addresses and `tc netem` through `ip` and `tc`.
//!
//! `namespace: None` means the machine's own namespace everywhere in this module.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use ofproto::MacAddr;

use super::command::{CommandError, run};
use super::plan::Netem;

/// `ip [-n NS] ARGS`.
fn ip(namespace: Option<&str>, args: &[&str]) -> Result<String, CommandError> {
    let mut cmd = Command::new("ip");
    if let Some(ns) = namespace {
        cmd.args(["-n", ns]);
    }
    run(cmd.args(args))
}

/// Whether namespace `name` exists (`ip netns add` creates `/run/netns/NAME`).
pub fn namespace_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Creates namespace `name` with `lo` up.
pub fn add_namespace(name: &str) -> Result<(), CommandError> {
    ip(None, &["netns", "add", name])?;
    ip(Some(name), &["link", "set", "lo", "up"])?;
    Ok(())
}

/// Deletes namespace `name` (and with it every interface inside); fine if it is gone.
pub fn delete_namespace(name: &str) -> Result<(), CommandError> {
    if !namespace_exists(name) {
        return Ok(());
    }
    ip(None, &["netns", "del", name]).map(drop)
}

/// Whether interface `name` exists in `namespace`.
pub fn link_exists(namespace: Option<&str>, name: &str) -> bool {
    match namespace {
        None => Path::new("/sys/class/net").join(name).exists(),
        Some(ns) => namespace_exists(ns) && ip(Some(ns), &["link", "show", "dev", name]).is_ok(),
    }
}

/// A veth pair created directly in its two namespaces (no transient name in the machine's
/// namespace, so parallel topologies cannot collide while building).
pub fn add_veth(
    name: &str,
    namespace: Option<&str>,
    peer: &str,
    peer_namespace: Option<&str>,
) -> Result<(), CommandError> {
    let mut args = vec!["link", "add", name];
    if let Some(ns) = namespace {
        args.extend(["netns", ns]);
    }
    args.extend(["type", "veth", "peer", "name", peer]);
    if let Some(ns) = peer_namespace {
        args.extend(["netns", ns]);
    }
    ip(None, &args).map(drop)
}

/// Sets `name`'s MAC (if given) and brings it up.
pub fn set_up(namespace: Option<&str>, name: &str, mac: Option<MacAddr>) -> Result<(), CommandError> {
    if let Some(mac) = mac {
        ip(namespace, &["link", "set", "dev", name, "address", &mac.to_string()])?;
    }
    ip(namespace, &["link", "set", "dev", name, "up"])?;
    disable_tx_checksum_offload(namespace, name);
    Ok(())
}

/// Makes `name` send frames with complete checksums (`ethtool -K name tx off`), best effort.
///
/// A veth normally leaves TCP checksums to "offload", so frames carry only a partial checksum. OVS's
/// userspace datapath forwards those correctly along flow rules, but a frame that goes up to the
/// controller as a PACKET_IN loses the partial-checksum mark, and when an app sends it back out
/// (l2switch's first packet, the load balancer's first SYN) the receiver drops it as corrupt and the
/// client only gets through on its retransmission, a second later. Without ethtool the interface keeps
/// offload on; the load balancer still completes the checksums of the packets it re-injects.
pub fn disable_tx_checksum_offload(namespace: Option<&str>, name: &str) {
    let mut cmd = match namespace {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, "ethtool"]);
            c
        }
        None => std::process::Command::new("ethtool"),
    };
    cmd.args(["-K", name, "tx", "off"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if !matches!(cmd.status(), Ok(s) if s.success()) {
        tracing::debug!(interface = name, "could not turn TX checksum offload off (is ethtool installed?)");
    }
}

/// Adds `ip/prefix` to `name` (which also routes the subnet through it).
pub fn add_address(
    namespace: Option<&str>,
    name: &str,
    addr: Ipv4Addr,
    prefix: u8,
) -> Result<(), CommandError> {
    ip(namespace, &["addr", "add", &format!("{addr}/{prefix}"), "dev", name]).map(drop)
}

/// Deletes interface `name` (its veth peer goes with it); fine if it is gone.
pub fn delete_link(namespace: Option<&str>, name: &str) -> Result<(), CommandError> {
    if !link_exists(namespace, name) {
        return Ok(());
    }
    ip(namespace, &["link", "del", "dev", name]).map(drop)
}

/// The interface the machine routes `subnet` (e.g. `10.0.0.0/24`) through, if any.
pub fn route_for(subnet: &str) -> Option<String> {
    let out = ip(None, &["-4", "route", "show", "exact", subnet]).ok()?;
    let line = out.lines().next()?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == "dev")?;
    words.next().map(str::to_string)
}

/// How a link's shaping was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shaped {
    /// A netem qdisc does all of it.
    Netem,
    /// The kernel has no netem: the rate (if any) went to a tbf qdisc; `dropped` names what could
    /// not be applied (delay, jitter, loss).
    WithoutNetem { dropped: String },
}

/// Installs `netem` as the root qdisc of `name`; on a kernel without netem, a tbf for the rate.
pub fn shape(namespace: Option<&str>, name: &str, netem: &Netem) -> Result<Shaped, CommandError> {
    let tc = |args: Vec<String>| {
        let mut cmd = Command::new("tc");
        if let Some(ns) = namespace {
            cmd.args(["-n", ns]);
        }
        run(cmd.args(args)).map(drop)
    };
    match tc(netem.tc_args(name)) {
        Ok(()) => Ok(Shaped::Netem),
        // "Specified qdisc kind is unknown": sch_netem is neither built in nor loadable.
        Err(e) if e.stderr().contains("qdisc kind is unknown") => {
            if let Some(args) = netem.tbf_args(name) {
                tc(args)?;
            }
            Ok(Shaped::WithoutNetem { dropped: netem.netem_only() })
        }
        Err(e) => Err(e),
    }
}

/// Runs `program args` inside `namespace` (`ip netns exec`).
pub fn exec_in(namespace: &str, program: &Path) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", namespace]).arg(program);
    cmd
}

//! The few lines `rudder up` prints once a topology is up: where the REST API is, the hosts and
//! VIPs, commands to try, and how to tear it down.

use std::fmt::Write;
use std::path::Path;

use super::plan::Plan;
use super::topology::{Role, Topology};

/// The summary of an up topology whose state lives in `state_dir`.
pub fn summary(topology: &Topology, plan: &Plan, state_dir: &Path) -> String {
    let mut out = String::new();
    let api = topology.controller.api;
    let _ = writeln!(out, "\ntopology {:?} is up", topology.name);
    let _ = writeln!(out, "  REST API    http://{api}  (e.g. curl http://{api}/stats/switches)");
    let bridges: Vec<String> =
        plan.bridges.iter().map(|b| format!("{} (dpid {}, bridge {})", b.switch, b.dpid, b.name)).collect();
    let _ = writeln!(out, "  switches    {}", bridges.join(", "));
    for h in &plan.hosts {
        let what = match (&h.node, h.role) {
            (Some(n), _) => format!("inference node on {} (model {})", n.listen, n.model),
            (None, Role::Client) => "client".to_string(),
            (None, Role::Inference) => "inference".to_string(),
        };
        let _ = writeln!(out, "  host {:<7}{} {what}, namespace {}", h.name, h.ip, h.namespace);
    }
    for p in &topology.pools {
        let backends: Vec<&str> = p.backends.iter().map(|b| b.host.as_str()).collect();
        let port = p.ports.first().copied().unwrap_or(8000);
        let _ = writeln!(
            out,
            "  pool {:<7}http://{}:{port} -> {} ({})",
            p.name,
            p.vip,
            backends.join(", "),
            serde_json::to_value(p.algorithm)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        );
    }
    if let Some(a) = &plan.access {
        let _ = writeln!(out, "  this machine reaches the hosts through {} ({})", a.interface, a.ip);
    }
    let client = topology.hosts.iter().find(|h| h.role == Role::Client);
    let target = topology
        .pools
        .first()
        .map(|p| format!("{}:{}", p.vip, p.ports.first().copied().unwrap_or(8000)))
        .or_else(|| topology.inference_hosts().next().map(|h| format!("{}:{}", h.ip, h.serve_port())));
    if let (Some(c), Some(target)) = (client, &target) {
        let ns = super::plan::host_namespace(&topology.name, &c.name);
        let _ = writeln!(out, "  try         ip netns exec {ns} curl -s http://{target}/health");
        let _ = writeln!(
            out,
            "              ip netns exec {ns} curl -s --data-binary @models/samples/chelsea.png \
             -H 'Content-Type: image/png' http://{target}/predict"
        );
    }
    if let (Some(_), Some(target)) = (&plan.access, &target) {
        let _ = writeln!(out, "              curl -s http://{target}/health   (from this machine)");
    }
    let _ = writeln!(out, "  logs        {}/*.log", state_dir.display());
    let _ = writeln!(out, "  tear down   rudder down {}", topology.name);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_how_to_reach_everything() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../topologies/default.toml"))
                .unwrap();
        let topology = Topology::from_toml(&text, "default.toml").unwrap();
        let plan = Plan::new(&topology, true).unwrap();
        let s = summary(&topology, &plan, Path::new("/run/rudder/default"));
        for needle in [
            "http://127.0.0.1:8080",
            "pool v1     http://10.0.0.100:8000 -> n1, n2 (round_robin)",
            "ip netns exec rudder-default-c1 curl -s http://10.0.0.100:8000/health",
            "/predict",
            "rudder down default",
            "/run/rudder/default/*.log",
        ] {
            assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
        }
    }
}

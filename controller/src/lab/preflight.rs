//! What `rudder up` checks before it creates anything, each failure with what to do about it:
//! root, the tools, the `rudder-node` binary and model directories, and conflicts with what is
//! already on the machine (ports, interfaces, routes, leftover namespaces).

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use super::command::which;
use super::netns;
use super::ovs;
use super::plan::Plan;
use super::topology::Topology;

/// A prerequisite that is not met; the message says how to meet it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PreflightError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, PreflightError> {
    Err(PreflightError(message.into()))
}

/// Whether this process runs with effective UID 0.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Root and the tools the plan needs.
pub fn check_tools(plan: &Plan, private_ovs: bool) -> Result<(), PreflightError> {
    if !is_root() {
        return fail("rudder up needs root (network namespaces, Open vSwitch, tc): run it with sudo");
    }
    let shaped =
        plan.hosts.iter().any(|h| h.shaping.is_some()) || plan.links.iter().any(|l| l.shaping.is_some());
    let mut tools = vec!["ip"];
    if shaped {
        tools.push("tc");
    }
    if private_ovs {
        tools.extend(ovs::TOOLS);
    } else {
        tools.push("ovs-vsctl");
    }
    for tool in tools {
        if which(tool).is_none() {
            let package = match tool {
                "ip" | "tc" => "iproute2",
                _ => "openvswitch-switch",
            };
            return fail(format!("`{tool}` not found: install the Debian package {package} (`make deps`)"));
        }
    }
    if private_ovs && !Path::new(ovs::SCHEMA).is_file() {
        return fail(format!("{} not found: install openvswitch-common (`make deps`)", ovs::SCHEMA));
    }
    Ok(())
}

/// The `rudder-node` binary: `explicit` (`--node-bin`), else `$RUDDER_NODE_BIN`, else the file next
/// to this executable (or next to its `deps/` directory, for test binaries), else `PATH`.
pub fn find_node_binary(explicit: Option<&Path>) -> Result<PathBuf, PreflightError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            fail(format!("--node-bin {}: no such file", path.display()))
        };
    }
    let mut looked = Vec::new();
    if let Some(env) = std::env::var_os("RUDDER_NODE_BIN").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(env);
        if path.is_file() {
            return Ok(path);
        }
        looked.push(format!("RUDDER_NODE_BIN={}", path.display()));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let mut dirs = vec![dir.to_path_buf()];
        if dir.file_name().is_some_and(|n| n == "deps")
            && let Some(up) = dir.parent()
        {
            dirs.push(up.to_path_buf());
        }
        for d in dirs {
            let candidate = d.join("rudder-node");
            if candidate.is_file() {
                return Ok(candidate);
            }
            looked.push(candidate.display().to_string());
        }
    }
    if let Some(path) = which("rudder-node") {
        return Ok(path);
    }
    looked.push("PATH".to_string());
    fail(format!(
        "rudder-node not found (looked at {}): build it with `cargo build -p rudder-node`, or pass --node-bin \
         or set RUDDER_NODE_BIN",
        looked.join(", ")
    ))
}

/// The models directory: `explicit`, else `$RUDDER_MODELS_DIR`, else `models/` next to the
/// topology file's directory (`topologies/../models`), else `./models`.
pub fn models_dir(explicit: Option<&Path>, topology_file: &Path) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(env) = std::env::var_os("RUDDER_MODELS_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(env);
    }
    let beside = topology_file.parent().map(|d| d.join("..").join("models"));
    match beside {
        Some(dir) if dir.is_dir() => dir,
        _ => PathBuf::from("models"),
    }
}

/// Every model an inference host names has a directory with `model.json` under `models`.
pub fn check_models(topology: &Topology, models: &Path) -> Result<(), PreflightError> {
    for host in topology.inference_hosts() {
        let dir = models.join(host.model_name());
        if !dir.join("model.json").is_file() {
            return fail(format!(
                "host {}: model directory {} (with model.json) not found: run `make model`, or point \
                 --models at the directory holding v1/ and v2/",
                host.name,
                dir.display()
            ));
        }
    }
    Ok(())
}

/// Nothing on the machine is in the way: the plan's namespaces and host-access interface do not
/// exist, the subnet is not routed elsewhere, and (when a controller is started) its ports are free.
pub fn check_conflicts(
    topology: &Topology,
    plan: &Plan,
    start_controller: bool,
) -> Result<(), PreflightError> {
    let namespaces = plan.switch_namespace.iter().chain(plan.hosts.iter().map(|h| &h.namespace));
    for ns in namespaces {
        if netns::namespace_exists(ns) {
            return fail(format!(
                "namespace {ns} already exists but no state of topology {:?} is recorded: remove it with \
                 `ip netns del {ns}` (or use another topology name)",
                topology.name
            ));
        }
    }
    if let Some(access) = &plan.access {
        if netns::link_exists(None, &access.interface) {
            return fail(format!(
                "interface {} already exists: another topology whose name starts the same is up \
                 (`rudder down --all`), or rename this one",
                access.interface
            ));
        }
        let subnet = topology.subnet.to_string();
        if let Some(dev) = netns::route_for(&subnet) {
            return fail(format!(
                "subnet {subnet} is already routed through {dev}: another topology with that subnet is up \
                 (`rudder down --all`), or change `subnet`"
            ));
        }
    }
    if start_controller {
        for (what, addr) in
            [("OpenFlow", topology.controller.openflow), ("REST API", topology.controller.api)]
        {
            if let Err(e) = TcpListener::bind(addr) {
                return fail(format!(
                    "the controller's {what} address {addr} is not free ({e}): is a controller already running? \
                     Stop it, pass --no-controller to use it, or change [controller] in the topology"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_node_binary_must_exist() {
        let err = find_node_binary(Some(Path::new("/nonexistent/rudder-node"))).unwrap_err();
        assert!(err.0.contains("/nonexistent/rudder-node"), "{err}");
        let me = std::env::current_exe().unwrap();
        assert_eq!(find_node_binary(Some(&me)).unwrap(), me);
    }

    #[test]
    fn missing_models_name_the_host_and_the_fix() {
        let topology = Topology::from_toml(
            r#"
            name = "m"
            subnet = "10.0.0.0/24"
            [[switches]]
            name = "s1"
            [[hosts]]
            name = "n1"
            role = "inference"
            switch = "s1"
            ip = "10.0.0.11"
            model = "v9"
            "#,
            "test",
        )
        .unwrap();
        let err = check_models(&topology, Path::new("/nonexistent-models")).unwrap_err().0;
        assert!(
            err.contains("host n1") && err.contains("/nonexistent-models/v9") && err.contains("make model"),
            "{err}"
        );
    }

    #[test]
    fn explicit_models_dir_wins() {
        assert_eq!(models_dir(Some(Path::new("/m")), Path::new("topologies/x.toml")), PathBuf::from("/m"));
    }
}

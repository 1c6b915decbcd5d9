//! Controller configuration: a TOML file, overridden by command-line flags (see `main.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ofp::ConnectionConfig;

/// Everything `rudder serve` can be told. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// OpenFlow listen addresses (6653 is the IANA port; add 6633 for old switches).
    pub listen: Vec<SocketAddr>,
    /// Unix sockets to accept switches on as well (Open vSwitch's `unix:PATH` controller target), for
    /// switches on this machine, also in other network namespaces.
    pub listen_unix: Vec<PathBuf>,
    /// REST API and metrics address; loopback unless told otherwise.
    pub api_listen: Option<SocketAddr>,
    /// Bearer token required by mutating REST routes, if set.
    pub api_token: Option<String>,
    /// Apps to run, by name.
    pub apps: Vec<String>,
    /// Most switches connected at once; further connections are refused.
    pub max_switches: usize,
    pub openflow: OpenFlowConfig,
    pub l2switch: L2SwitchConfig,
    pub topology: crate::apps::topology::TopologyConfig,
    /// `[lb]`: the load balancer's pools (used when `apps` lists "lb").
    pub lb: crate::apps::lb::config::LbConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenFlowConfig {
    pub echo_interval_ms: u64,
    pub echo_missed_limit: u32,
    pub handshake_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub miss_send_len: u16,
    pub install_table_miss: bool,
    pub clear_flows_on_connect: bool,
    pub max_message_len: usize,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct L2SwitchConfig {
    /// Idle timeout of learned flows in seconds (0: never).
    pub idle_timeout: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 6653))],
            listen_unix: Vec::new(),
            api_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            api_token: None,
            apps: vec!["l2switch".to_string()],
            max_switches: 4096,
            openflow: OpenFlowConfig::default(),
            l2switch: L2SwitchConfig::default(),
            topology: crate::apps::topology::TopologyConfig::default(),
            lb: crate::apps::lb::config::LbConfig::default(),
        }
    }
}

impl Default for OpenFlowConfig {
    fn default() -> Self {
        let c = ConnectionConfig::default();
        OpenFlowConfig {
            echo_interval_ms: c.echo_interval.as_millis() as u64,
            echo_missed_limit: c.echo_missed_limit,
            handshake_timeout_ms: c.handshake_timeout.as_millis() as u64,
            request_timeout_ms: c.request_timeout.as_millis() as u64,
            miss_send_len: c.miss_send_len,
            install_table_miss: c.install_table_miss,
            clear_flows_on_connect: c.clear_flows_on_connect,
            max_message_len: c.max_message_len,
        }
    }
}

impl OpenFlowConfig {
    pub fn connection_config(&self) -> ConnectionConfig {
        ConnectionConfig {
            echo_interval: Duration::from_millis(self.echo_interval_ms.max(100)),
            echo_missed_limit: self.echo_missed_limit.max(1),
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms.max(100)),
            request_timeout: Duration::from_millis(self.request_timeout_ms.max(10)),
            miss_send_len: self.miss_send_len,
            install_table_miss: self.install_table_miss,
            clear_flows_on_connect: self.clear_flows_on_connect,
            max_message_len: self.max_message_len.clamp(8, 65535),
        }
    }
}

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("parsing {path}: {source}")]
    Parse { path: String, source: toml::de::Error },
}

impl Config {
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.display().to_string(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.listen[0].port(), 6653);
        assert!(c.api_listen.unwrap().ip().is_loopback(), "the API binds to loopback by default");
        assert_eq!(c.apps, vec!["l2switch"]);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = toml::from_str::<Config>("lisen = []").unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn lb_section_parses_with_probe_defaults() {
        let c: Config = toml::from_str(
            "apps = [\"l2switch\", \"lb\"]\n[lb]\nprobe_interval_ms = 200\n[[lb.pools]]\nname = \"v1\"\nvip = \"10.0.0.100\"\n[[lb.pools.backends]]\nip = \"10.0.0.11\"\n",
        )
        .unwrap();
        assert_eq!(c.lb.probe_interval_ms, 200);
        assert_eq!(c.lb.probe_timeout_ms, 1000);
        assert_eq!(c.lb.stats_interval_ms, 2000, "flow stats every 2 s unless told otherwise");
        assert_eq!(c.lb.pools[0].backends[0].probe_url(), "http://10.0.0.11:8000/health");
        c.lb.validate().unwrap();
        let err = toml::from_str::<Config>("[lb]\nprobe_intervall_ms = 5\n").unwrap_err().to_string();
        assert!(err.contains("probe_intervall_ms"), "{err}");
    }

    #[test]
    fn nested_sections() {
        let c: Config = toml::from_str(
            "apps = [\"l2switch\"]\n[openflow]\necho_interval_ms = 1000\n[l2switch]\nidle_timeout = 30\n",
        )
        .unwrap();
        assert_eq!(c.openflow.connection_config().echo_interval, Duration::from_secs(1));
        assert_eq!(c.l2switch.idle_timeout, 30);
    }
}

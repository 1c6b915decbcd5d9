//! Scenario steps: what happens to the system at given times during a run (kill a node, bring it
//! back, change a delay, change a weight). They come from `[[scenario]]` tables in the topology file
//! or from `--step` on the command line, and are parsed and checked here against the topology
//! (pure); the orchestrator carries them out.
//!
//! ```toml
//! [[scenario]]
//! at = "20s"
//! action = "kill"          # kill | restart | delay | weight
//! host = "n2"
//! [[scenario]]
//! at = "30s"
//! action = "delay"
//! host = "n1"              # a host's access link, or link = "s1-s2"
//! value = "50ms"
//! [[scenario]]
//! at = "45s"
//! action = "weight"
//! pool = "v1"
//! host = "n1"
//! value = 3
//! ```
//! On the command line: `20s:kill:n2`, `40s:restart:n2`, `30s:delay:n1=50ms`,
//! `30s:delay:s1-s2=50ms`, `45s:weight:v1/n1=3`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{format_duration, parse_duration};

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioStep {
    /// Since the start of the run's workload.
    #[serde(with = "duration_text")]
    pub at: Duration,
    pub action: StepAction,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepAction {
    /// SIGKILL the node process (a crash: no graceful shutdown).
    Kill { host: String },
    /// Start the node again (killing it first if it runs).
    Restart { host: String },
    /// Set the one-way delay of a host's access link (both ends) or of a switch-to-switch link.
    Delay {
        target: DelayTarget,
        #[serde(with = "duration_text")]
        value: Duration,
    },
    /// Set a backend's weight in a pool through the REST API.
    Weight { pool: String, host: String, weight: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DelayTarget {
    Host(String),
    /// The link between two switches, in either order.
    Link(String, String),
}

impl fmt::Display for ScenarioStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format_duration(self.at);
        match &self.action {
            StepAction::Kill { host } => write!(f, "{at}:kill:{host}"),
            StepAction::Restart { host } => write!(f, "{at}:restart:{host}"),
            StepAction::Delay { target: DelayTarget::Host(h), value } => {
                write!(f, "{at}:delay:{h}={}", format_duration(*value))
            }
            StepAction::Delay { target: DelayTarget::Link(a, b), value } => {
                write!(f, "{at}:delay:{a}-{b}={}", format_duration(*value))
            }
            StepAction::Weight { pool, host, weight } => write!(f, "{at}:weight:{pool}/{host}={weight}"),
        }
    }
}

impl ScenarioStep {
    /// The host a step acts on, if it acts on one.
    pub fn host(&self) -> Option<&str> {
        match &self.action {
            StepAction::Kill { host } | StepAction::Restart { host } | StepAction::Weight { host, .. } => {
                Some(host)
            }
            StepAction::Delay { target: DelayTarget::Host(h), .. } => Some(h),
            StepAction::Delay { .. } => None,
        }
    }

    /// `kill`, `restart`, `delay` or `weight`.
    pub fn kind(&self) -> &'static str {
        match self.action {
            StepAction::Kill { .. } => "kill",
            StepAction::Restart { .. } => "restart",
            StepAction::Delay { .. } => "delay",
            StepAction::Weight { .. } => "weight",
        }
    }
}

mod duration_text {
    use super::*;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// A step that cannot be used, saying which one and which key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ScenarioError {
    /// `[[scenario]] #2` or `--step "20s:kil:n2"`.
    pub origin: String,
    pub message: String,
}

/// A `[[scenario]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub at: String,
    pub action: String,
    pub host: Option<String>,
    pub link: Option<String>,
    pub pool: Option<String>,
    pub value: Option<toml::Value>,
}

impl RawStep {
    /// Builds the step; `origin` names it in errors.
    pub fn parse(&self, origin: &str) -> Result<ScenarioStep, ScenarioError> {
        let err = |message: String| ScenarioError { origin: origin.to_string(), message };
        let at = parse_duration(&self.at).map_err(|e| err(format!("at: {e}")))?;
        let need = |key: &str, v: &Option<String>| {
            v.clone().ok_or_else(|| err(format!("{key} is required for {:?}", self.action)))
        };
        let value_text = || match &self.value {
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(toml::Value::Integer(i)) => Ok(i.to_string()),
            Some(other) => Err(err(format!("value: {other} is neither a string nor an integer"))),
            None => Err(err(format!("value is required for {:?}", self.action))),
        };
        let action = match self.action.as_str() {
            "kill" => StepAction::Kill { host: need("host", &self.host)? },
            "restart" => StepAction::Restart { host: need("host", &self.host)? },
            "delay" => {
                let target = match (&self.host, &self.link) {
                    (Some(h), None) => DelayTarget::Host(h.clone()),
                    (None, Some(l)) => {
                        let (a, b) = l
                            .split_once('-')
                            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                            .ok_or_else(|| err(format!("link: {l:?} is not \"<switch>-<switch>\"")))?;
                        DelayTarget::Link(a.to_string(), b.to_string())
                    }
                    _ => return Err(err("delay needs exactly one of host or link".to_string())),
                };
                let value = parse_duration(&value_text()?).map_err(|e| err(format!("value: {e}")))?;
                StepAction::Delay { target, value }
            }
            "weight" => {
                let text = value_text()?;
                let weight: u16 = text.parse().ok().filter(|w| *w >= 1).ok_or_else(|| {
                    err(format!("value: weight {text:?} is not an integer from 1 to 65535"))
                })?;
                StepAction::Weight {
                    pool: need("pool", &self.pool)?,
                    host: need("host", &self.host)?,
                    weight,
                }
            }
            other => {
                return Err(err(format!(
                    "action: unknown action {other:?} (known: kill, restart, delay, weight)"
                )));
            }
        };
        Ok(ScenarioStep { at, action })
    }
}

/// Parses `--step` text: `AT:ACTION:ARGS` (see the module docs).
pub fn parse_step_arg(text: &str) -> Result<ScenarioStep, ScenarioError> {
    let origin = format!("--step {text:?}");
    let err = |message: &str| ScenarioError { origin: origin.clone(), message: message.to_string() };
    let mut parts = text.splitn(3, ':');
    let (Some(at), Some(action), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(err("expected AT:ACTION:ARGS, e.g. 20s:kill:n2 or 45s:weight:v1/n1=3"));
    };
    let mut raw = RawStep {
        at: at.to_string(),
        action: action.to_string(),
        host: None,
        link: None,
        pool: None,
        value: None,
    };
    match action {
        "kill" | "restart" => raw.host = Some(rest.to_string()),
        "delay" => {
            let (target, value) =
                rest.split_once('=').ok_or_else(|| err("delay needs HOST=DELAY or A-B=DELAY"))?;
            if target.contains('-') {
                raw.link = Some(target.to_string());
            } else {
                raw.host = Some(target.to_string());
            }
            raw.value = Some(toml::Value::String(value.to_string()));
        }
        "weight" => {
            let (target, value) = rest.split_once('=').ok_or_else(|| err("weight needs POOL/HOST=WEIGHT"))?;
            let (pool, host) = target.split_once('/').ok_or_else(|| err("weight needs POOL/HOST=WEIGHT"))?;
            raw.pool = Some(pool.to_string());
            raw.host = Some(host.to_string());
            raw.value = Some(toml::Value::String(value.to_string()));
        }
        _ => {}
    }
    raw.parse(&origin)
}

/// Splits a topology file's text into the topology proper (every table but `scenario`, as TOML
/// text for the topology parser) and its `[[scenario]]` steps.
pub fn split_topology_text(text: &str, origin: &str) -> Result<(String, Vec<ScenarioStep>), ScenarioError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e| ScenarioError { origin: origin.to_string(), message: format!("not TOML: {e}") })?;
    let steps = match table.remove("scenario") {
        None => Vec::new(),
        Some(value) => {
            let raw: Vec<RawStep> = value.try_into().map_err(|e| ScenarioError {
                origin: format!("{origin} [[scenario]]"),
                message: e.to_string(),
            })?;
            raw.iter()
                .enumerate()
                .map(|(i, r)| r.parse(&format!("{origin} [[scenario]] #{}", i + 1)))
                .collect::<Result<_, _>>()?
        }
    };
    let rest = toml::to_string(&table)
        .map_err(|e| ScenarioError { origin: origin.to_string(), message: e.to_string() })?;
    Ok((rest, steps))
}

/// What steps may refer to, taken from the topology.
#[derive(Debug, Clone, Default)]
pub struct ScenarioContext {
    pub inference_hosts: Vec<String>,
    pub other_hosts: Vec<String>,
    /// Switch-to-switch links.
    pub links: Vec<(String, String)>,
    /// Pools and their backends' host names.
    pub pools: Vec<(String, Vec<String>)>,
}

/// Checks every step against the topology and the run length, and sorts them by time. A node may
/// only be killed while it runs (and is considered running again after a restart).
pub fn validate(
    steps: &[ScenarioStep],
    ctx: &ScenarioContext,
    run_length: Duration,
) -> Result<Vec<ScenarioStep>, ScenarioError> {
    let mut sorted = steps.to_vec();
    sorted.sort_by_key(|s| s.at);
    let mut dead: Vec<&str> = Vec::new();
    for step in &sorted {
        let err = |message: String| ScenarioError { origin: format!("step {step}"), message };
        if step.at >= run_length {
            return Err(err(format!(
                "at {} is not before the end of the run ({})",
                format_duration(step.at),
                format_duration(run_length)
            )));
        }
        let inference = |host: &str| {
            if ctx.inference_hosts.iter().any(|h| h == host) {
                Ok(())
            } else if ctx.other_hosts.iter().any(|h| h == host) {
                Err(err(format!("host {host:?} is not an inference host")))
            } else {
                Err(err(format!("unknown host {host:?}")))
            }
        };
        match &step.action {
            StepAction::Kill { host } => {
                inference(host)?;
                if dead.contains(&host.as_str()) {
                    return Err(err(format!("host {host:?} is already killed by an earlier step")));
                }
                dead.push(host);
            }
            StepAction::Restart { host } => {
                inference(host)?;
                dead.retain(|h| h != host);
            }
            StepAction::Delay { target: DelayTarget::Host(host), .. } => {
                if !ctx.inference_hosts.iter().chain(&ctx.other_hosts).any(|h| h == host) {
                    return Err(err(format!("unknown host {host:?}")));
                }
            }
            StepAction::Delay { target: DelayTarget::Link(a, b), .. } => {
                if !ctx.links.iter().any(|(x, y)| (x == a && y == b) || (x == b && y == a)) {
                    return Err(err(format!("no link between {a:?} and {b:?}")));
                }
            }
            StepAction::Weight { pool, host, .. } => {
                let Some((_, backends)) = ctx.pools.iter().find(|(p, _)| p == pool) else {
                    return Err(err(format!("unknown pool {pool:?}")));
                };
                if !backends.contains(host) {
                    return Err(err(format!("host {host:?} is not a backend of pool {pool:?}")));
                }
            }
        }
    }
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ScenarioContext {
        ScenarioContext {
            inference_hosts: vec!["n1".into(), "n2".into()],
            other_hosts: vec!["c1".into()],
            links: vec![("s1".into(), "s2".into())],
            pools: vec![("v1".into(), vec!["n1".into(), "n2".into()])],
        }
    }

    #[test]
    fn topology_file_scenarios_are_split_off_and_parsed() {
        let text = r#"
name = "t"
[[hosts]]
name = "n1"
[[scenario]]
at = "20s"
action = "kill"
host = "n2"
[[scenario]]
at = "30s"
action = "delay"
link = "s1-s2"
value = "50ms"
[[scenario]]
at = "45s"
action = "weight"
pool = "v1"
host = "n1"
value = 3
"#;
        let (rest, steps) = split_topology_text(text, "t.toml").unwrap();
        assert!(!rest.contains("scenario") && rest.contains("n1"), "{rest}");
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[0],
            ScenarioStep { at: Duration::from_secs(20), action: StepAction::Kill { host: "n2".into() } }
        );
        assert_eq!(
            steps[1].action,
            StepAction::Delay {
                target: DelayTarget::Link("s1".into(), "s2".into()),
                value: Duration::from_millis(50)
            }
        );
        assert_eq!(steps[2].action, StepAction::Weight { pool: "v1".into(), host: "n1".into(), weight: 3 });
        let (_, none) = split_topology_text("name = \"t\"", "t.toml").unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn errors_name_the_step_and_key() {
        let e =
            split_topology_text("[[scenario]]\nat = \"5s\"\naction = \"explode\"\nhost = \"n1\"", "t.toml")
                .unwrap_err();
        assert!(e.to_string().contains("#1") && e.to_string().contains("unknown action"), "{e}");
        let e =
            split_topology_text("[[scenario]]\nat = \"soon\"\naction = \"kill\"\nhost = \"n1\"", "t.toml")
                .unwrap_err();
        assert!(e.to_string().contains("at:"), "{e}");
        let e = split_topology_text("[[scenario]]\nat = \"1s\"\naction = \"kill\"", "t.toml").unwrap_err();
        assert!(e.to_string().contains("host is required"), "{e}");
        let e = split_topology_text("[[scenario]]\nat = \"1s\"\naction = \"kill\"\nnode = \"n1\"", "t.toml")
            .unwrap_err();
        assert!(e.to_string().contains("node"), "unknown key named: {e}");
        let e = parse_step_arg("45s:weight:v1/n1=0").unwrap_err();
        assert!(e.to_string().contains("--step") && e.to_string().contains("weight"), "{e}");
        assert!(parse_step_arg("20s-kill-n2").is_err());
    }

    #[test]
    fn command_line_steps_round_trip_through_display() {
        for text in [
            "20s:kill:n2",
            "40s:restart:n2",
            "30s:delay:n1=50ms",
            "30s:delay:s1-s2=250ms",
            "45s:weight:v1/n1=3",
        ] {
            let step = parse_step_arg(text).unwrap();
            assert_eq!(step.to_string(), text);
        }
    }

    #[test]
    fn validation_checks_names_times_and_order() {
        let steps: Vec<ScenarioStep> = ["8s:restart:n2", "2s:kill:n2", "3s:weight:v1/n1=2"]
            .iter()
            .map(|s| parse_step_arg(s).unwrap())
            .collect();
        let sorted = validate(&steps, &ctx(), Duration::from_secs(10)).unwrap();
        let times: Vec<u64> = sorted.iter().map(|s| s.at.as_secs()).collect();
        assert_eq!(times, [2, 3, 8]);
        let check = |text: &str| validate(&[parse_step_arg(text).unwrap()], &ctx(), Duration::from_secs(10));
        assert!(check("12s:kill:n1").unwrap_err().message.contains("not before the end"));
        assert!(check("1s:kill:c1").unwrap_err().message.contains("not an inference host"));
        assert!(check("1s:kill:n9").unwrap_err().message.contains("unknown host"));
        assert!(check("1s:delay:s1-s3=5ms").unwrap_err().message.contains("no link"));
        assert!(check("1s:delay:s2-s1=5ms").is_ok(), "links match in either order");
        assert!(check("1s:weight:v2/n1=2").unwrap_err().message.contains("unknown pool"));
        assert!(check("1s:weight:v1/c1=2").unwrap_err().message.contains("not a backend"));
        let twice = [parse_step_arg("1s:kill:n1").unwrap(), parse_step_arg("2s:kill:n1").unwrap()];
        assert!(
            validate(&twice, &ctx(), Duration::from_secs(10)).unwrap_err().message.contains("already killed")
        );
    }
}

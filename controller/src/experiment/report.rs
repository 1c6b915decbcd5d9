//! What one run of an experiment measured ([`RunResult`], stored as `runs/<algorithm>-r<k>/summary.json`)
//! and the `report.md` comparing the algorithms: the mean ± sample standard deviation of every
//! metric over the repetitions, per-backend shares, reaction times to the scenario steps, and links
//! to the plots. Rendering is pure (text in, text out).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::stats::Spread;
use super::summary::LoadSummary;

/// Controller counters over one run (the difference of `/metrics` after and before).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ControllerCounters {
    /// `of_packet_ins`, every switch.
    pub packet_ins: f64,
    /// `of_flowmsgs_sent`, every switch.
    pub flow_mods: f64,
    /// `rudder_lb_packet_ins_total` of the experiment's pool.
    pub lb_packet_ins: f64,
}

/// A flow-table size sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FlowSample {
    /// Seconds since the workload started.
    pub t_s: f64,
    /// Flow entries summed over every switch.
    pub flows: u64,
}

/// What happened around one scenario step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    /// The step as `--step` text, e.g. `20s:kill:n2`.
    pub step: String,
    pub kind: String,
    /// When it was carried out, seconds since the workload started.
    pub executed_at_s: f64,
    /// Seconds until the system visibly reacted: for `kill`, until the load balancer marked the
    /// backend not healthy; for `restart`, until the node served a request again; `None` when it did
    /// not react within the run (or the step has no defined reaction: delay, weight).
    pub reaction_s: Option<f64>,
    /// Requests that started after the step and failed.
    pub failed_after: u64,
    /// Set if the step could not be carried out.
    pub error: Option<String>,
}

/// One algorithm × repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub algorithm: String,
    /// From 1.
    pub repetition: u32,
    pub seed: u64,
    /// Every client's requests together; `nodes` lists every backend of the pool.
    pub summary: LoadSummary,
    pub controller: ControllerCounters,
    pub flow_table: Vec<FlowSample>,
    pub steps: Vec<StepOutcome>,
    /// Flows the load balancer assigned to a backend while it was dead (killed and not yet
    /// restarted), after the detection grace period; by host. Should be 0.
    pub flows_to_dead: BTreeMap<String, u64>,
}

impl RunResult {
    pub fn peak_flows(&self) -> u64 {
        self.flow_table.iter().map(|s| s.flows).max().unwrap_or(0)
    }
}

/// What the report says about how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportMeta {
    pub topology: String,
    pub pool: String,
    pub command_line: String,
    pub seed: u64,
    pub duration_s: f64,
    pub workload: String,
    pub repetitions: u32,
    pub rudder_version: String,
    pub git_commit: Option<String>,
    pub date: String,
    /// Plot file stems written next to the report (without extension), with a caption; or the
    /// reason plots are missing.
    pub plots: Result<Vec<(String, String)>, String>,
}

impl Default for ReportMeta {
    fn default() -> Self {
        ReportMeta {
            topology: String::new(),
            pool: String::new(),
            command_line: String::new(),
            seed: 0,
            duration_s: 0.0,
            workload: String::new(),
            repetitions: 0,
            rudder_version: String::new(),
            git_commit: None,
            date: String::new(),
            plots: Ok(Vec::new()),
        }
    }
}

/// `mean ± sd` with `digits` decimals; `n/a` when nothing was measured.
pub fn mean_pm(values: &[f64], digits: usize) -> String {
    match Spread::of(values) {
        Some(s) if s.n > 1 => format!("{:.digits$} ± {:.digits$}", s.mean, s.stdev),
        Some(s) => format!("{:.digits$}", s.mean),
        None => "n/a".to_string(),
    }
}

/// The algorithms in first-seen order, with their runs.
pub fn by_algorithm(runs: &[RunResult]) -> Vec<(String, Vec<&RunResult>)> {
    let mut groups: Vec<(String, Vec<&RunResult>)> = Vec::new();
    for run in runs {
        match groups.iter_mut().find(|(a, _)| *a == run.algorithm) {
            Some((_, list)) => list.push(run),
            None => groups.push((run.algorithm.clone(), vec![run])),
        }
    }
    groups
}

/// Every backend named in any run, sorted.
pub fn backends(runs: &[RunResult]) -> Vec<String> {
    let mut names: Vec<String> =
        runs.iter().flat_map(|r| r.summary.nodes.iter().map(|n| n.node.clone())).collect();
    names.sort();
    names.dedup();
    names
}

/// The mean share of every backend for one algorithm (0 for a backend a run did not list).
pub fn mean_shares(runs: &[&RunResult], backends: &[String]) -> Vec<f64> {
    backends
        .iter()
        .map(|b| {
            let shares: Vec<f64> = runs
                .iter()
                .map(|r| r.summary.nodes.iter().find(|n| &n.node == b).map_or(0.0, |n| n.share))
                .collect();
            Spread::of(&shares).map_or(0.0, |s| s.mean)
        })
        .collect()
}

/// `report.md`.
pub fn render_report(meta: &ReportMeta, runs: &[RunResult]) -> String {
    let mut md = String::new();
    let groups = by_algorithm(runs);
    let names = backends(runs);
    let _ = writeln!(md, "# Load-balancing experiment: {} (pool {})\n", meta.topology, meta.pool);
    let _ = writeln!(
        md,
        "{} algorithm(s) × {} repetition(s), {:.0} s each; workload: {}; seed {}.\n",
        groups.len(),
        meta.repetitions,
        meta.duration_s,
        meta.workload,
        meta.seed
    );
    let _ = writeln!(md, "Values are the mean ± sample standard deviation over the repetitions.\n");

    let _ = writeln!(md, "## Comparison\n");
    let _ = writeln!(
        md,
        "| algorithm | runs | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | error rate (%) | Jain's index | packet-ins | flow-mods | peak flow entries |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (algorithm, list) in &groups {
        let pick = |f: &dyn Fn(&RunResult) -> Option<f64>| -> Vec<f64> {
            list.iter().filter_map(|r| f(r)).collect()
        };
        let _ = writeln!(
            md,
            "| {algorithm} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            list.len(),
            mean_pm(&pick(&|r| Some(r.summary.throughput_rps)), 2),
            mean_pm(&pick(&|r| r.summary.latency_ms.map(|l| l.p50)), 1),
            mean_pm(&pick(&|r| r.summary.latency_ms.map(|l| l.p95)), 1),
            mean_pm(&pick(&|r| r.summary.latency_ms.map(|l| l.p99)), 1),
            mean_pm(&pick(&|r| r.summary.latency_ms.map(|l| l.max)), 1),
            mean_pm(&pick(&|r| Some(r.summary.error_rate * 100.0)), 2),
            mean_pm(&pick(&|r| r.summary.jain_index), 3),
            mean_pm(&pick(&|r| Some(r.controller.packet_ins)), 0),
            mean_pm(&pick(&|r| Some(r.controller.flow_mods)), 0),
            mean_pm(&pick(&|r| Some(r.peak_flows() as f64)), 0),
        );
    }

    let _ = writeln!(md, "\n## Share of successful requests per backend\n");
    let _ = writeln!(md, "| algorithm | {} |", names.join(" | "));
    let _ = writeln!(md, "|---|{}", "---|".repeat(names.len()));
    for (algorithm, list) in &groups {
        let cells: Vec<String> = names
            .iter()
            .map(|b| {
                let shares: Vec<f64> = list
                    .iter()
                    .map(|r| r.summary.nodes.iter().find(|n| &n.node == b).map_or(0.0, |n| n.share * 100.0))
                    .collect();
                format!("{} %", mean_pm(&shares, 1))
            })
            .collect();
        let _ = writeln!(md, "| {algorithm} | {} |", cells.join(" | "));
    }

    let steps: Vec<&StepOutcome> = runs.iter().flat_map(|r| &r.steps).collect();
    if !steps.is_empty() {
        let _ = writeln!(md, "\n## Scenario steps\n");
        let _ = writeln!(
            md,
            "Reaction: for `kill`, seconds until the load balancer marked the backend unhealthy; for `restart`, seconds until the node served a request again.\n"
        );
        let _ = writeln!(
            md,
            "| algorithm | step | reaction (s) | failed requests after the step | flows to a dead backend |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|");
        for (algorithm, list) in &groups {
            let mut step_names: Vec<&str> =
                list.iter().flat_map(|r| r.steps.iter().map(|s| s.step.as_str())).collect();
            step_names.dedup();
            let dead: Vec<f64> = list.iter().map(|r| r.flows_to_dead.values().sum::<u64>() as f64).collect();
            for name in step_names {
                let outcomes: Vec<&StepOutcome> =
                    list.iter().flat_map(|r| r.steps.iter().filter(|s| s.step == name)).collect();
                let reactions: Vec<f64> = outcomes.iter().filter_map(|s| s.reaction_s).collect();
                let reaction = if reactions.len() < outcomes.len() && !reactions.is_empty() {
                    format!("{} ({} of {} reacted)", mean_pm(&reactions, 2), reactions.len(), outcomes.len())
                } else {
                    mean_pm(&reactions, 2)
                };
                let failed: Vec<f64> = outcomes.iter().map(|s| s.failed_after as f64).collect();
                let errors: Vec<&str> = outcomes.iter().filter_map(|s| s.error.as_deref()).collect();
                let reaction = if errors.is_empty() {
                    reaction
                } else {
                    format!("{reaction}; not carried out: {}", errors[0])
                };
                let _ = writeln!(
                    md,
                    "| {algorithm} | `{name}` | {reaction} | {} | {} |",
                    mean_pm(&failed, 1),
                    mean_pm(&dead, 1)
                );
            }
        }
    }

    let _ = writeln!(md, "\n## Plots\n");
    match &meta.plots {
        Ok(plots) => {
            for (stem, caption) in plots {
                let _ = writeln!(md, "### {caption}\n\n![{caption}]({stem}.png)\n\n([SVG]({stem}.svg))\n");
            }
        }
        Err(why) => {
            let _ = writeln!(md, "Plots were not drawn: {why}\n");
        }
    }

    let _ = writeln!(md, "## Reproducing\n");
    let _ = writeln!(md, "```\n{}\n```\n", meta.command_line);
    let _ = writeln!(
        md,
        "rudder {}{}, {}. The topology file is `topology.toml`; everything about the run is in `experiment.json`; per-request data in `requests.csv`; per-run summaries in `runs/*/summary.json`.",
        meta.rudder_version,
        meta.git_commit.as_deref().map(|c| format!(" (commit {c})")).unwrap_or_default(),
        meta.date
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::RequestRecord;

    fn run(algorithm: &str, repetition: u32, per_node: &[(&str, usize)], latency: f64) -> RunResult {
        let mut records = Vec::new();
        for (node, n) in per_node {
            for _ in 0..*n {
                records.push(RequestRecord {
                    start_s: 0.0,
                    latency_ms: latency,
                    status: Some(200),
                    error: None,
                    node: Some(node.to_string()),
                    label: None,
                    url: "u".into(),
                });
            }
        }
        let expected: Vec<String> = per_node.iter().map(|(n, _)| n.to_string()).collect();
        RunResult {
            algorithm: algorithm.into(),
            repetition,
            seed: 1,
            summary: LoadSummary::from_records(&records, 10.0, &expected),
            controller: ControllerCounters { packet_ins: 40.0, flow_mods: 80.0, lb_packet_ins: 40.0 },
            flow_table: vec![FlowSample { t_s: 0.0, flows: 3 }, FlowSample { t_s: 1.0, flows: 9 }],
            steps: vec![StepOutcome {
                step: "2s:kill:n2".into(),
                kind: "kill".into(),
                executed_at_s: 2.0,
                reaction_s: Some(0.4 + repetition as f64 * 0.2),
                failed_after: 1,
                error: None,
            }],
            flows_to_dead: [("n2".to_string(), 0)].into(),
        }
    }

    #[test]
    fn report_compares_every_algorithm_with_spread() {
        let runs = vec![
            run("round_robin", 1, &[("n1", 10), ("n2", 10)], 30.0),
            run("round_robin", 2, &[("n1", 10), ("n2", 10)], 50.0),
            run("least_connections", 1, &[("n1", 15), ("n2", 5)], 20.0),
        ];
        let meta = ReportMeta {
            topology: "default".into(),
            pool: "v1".into(),
            command_line: "rudder experiment topologies/default.toml".into(),
            repetitions: 2,
            plots: Ok(vec![("latency_cdf".into(), "Latency CDF".into())]),
            ..Default::default()
        };
        let md = render_report(&meta, &runs);
        // Throughput 2 req/s in both round-robin runs; p50 30 and 50 -> 40 ± 14.1.
        assert!(md.contains("| round_robin | 2 | 2.00 ± 0.00 | 40.0 ± 14.1 |"), "{md}");
        assert!(md.contains("| least_connections | 1 | 2.00 | 20.0 |"), "{md}");
        assert!(md.contains("| algorithm | n1 | n2 |"), "{md}");
        assert!(md.contains("| least_connections | 75.0 % | 25.0 % |"), "{md}");
        assert!(md.contains("`2s:kill:n2` | 0.70 ± 0.14 |"), "reaction 0.6 and 0.8: {md}");
        assert!(md.contains("![Latency CDF](latency_cdf.png)"));
        assert!(md.contains("| 9 |"), "peak flow entries: {md}");
        let no_plots = ReportMeta { plots: Err("font missing".into()), ..meta };
        assert!(render_report(&no_plots, &runs).contains("Plots were not drawn: font missing"));
    }

    #[test]
    fn shares_and_grouping_helpers() {
        let runs = vec![run("a", 1, &[("n1", 3), ("n2", 1)], 1.0), run("a", 2, &[("n1", 1), ("n2", 1)], 1.0)];
        let groups = by_algorithm(&runs);
        assert_eq!(groups.len(), 1);
        let shares = mean_shares(&groups[0].1, &backends(&runs));
        assert!((shares[0] - 0.625).abs() < 1e-12 && (shares[1] - 0.375).abs() < 1e-12);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(mean_pm(&[], 1), "n/a");
    }
}

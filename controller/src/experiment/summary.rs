//! The summary of one workload run (`rudder load` prints it; `rudder experiment` stores one per run
//! as `summary.json`): counts, errors by kind, throughput, latency percentiles, per-node shares and
//! Jain's fairness index, computed from the per-request records.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::record::RequestRecord;
use super::stats::{LatencySummary, jain_index, shares};

/// One node's part of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeShare {
    pub node: String,
    /// Successful requests it served.
    pub requests: u64,
    /// `requests` / all successful requests that named their node.
    pub share: f64,
}

/// What a workload run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub requests: u64,
    pub ok: u64,
    /// Failed requests by kind (`connect`, `timeout`, `http_503`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Failed / all requests (0 when there were none).
    pub error_rate: f64,
    /// Wall time from the first send to the last completion, seconds.
    pub elapsed_s: f64,
    /// Successful requests per second of `elapsed_s`.
    pub throughput_rps: f64,
    /// Latency of the successful requests, milliseconds (`None` when none succeeded).
    pub latency_ms: Option<LatencySummary>,
    /// Per serving node, by name; the shares sum to 1 when any request named its node.
    pub nodes: Vec<NodeShare>,
    /// Successful requests whose reply named no node.
    pub unattributed: u64,
    /// Jain's index over the per-node request counts (`expected_nodes` that served nothing count
    /// as 0); `None` when no request named its node.
    pub jain_index: Option<f64>,
}

impl LoadSummary {
    /// Summarises `records`. `elapsed_s` is the run's wall time; `expected_nodes` are nodes that
    /// should appear even if they served nothing (a starved backend must show up as 0, and lower
    /// the fairness index).
    pub fn from_records(records: &[RequestRecord], elapsed_s: f64, expected_nodes: &[String]) -> LoadSummary {
        let requests = records.len() as u64;
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut latencies = Vec::new();
        let mut per_node: BTreeMap<String, u64> = expected_nodes.iter().map(|n| (n.clone(), 0)).collect();
        let mut unattributed = 0;
        for r in records {
            match &r.error {
                Some(kind) => *errors.entry(kind.clone()).or_default() += 1,
                None => {
                    latencies.push(r.latency_ms);
                    match &r.node {
                        Some(node) => *per_node.entry(node.clone()).or_default() += 1,
                        None => unattributed += 1,
                    }
                }
            }
        }
        let ok = latencies.len() as u64;
        let attributed: u64 = per_node.values().sum();
        let node_shares = shares(&per_node);
        let counts: Vec<f64> = per_node.values().map(|&c| c as f64).collect();
        LoadSummary {
            requests,
            ok,
            error_rate: if requests == 0 { 0.0 } else { (requests - ok) as f64 / requests as f64 },
            errors,
            elapsed_s,
            throughput_rps: if elapsed_s > 0.0 { ok as f64 / elapsed_s } else { 0.0 },
            latency_ms: LatencySummary::of(&latencies),
            nodes: per_node
                .iter()
                .map(|(node, &requests)| NodeShare { node: node.clone(), requests, share: node_shares[node] })
                .collect(),
            unattributed,
            jain_index: if attributed == 0 { None } else { jain_index(&counts) },
        }
    }
}

impl fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "requests: {}  ok: {}  errors: {} ({:.2}%)",
            self.requests,
            self.ok,
            self.requests - self.ok,
            self.error_rate * 100.0
        )?;
        for (kind, n) in &self.errors {
            writeln!(f, "  {kind}: {n}")?;
        }
        writeln!(f, "elapsed: {:.2} s  throughput: {:.2} req/s", self.elapsed_s, self.throughput_rps)?;
        match &self.latency_ms {
            Some(l) => writeln!(
                f,
                "latency ms: mean {:.1}  p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
                l.mean, l.p50, l.p95, l.p99, l.max
            )?,
            None => writeln!(f, "latency: no successful request")?,
        }
        for n in &self.nodes {
            writeln!(f, "  node {:<12} {:>7} requests  {:>6.1}%", n.node, n.requests, n.share * 100.0)?;
        }
        if self.unattributed > 0 {
            writeln!(f, "  (no node named) {} requests", self.unattributed)?;
        }
        match self.jain_index {
            Some(j) => write!(f, "Jain's fairness index: {j:.3}"),
            None => write!(f, "Jain's fairness index: n/a"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(latency_ms: f64, node: Option<&str>, error: Option<&str>) -> RequestRecord {
        RequestRecord {
            start_s: 0.0,
            latency_ms,
            status: Some(200),
            error: error.map(str::to_string),
            node: node.map(str::to_string),
            label: None,
            url: "u".into(),
        }
    }

    #[test]
    fn summary_counts_shares_and_fairness() {
        let records = [
            rec(10.0, Some("n1"), None),
            rec(20.0, Some("n1"), None),
            rec(30.0, Some("n2"), None),
            rec(40.0, None, None),
            rec(5.0, None, Some("connect")),
            rec(1000.0, None, Some("timeout")),
        ];
        let s = LoadSummary::from_records(&records, 2.0, &["n3".to_string()]);
        assert_eq!((s.requests, s.ok, s.unattributed), (6, 4, 1));
        assert_eq!(s.errors["connect"], 1);
        assert_eq!(s.errors["timeout"], 1);
        assert!((s.error_rate - 2.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.throughput_rps, 2.0);
        let l = s.latency_ms.unwrap();
        assert_eq!((l.count, l.max), (4, 40.0));
        let names: Vec<&str> = s.nodes.iter().map(|n| n.node.as_str()).collect();
        assert_eq!(names, ["n1", "n2", "n3"]);
        let total: f64 = s.nodes.iter().map(|n| n.share).sum();
        assert!((total - 1.0).abs() < 1e-12);
        // counts 2,1,0: 9 / (3*5)
        assert!((s.jain_index.unwrap() - 0.6).abs() < 1e-12);
        let text = s.to_string();
        assert!(text.contains("n3") && text.contains("timeout: 1"), "{text}");
    }

    #[test]
    fn empty_run_has_no_latency_or_fairness() {
        let s = LoadSummary::from_records(&[], 0.0, &[]);
        assert_eq!((s.requests, s.error_rate, s.throughput_rps), (0, 0.0, 0.0));
        assert!(s.latency_ms.is_none() && s.jain_index.is_none());
    }
}

//! Everything an experiment writes to `--out`: the combined per-request CSV, per-run files, the
//! plots, `report.md`, and the reproducibility record (`experiment.json`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::plot::{self, Marker, Series};
use super::record::{RequestRecord, record_fields, write_csv_line};
use super::report::{RunResult, backends, by_algorithm, mean_shares};
use super::run::ClientRecords;
use super::stats::{LatencySummary, cdf_points, sorted, time_bins};

/// The columns of `requests.csv`.
pub const REQUESTS_HEADER: [&str; 10] =
    ["algorithm", "repetition", "client", "start_s", "latency_ms", "status", "error", "node", "label", "url"];

/// Appends one run's requests to `requests.csv` (the header is written when the file is new).
pub fn append_requests(
    path: &Path,
    algorithm: &str,
    repetition: u32,
    clients: &[ClientRecords],
) -> anyhow::Result<()> {
    let new = !path.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    if new {
        write_csv_line(&mut out, &REQUESTS_HEADER)?;
    }
    let rep = repetition.to_string();
    for c in clients {
        for r in &c.records {
            let fields = record_fields(r);
            let mut line: Vec<&str> = vec![algorithm, &rep, &c.client];
            line.extend(fields.iter().map(String::as_str));
            write_csv_line(&mut out, &line)?;
        }
    }
    out.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes `summary.json` and `flows.csv` (t_s, flows) of one run into its directory.
pub fn write_run(dir: &Path, result: &RunResult) -> anyhow::Result<()> {
    let path = dir.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(result)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let mut flows = String::from("t_s,flows\n");
    for s in &result.flow_table {
        flows.push_str(&format!("{:.3},{}\n", s.t_s, s.flows));
    }
    let path = dir.join("flows.csv");
    std::fs::write(&path, flows).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Draws the three plots into `out`; returns (file stem, caption) of each.
pub fn draw_plots(
    out: &Path,
    runs: &[RunResult],
    records: &[(String, u32, Vec<RequestRecord>)],
    duration_s: f64,
) -> Result<Vec<(String, String)>, plot::PlotError> {
    let groups = by_algorithm(runs);
    let algorithms: Vec<String> = groups.iter().map(|(a, _)| a.clone()).collect();
    let mut cdf = Vec::new();
    let mut over_time = Vec::new();
    let mut x_max: f64 = 0.0;
    for algorithm in &algorithms {
        let latencies: Vec<f64> = records
            .iter()
            .filter(|(a, _, _)| a == algorithm)
            .flat_map(|(_, _, rs)| rs.iter().filter(|r| r.ok()).map(|r| r.latency_ms))
            .collect();
        if let Some(l) = LatencySummary::of(&latencies) {
            x_max = x_max.max(l.p99 * 1.2);
        }
        cdf.push(Series { name: algorithm.clone(), points: cdf_points(&sorted(&latencies), 400) });
        let first: Vec<(f64, f64, bool)> = records
            .iter()
            .filter(|(a, rep, _)| a == algorithm && *rep == 1)
            .flat_map(|(_, _, rs)| rs.iter().map(|r| (r.start_s, r.latency_ms, r.ok())))
            .collect();
        let points =
            time_bins(&first, 1.0).iter().filter_map(|b| b.p50_ms.map(|p| (b.start_s + 0.5, p))).collect();
        over_time.push(Series { name: algorithm.clone(), points });
    }
    let names = backends(runs);
    let shares: Vec<Vec<f64>> = groups.iter().map(|(_, list)| mean_shares(list, &names)).collect();
    let mut markers: Vec<Marker> = Vec::new();
    if let Some(first) = runs.first() {
        for s in &first.steps {
            let label = s.step.split_once(':').map_or(s.step.clone(), |(_, rest)| rest.replace(':', " "));
            markers.push(Marker { x: s.executed_at_s, label });
        }
    }
    plot::latency_cdf(&out.join("latency_cdf"), &cdf, x_max)?;
    plot::backend_shares(&out.join("backend_shares"), &algorithms, &names, &shares)?;
    plot::latency_over_time(&out.join("latency_over_time"), &over_time, &markers, duration_s)?;
    Ok(vec![
        ("latency_cdf".into(), "Latency CDF per algorithm".into()),
        ("backend_shares".into(), "Share of requests per backend".into()),
        ("latency_over_time".into(), "Median latency over time, scenario steps marked".into()),
    ])
}

/// `git rev-parse HEAD` in `dir`, if it is in a git checkout.
pub fn git_commit(dir: &Path) -> Option<String> {
    let out =
        std::process::Command::new("git").arg("-C").arg(dir).args(["rev-parse", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The current UTC time as ISO 8601 (`2026-11-23T07:00:00Z`), from the civil-from-days algorithm
/// (H. Hinnant), so no date crate is needed.
pub fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    iso8601(secs)
}

pub fn iso8601(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `<out>/runs/<algorithm>-r<repetition>`.
pub fn run_dir(out: &Path, algorithm: &str, repetition: u32) -> PathBuf {
    out.join("runs").join(format!("{algorithm}-r{repetition}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_of_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn requests_csv_has_experiment_columns() {
        let dir = std::env::temp_dir().join(format!("rudder-out-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("requests.csv");
        let _ = std::fs::remove_file(&path);
        let record = RequestRecord {
            start_s: 0.5,
            latency_ms: 12.0,
            status: Some(200),
            error: None,
            node: Some("n1".into()),
            label: Some("tabby, tabby cat".into()),
            url: "http://10.0.0.100:8000/predict".into(),
        };
        let clients = [ClientRecords { client: "c1".into(), records: vec![record] }];
        append_requests(&path, "round_robin", 1, &clients).unwrap();
        append_requests(&path, "random", 2, &clients).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], REQUESTS_HEADER.join(","));
        assert_eq!(lines.len(), 3, "one header only: {text}");
        assert!(
            lines[1].starts_with("round_robin,1,c1,0.500000,12.000,200,,n1,\"tabby, tabby cat\","),
            "{text}"
        );
        assert!(lines[2].starts_with("random,2,c1,"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

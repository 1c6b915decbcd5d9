//! What `rudder bench` prints: per-loop lines and the final `RESULT` line in cbench's format, the
//! statistics behind them, and the JSON summary.

use std::fmt::Write as _;

use serde::Serialize;

/// min/max/avg/stdev of per-loop rates. The standard deviation is the population one, as cbench
/// computes it (`sqrt(sum(x²)/n - avg²)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateStats {
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    pub stdev: f64,
}

impl RateStats {
    /// `None` for no samples.
    pub fn of(values: &[f64]) -> Option<RateStats> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let avg = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - avg) * (v - avg)).sum::<f64>() / n;
        Some(RateStats { min, max, avg, stdev: var.sqrt() })
    }
}

/// Latency percentiles in microseconds (nearest-rank: the smallest sample with at least p% of the
/// samples at or below it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyStats {
    pub samples: usize,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl LatencyStats {
    /// From round-trip times in nanoseconds (sorted in place); `None` for no samples.
    pub fn of(samples_ns: &mut [u64]) -> Option<LatencyStats> {
        if samples_ns.is_empty() {
            return None;
        }
        samples_ns.sort_unstable();
        let us = |ns: u64| ns as f64 / 1000.0;
        let mean = samples_ns.iter().map(|&n| n as f64).sum::<f64>() / samples_ns.len() as f64 / 1000.0;
        Some(LatencyStats {
            samples: samples_ns.len(),
            min_us: us(samples_ns[0]),
            mean_us: mean,
            p50_us: us(percentile(samples_ns, 50.0)),
            p90_us: us(percentile(samples_ns, 90.0)),
            p99_us: us(percentile(samples_ns, 99.0)),
            max_us: us(samples_ns[samples_ns.len() - 1]),
        })
    }
}

/// Nearest-rank percentile of sorted, non-empty `sorted`.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// Counts of one switch over one loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub packet_ins: u64,
    pub flow_mods: u64,
    pub packet_outs: u64,
    /// PACKET_INs that never got their PACKET_OUT (inferred: a later one was answered, or the
    /// controller stayed silent past the stall timeout).
    pub lost: u64,
    /// OFPT_ERROR messages from the controller.
    pub errors: u64,
}

impl Counts {
    /// What the benchmark counts as the controller's answers: FLOW_MODs plus PACKET_OUTs, as cbench.
    pub fn responses(&self) -> u64 {
        self.flow_mods + self.packet_outs
    }

    pub fn minus(&self, earlier: &Counts) -> Counts {
        Counts {
            packet_ins: self.packet_ins.saturating_sub(earlier.packet_ins),
            flow_mods: self.flow_mods.saturating_sub(earlier.flow_mods),
            packet_outs: self.packet_outs.saturating_sub(earlier.packet_outs),
            lost: self.lost.saturating_sub(earlier.lost),
            errors: self.errors.saturating_sub(earlier.errors),
        }
    }

    pub fn add(&mut self, other: &Counts) {
        self.packet_ins += other.packet_ins;
        self.flow_mods += other.flow_mods;
        self.packet_outs += other.packet_outs;
        self.lost += other.lost;
        self.errors += other.errors;
    }
}

/// cbench's per-loop line: responses of each switch during the loop, then the total per ms.
pub fn loop_line(per_switch: &[Counts], elapsed_ms: f64, warmup: bool) -> String {
    let mut line = format!("{} switches: flows/sec:", per_switch.len());
    for c in per_switch {
        let _ = write!(line, "  {}", c.responses());
    }
    let total: u64 = per_switch.iter().map(Counts::responses).sum();
    let _ = write!(line, "   total = {:.6} per ms", total as f64 / elapsed_ms.max(f64::MIN_POSITIVE));
    if warmup {
        line.push_str(" (warmup, not counted)");
    }
    line
}

/// cbench's final line.
pub fn result_line(switches: usize, stats: &RateStats, loops: usize) -> String {
    format!(
        "RESULT: {switches} switches {loops} tests min/max/avg/stdev = {:.2}/{:.2}/{:.2}/{:.2} responses/s",
        stats.min, stats.max, stats.avg, stats.stdev
    )
}

/// CPU time used during the measured loops, to check the benchmark is not the bottleneck.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuUse {
    /// Percent of one core the benchmark used.
    pub bench_percent: f64,
    /// Percent of one core the controller used (when its pid was given).
    pub controller_percent: Option<f64>,
}

/// CPU seconds (user + system, all threads) a process has used, from `/proc/<pid>/stat`.
pub fn process_cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    parse_stat_cpu_seconds(&std::fs::read_to_string(path).ok()?)
}

/// utime + stime of a `/proc/<pid>/stat` line in seconds. Fields are counted after the `)` closing
/// the command name (which may itself hold spaces); the tick is USER_HZ, 100 on Linux (proc(5)).
pub fn parse_stat_cpu_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15 (1-based, proc(5)).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The `--json` summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub controller: String,
    pub mode: &'static str,
    pub switches: usize,
    pub macs: u32,
    pub loops: usize,
    pub warmup: usize,
    pub ms_per_test: u64,
    pub window: usize,
    /// Responses (FLOW_MOD + PACKET_OUT) per second of each measured loop.
    pub loop_responses_per_sec: Vec<f64>,
    pub responses_per_sec: Option<RateStats>,
    /// Totals over the measured loops.
    pub flow_mods: u64,
    pub packet_outs: u64,
    pub packet_ins: u64,
    pub lost: u64,
    pub errors: u64,
    /// PACKET_INs of the learning phase that got no PACKET_OUT.
    pub learn_lost: u64,
    pub latency: Option<LatencyStats>,
    pub cpu: Option<CpuUse>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_stats_match_hand_computation() {
        let s = RateStats::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!((s.min, s.max, s.avg), (2.0, 9.0, 5.0));
        assert!((s.stdev - 2.0).abs() < 1e-12, "population stdev is 2, got {}", s.stdev);
        let one = RateStats::of(&[3.5]).unwrap();
        assert_eq!(one.stdev, 0.0);
        assert!(RateStats::of(&[]).is_none());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), 50);
        assert_eq!(percentile(&sorted, 90.0), 90);
        assert_eq!(percentile(&sorted, 99.0), 99);
        assert_eq!(percentile(&sorted, 100.0), 100);
        assert_eq!(percentile(&sorted, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        // 4 samples: p50 is the 2nd, p90 and p99 the 4th.
        assert_eq!(percentile(&[10, 20, 30, 40], 50.0), 20);
        assert_eq!(percentile(&[10, 20, 30, 40], 90.0), 40);
    }

    #[test]
    fn latency_stats_in_microseconds() {
        let mut ns = vec![30_000, 10_000, 20_000, 1_000_000];
        let l = LatencyStats::of(&mut ns).unwrap();
        assert_eq!(l.samples, 4);
        assert_eq!(l.min_us, 10.0);
        assert_eq!(l.p50_us, 20.0);
        assert_eq!(l.p99_us, 1000.0);
        assert_eq!(l.max_us, 1000.0);
        assert_eq!(l.mean_us, 265.0);
        assert!(LatencyStats::of(&mut []).is_none());
    }

    #[test]
    fn cbench_style_lines() {
        let a = Counts { flow_mods: 100, packet_outs: 100, ..Counts::default() };
        let b = Counts { flow_mods: 50, packet_outs: 60, ..Counts::default() };
        assert_eq!(
            loop_line(&[a, b], 1000.0, false),
            "2 switches: flows/sec:  200  110   total = 0.310000 per ms"
        );
        assert!(loop_line(&[a], 100.0, true).ends_with("(warmup, not counted)"));
        let s = RateStats { min: 1.0, max: 3.0, avg: 2.0, stdev: 0.5 };
        assert_eq!(
            result_line(16, &s, 10),
            "RESULT: 16 switches 10 tests min/max/avg/stdev = 1.00/3.00/2.00/0.50 responses/s"
        );
    }

    #[test]
    fn counts_difference_and_sum() {
        let later = Counts { packet_ins: 10, flow_mods: 5, packet_outs: 9, lost: 1, errors: 0 };
        let earlier = Counts { packet_ins: 4, flow_mods: 2, packet_outs: 3, lost: 1, errors: 0 };
        let d = later.minus(&earlier);
        assert_eq!(d, Counts { packet_ins: 6, flow_mods: 3, packet_outs: 6, lost: 0, errors: 0 });
        assert_eq!(d.responses(), 9);
        let mut sum = d;
        sum.add(&d);
        assert_eq!(sum.packet_outs, 12);
    }

    #[test]
    fn proc_stat_cpu_time() {
        // Name with spaces and parentheses, utime 250 and stime 50 ticks.
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 0 0";
        assert_eq!(parse_stat_cpu_seconds(line), Some(3.0));
        assert_eq!(parse_stat_cpu_seconds("garbage"), None);
        assert!(process_cpu_seconds(None).is_some(), "our own /proc entry is readable");
    }
}

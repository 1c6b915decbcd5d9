//! The numbers an experiment reports, as pure functions over plain slices: percentiles, mean and
//! spread over repetitions, Jain's fairness index, per-backend shares, latency CDF points and
//! time-series bins. Nothing here does I/O, so every formula is unit-tested on hand-computed inputs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `p`-th percentile (`0..=100`) of an ascending slice, interpolating linearly between the two
/// nearest ranks (Hyndman & Fan type 7, numpy's default). `None` for an empty slice or a `p` out of
/// range.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let upper = rank.ceil() as usize;
    let fraction = rank - lower as f64;
    Some(sorted[lower] + (sorted[upper] - sorted[lower]) * fraction)
}

/// Sorts a copy ascending; NaNs (which a latency never is) sort last instead of panicking.
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Count, mean and the usual percentiles of a set of latencies (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencySummary {
    /// `None` when there are no values.
    pub fn of(values: &[f64]) -> Option<LatencySummary> {
        let s = sorted(values);
        Some(LatencySummary {
            count: s.len(),
            mean: mean(&s)?,
            p50: percentile(&s, 50.0)?,
            p95: percentile(&s, 95.0)?,
            p99: percentile(&s, 99.0)?,
            max: *s.last()?,
        })
    }
}

/// Arithmetic mean; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Mean and sample standard deviation (n − 1 in the denominator, 0 for a single value) of one
/// metric over repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub stdev: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Spread> {
        let m = mean(values)?;
        let n = values.len();
        let stdev = if n < 2 {
            0.0
        } else {
            (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        Some(Spread { mean: m, stdev, n })
    }
}

/// Jain's fairness index (Jain, Chiu & Hawe 1984): (Σx)² / (n·Σx²). 1 when every value is equal,
/// 1/n when one value holds everything. `None` when empty or all zero (undefined). Callers pass a
/// value for every backend, zeros included: a backend that got nothing must lower the index.
pub fn jain_index(values: &[f64]) -> Option<f64> {
    let sum: f64 = values.iter().sum();
    let sum_sq: f64 = values.iter().map(|v| v * v).sum();
    (!values.is_empty() && sum_sq > 0.0).then(|| sum * sum / (values.len() as f64 * sum_sq))
}

/// Each key's fraction of the total count (they sum to 1); all zeros when the total is 0.
pub fn shares(counts: &BTreeMap<String, u64>) -> BTreeMap<String, f64> {
    let total: u64 = counts.values().sum();
    counts.iter().map(|(k, &c)| (k.clone(), if total == 0 { 0.0 } else { c as f64 / total as f64 })).collect()
}

/// At most `max_points` points `(latency, fraction of values ≤ latency)` of the empirical CDF of an
/// ascending slice, always including the minimum and the maximum (fraction 1).
pub fn cdf_points(sorted: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 || max_points == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(max_points.max(2) - 1).max(1);
    let mut points: Vec<(f64, f64)> =
        (0..n).step_by(step).map(|i| (sorted[i], (i + 1) as f64 / n as f64)).collect();
    if points.last().is_none_or(|&(_, f)| f < 1.0) {
        points.push((sorted[n - 1], 1.0));
    }
    points
}

/// One bin of a latency time series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeBin {
    /// Start of the bin, seconds since the run started.
    pub start_s: f64,
    /// Requests that started in this bin.
    pub requests: usize,
    /// Of those, the ones that failed.
    pub errors: usize,
    /// Median and 95th percentile latency of the successful ones (`None` if there were none).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// Bins `(start_s, latency_ms, ok)` samples into consecutive `width_s`-wide bins from 0 up to the
/// last start; empty bins are kept (a gap in service is something to see). Samples with a negative
/// or non-finite start are ignored.
pub fn time_bins(samples: &[(f64, f64, bool)], width_s: f64) -> Vec<TimeBin> {
    // Also rejects NaN.
    if width_s.is_nan() || width_s <= 0.0 {
        return Vec::new();
    }
    let valid = samples.iter().filter(|(t, _, _)| t.is_finite() && *t >= 0.0);
    let Some(last) = valid.clone().map(|(t, _, _)| *t).reduce(f64::max) else {
        return Vec::new();
    };
    let count = (last / width_s).floor() as usize + 1;
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); count];
    let mut requests = vec![0usize; count];
    let mut errors = vec![0usize; count];
    for &(t, latency, ok) in valid {
        let i = ((t / width_s).floor() as usize).min(count - 1);
        requests[i] += 1;
        if ok {
            latencies[i].push(latency);
        } else {
            errors[i] += 1;
        }
    }
    (0..count)
        .map(|i| {
            let s = sorted(&latencies[i]);
            TimeBin {
                start_s: i as f64 * width_s,
                requests: requests[i],
                errors: errors[i],
                p50_ms: percentile(&s, 50.0),
                p95_ms: percentile(&s, 95.0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn percentile_interpolates_between_ranks() {
        let v = [10.0, 20.0, 30.0, 40.0];
        // rank = p/100 * 3
        assert_eq!(percentile(&v, 0.0), Some(10.0));
        assert_eq!(percentile(&v, 100.0), Some(40.0));
        assert!(close(percentile(&v, 50.0).unwrap(), 25.0)); // rank 1.5
        assert!(close(percentile(&v, 95.0).unwrap(), 38.5)); // rank 2.85
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 101.0), None);
        assert_eq!(percentile(&v, f64::NAN), None);
    }

    #[test]
    fn latency_summary_of_one_to_hundred() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = LatencySummary::of(&v).unwrap();
        assert_eq!(s.count, 100);
        assert!(close(s.mean, 50.5));
        assert!(close(s.p50, 50.5)); // rank 49.5 between 50 and 51
        assert!(close(s.p95, 95.05)); // rank 94.05
        assert!(close(s.p99, 99.01)); // rank 98.01
        assert_eq!(s.max, 100.0);
        assert_eq!(LatencySummary::of(&[]), None);
    }

    #[test]
    fn spread_uses_sample_stdev() {
        // mean 5; squared deviations 9+1+1+9 = 20; /3 -> sqrt(6.667) = 2.581988897
        let s = Spread::of(&[2.0, 4.0, 6.0, 8.0]).unwrap();
        assert!(close(s.mean, 5.0));
        assert!((s.stdev - 2.581_988_897_471_611).abs() < 1e-12);
        assert_eq!(s.n, 4);
        assert_eq!(Spread::of(&[3.0]).unwrap().stdev, 0.0);
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn jain_index_bounds_and_hand_value() {
        assert!(close(jain_index(&[5.0, 5.0, 5.0]).unwrap(), 1.0));
        assert!(close(jain_index(&[9.0, 0.0, 0.0]).unwrap(), 1.0 / 3.0));
        // (1+2+3)^2 / (3 * 14) = 36/42
        assert!(close(jain_index(&[1.0, 2.0, 3.0]).unwrap(), 36.0 / 42.0));
        assert_eq!(jain_index(&[0.0, 0.0]), None);
        assert_eq!(jain_index(&[]), None);
    }

    #[test]
    fn shares_sum_to_one() {
        let counts: BTreeMap<String, u64> =
            [("n1".to_string(), 1), ("n2".to_string(), 3), ("n3".to_string(), 0)].into();
        let s = shares(&counts);
        assert!(close(s["n1"], 0.25));
        assert!(close(s["n2"], 0.75));
        assert_eq!(s["n3"], 0.0);
        assert!(close(s.values().sum::<f64>(), 1.0));
        let empty: BTreeMap<String, u64> = [("n1".to_string(), 0)].into();
        assert_eq!(shares(&empty)["n1"], 0.0);
    }

    #[test]
    fn cdf_points_are_monotone_and_end_at_one() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let all = cdf_points(&v, 100);
        assert_eq!(all.len(), 10);
        assert_eq!(all[0], (1.0, 0.1));
        assert_eq!(all[9], (10.0, 1.0));
        let few = cdf_points(&v, 4);
        assert!(few.len() <= 5, "{few:?}");
        assert_eq!(few.first().unwrap().0, 1.0);
        assert_eq!(*few.last().unwrap(), (10.0, 1.0));
        assert!(few.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert!(cdf_points(&[], 10).is_empty());
    }

    #[test]
    fn time_bins_keep_gaps_and_count_errors() {
        let samples = [(0.1, 10.0, true), (0.9, 30.0, true), (1.5, 0.0, false), (3.2, 50.0, true)];
        let bins = time_bins(&samples, 1.0);
        assert_eq!(bins.len(), 4);
        assert_eq!(bins[0].requests, 2);
        assert_eq!(bins[0].p50_ms, Some(20.0));
        assert_eq!((bins[1].requests, bins[1].errors, bins[1].p50_ms), (1, 1, None));
        assert_eq!((bins[2].requests, bins[2].p50_ms), (0, None));
        assert_eq!(bins[3].start_s, 3.0);
        assert_eq!(bins[3].p95_ms, Some(50.0));
        assert!(time_bins(&samples, 0.0).is_empty());
        assert!(time_bins(&[], 1.0).is_empty());
    }
}

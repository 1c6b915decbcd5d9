//! The HTTP load generator: N keep-alive clients POST cache-defeating PNGs to one server for a
//! fixed time; the [`Report`] holds images/s, latency percentiles, the node's own per-stage
//! timings and, when the server's PID is known, the CPU time the server spent.
//!
//! Every request carries different bytes — the PNG gets a `tEXt` chunk holding a request counter
//! (PNG 1.2 §4.2.3.1; decoders ignore it) — so neither the node's result cache nor any other
//! cache keyed on the body can answer: each request is a real decode + preprocess + inference.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rudder_node::http_client::Connection;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Stage names in the node's `timings_ms`, summed over responses.
pub const STAGES: [&str; 4] = ["decode", "preprocess", "inference", "total"];

/// Reads the PNGs to send; anything else is refused (the cache-defeating chunk is PNG-specific).
pub fn load_bodies(images: &[PathBuf]) -> anyhow::Result<Vec<Arc<Vec<u8>>>> {
    anyhow::ensure!(!images.is_empty(), "no --image given");
    let mut bodies = Vec::new();
    for path in images {
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        anyhow::ensure!(bytes.starts_with(PNG_SIGNATURE), "{} is not a PNG", path.display());
        bodies.push(Arc::new(bytes));
    }
    Ok(bodies)
}

/// `png` with a `tEXt` chunk (`rudder-bench` = `counter`) right after `IHDR`, so every request
/// has distinct bytes. `png` must start with the signature and `IHDR` (checked by [`load_bodies`]).
pub fn unique_png(png: &[u8], counter: u64) -> Vec<u8> {
    const IHDR_END: usize = 8 + 4 + 4 + 13 + 4; // signature, length, type, data, CRC
    let split = IHDR_END.min(png.len());
    let mut data = b"rudder-bench\0".to_vec();
    data.extend_from_slice(counter.to_string().as_bytes());
    let mut chunk = Vec::with_capacity(data.len() + 12);
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(&data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend_from_slice(&png[..split]);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[split..]);
    out
}

/// CRC-32 (ISO-HDLC, the PNG chunk CRC, PNG 1.2 §3.4), bitwise: a few hundred bytes per request.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// What one or more measured periods against one server produced.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub ok: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Sorted.
    pub latencies_ms: Vec<f64>,
    /// Sums of the node's per-stage timings and how many responses reported them.
    pub stage_sums: [f64; 4],
    pub stage_count: usize,
    /// CPU time (user + system) the server process used while measured, if known.
    pub server_cpu: Option<Duration>,
    /// Measured periods pooled into this report.
    pub periods: usize,
}

impl Report {
    pub fn images_per_second(&self) -> f64 {
        if self.elapsed.is_zero() { 0.0 } else { self.ok as f64 / self.elapsed.as_secs_f64() }
    }

    /// Server CPU milliseconds per answered image: the cost of one image, independent of how
    /// much CPU other processes on the machine left to the server.
    pub fn cpu_ms_per_image(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.ok > 0).then(|| cpu.as_secs_f64() * 1e3 / self.ok as f64)
    }

    /// Mean node stage timings, e.g. `decode 4.1, preprocess 2.0, ...`, or `-` for a server
    /// that does not report them.
    pub fn stages(&self) -> String {
        if self.stage_count == 0 {
            return "-".into();
        }
        let n = self.stage_count as f64;
        STAGES
            .iter()
            .zip(self.stage_sums)
            .map(|(s, v)| format!("{s} {:.1}", v / n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `q` quantile (nearest rank) of the latencies, NaN when there are none.
    pub fn percentile(&self, q: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let rank = (q * self.latencies_ms.len() as f64).ceil() as usize;
        self.latencies_ms[rank.clamp(1, self.latencies_ms.len()) - 1]
    }

    /// Adds another period's results (used to pool the interleaved rounds).
    pub fn merge(&mut self, other: &Report) {
        self.server_cpu = match (self.server_cpu, other.server_cpu) {
            _ if self.periods == 0 => other.server_cpu,
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.periods += other.periods;
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies_ms.extend_from_slice(&other.latencies_ms);
        self.latencies_ms.sort_by(f64::total_cmp);
        self.stage_count += other.stage_count;
        self.stage_sums.iter_mut().zip(other.stage_sums).for_each(|(a, b)| *a += b);
    }
}

/// User + system CPU time of process `pid` so far, from `/proc/<pid>/stat` (fields 14 and 15,
/// in clock ticks; proc(5)).
pub fn process_cpu(pid: u32, ticks_per_second: u64) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11); // fields 3..=13
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / ticks_per_second.max(1) as f64))
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 if that cannot be run.
pub fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Drives `addr` with `concurrency` clients for `length`; `server` = (PID, ticks/s) adds the
/// server's CPU time to the report.
pub async fn drive(
    addr: SocketAddr,
    bodies: &[Arc<Vec<u8>>],
    concurrency: usize,
    length: Duration,
    server: Option<(u32, u64)>,
) -> anyhow::Result<Report> {
    let cpu_at = || server.and_then(|(pid, ticks)| process_cpu(pid, ticks));
    let cpu_before = cpu_at();
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::new();
    let clients = concurrency.max(1) as u64;
    // Distinct counters across clients and runs: client i sends epoch + i, epoch + i + clients, ...
    let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    for client in 0..clients {
        let bodies = bodies.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut stage_sums = [0.0f64; 4];
            let mut stage_count = 0usize;
            let mut counter = client;
            let mut conn = None;
            while Instant::now() < deadline {
                if conn.is_none() {
                    conn = Connection::connect(addr).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let source = &bodies[(counter / clients) as usize % bodies.len()];
                let body = unique_png(source, epoch.wrapping_add(counter));
                counter += clients;
                let sent = Instant::now();
                match c.request("POST", "/predict", &[("content-type", "image/png")], &body).await {
                    Ok(r) if r.status == 200 => {
                        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                        if let Ok(json) = r.json()
                            && json["timings_ms"]["inference"].is_number()
                        {
                            stage_count += 1;
                            for (sum, stage) in stage_sums.iter_mut().zip(STAGES) {
                                *sum += json["timings_ms"][stage].as_f64().unwrap_or(0.0);
                            }
                        }
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = None;
                    }
                }
            }
            (latencies, errors, stage_sums, stage_count)
        }));
    }
    let mut report = Report { periods: 1, ..Report::default() };
    for task in tasks {
        let (latencies, errors, sums, count) = task.await?;
        report.ok += latencies.len();
        report.errors += errors;
        report.latencies_ms.extend(latencies);
        report.stage_count += count;
        report.stage_sums.iter_mut().zip(sums).for_each(|(a, b)| *a += b);
    }
    report.elapsed = started.elapsed();
    report.latencies_ms.sort_by(f64::total_cmp);
    report.server_cpu = match (cpu_before, cpu_at()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_png_iend_chunk() {
        // Every PNG ends with IEND, whose CRC over "IEND" is AE 42 60 82.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn unique_pngs_differ_and_still_decode_to_the_same_pixels() {
        let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/samples/coffee.png"))
            .expect("sample");
        let (a, b) = (unique_png(&png, 1), unique_png(&png, 2));
        assert_ne!(a, b);
        let decode = |bytes: &[u8]| image::load_from_memory(bytes).expect("decodes").into_rgb8();
        assert_eq!(decode(&a), decode(&png));
        assert_eq!(decode(&b), decode(&png));
    }

    #[test]
    fn merged_reports_pool_counts_latencies_and_cpu() {
        let a = Report {
            ok: 10,
            elapsed: Duration::from_secs(2),
            latencies_ms: vec![1.0, 3.0],
            server_cpu: Some(Duration::from_millis(400)),
            periods: 1,
            ..Report::default()
        };
        let b = Report {
            ok: 30,
            errors: 1,
            elapsed: Duration::from_secs(2),
            latencies_ms: vec![2.0, 9.0],
            server_cpu: Some(Duration::from_millis(600)),
            periods: 1,
            ..Report::default()
        };
        let mut total = Report::default();
        total.merge(&a);
        total.merge(&b);
        assert_eq!((total.ok, total.errors), (40, 1));
        assert_eq!(total.images_per_second(), 10.0);
        assert_eq!(total.latencies_ms, vec![1.0, 2.0, 3.0, 9.0]);
        assert_eq!(total.percentile(0.5), 2.0);
        assert_eq!(total.percentile(0.99), 9.0);
        assert_eq!(total.cpu_ms_per_image(), Some(25.0));
        // One period without CPU figures makes the pooled CPU unknown, not wrong.
        total.merge(&Report { ok: 5, periods: 1, ..Report::default() });
        assert_eq!(total.cpu_ms_per_image(), None);
    }

    #[test]
    fn own_process_cpu_time_is_readable_and_grows() {
        let ticks = clock_ticks_per_second();
        let pid = std::process::id();
        let before = process_cpu(pid, ticks).expect("own /proc stat");
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = process_cpu(pid, ticks).expect("own /proc stat");
        assert!(after > before, "{before:?} -> {after:?}");
        assert_eq!(process_cpu(u32::MAX, ticks), None);
    }
}

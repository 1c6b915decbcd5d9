//! The workload generator behind `rudder load`: classification (or plain GET) requests against one
//! or more URLs, either open loop (Poisson arrivals at a fixed rate, from a seeded generator, that
//! never wait for replies) or closed loop (N clients, each sending its next request when the last
//! one finished); always bounded by a duration and/or a request count. It knows nothing about
//! namespaces: `ip netns exec <ns> rudder load ...` runs it inside one.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::client::{Image, WorkloadClient, load_images};
use super::duration::parse_duration;
use super::record::{RequestRecord, write_csv};
use super::summary::LoadSummary;

/// `rudder load`: send a bounded workload of HTTP requests and report latency, errors and which
/// node served each request.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Target URL (repeatable: requests rotate over them), e.g. http://10.0.0.100:8000/predict.
    #[arg(long = "url", required = true, value_name = "URL")]
    pub urls: Vec<String>,
    /// Images to POST: files and/or directories (every .png/.jpg/.jpeg/.gif/.bmp/.webp in them).
    /// Each request takes one, picked by the seeded generator. Required with --method post.
    #[arg(long, num_args = 1.., value_name = "DIR|FILE")]
    pub images: Vec<PathBuf>,
    /// `post`: the raw image as the body (a classification); `get`: no body (e.g. /health).
    #[arg(long, value_enum, default_value = "post")]
    pub method: HttpMethod,
    /// Open loop: Poisson arrivals at this many requests per second, whatever the replies do.
    #[arg(long, value_name = "PER_SECOND", conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Closed loop: this many clients, each sending its next request when its last one finished
    /// (the default, with 1 client, when --rate is not given).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Open loop only: most requests outstanding at once; an arrival beyond it is not sent and is
    /// recorded as the error `overload` (so a slow server cannot turn the open loop closed).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_in_flight: usize,
    /// A new TCP connection for every request, so every request is a new flow (the default).
    #[arg(long, conflicts_with = "keep_alive")]
    pub new_connection: bool,
    /// Reuse TCP connections between requests (HTTP keep-alive): few flows, many requests each.
    #[arg(long)]
    pub keep_alive: bool,
    /// Stop sending after this long, e.g. 10s, 500ms, 2m (default 10s when --requests is not given).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Stop after sending this many requests (a hard cap, also with --duration).
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// Per-request timeout (connect + reply).
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub timeout: Duration,
    /// Seed of the arrival times and image choices: the same seed gives the same schedule.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write one line per request here: start_s, latency_ms, status, error, node, label, url.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// A node expected to serve (repeatable): listed with 0 requests if it served none, so that
    /// the fairness index sees it.
    #[arg(long = "expect-node", value_name = "NAME")]
    pub expect_nodes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpMethod {
    Post,
    Get,
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pacing {
    /// Poisson arrivals at `rate` per second.
    Open { rate: f64, max_in_flight: usize },
    /// `concurrency` clients back to back.
    Closed { concurrency: usize },
}

/// A validated workload.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    pub urls: Vec<String>,
    /// Empty for GET.
    pub images: Vec<Image>,
    pub pacing: Pacing,
    pub keep_alive: bool,
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    pub timeout: Duration,
    pub seed: u64,
}

impl WorkloadSpec {
    /// Checks the flags and reads the images; errors name the flag.
    pub fn from_args(args: &LoadArgs) -> anyhow::Result<WorkloadSpec> {
        for url in &args.urls {
            let parsed = reqwest::Url::parse(url).with_context(|| format!("--url {url:?} is not a URL"))?;
            if parsed.scheme() != "http" {
                bail!("--url {url:?}: only http:// is supported");
            }
        }
        let images = match args.method {
            HttpMethod::Post if args.images.is_empty() => {
                bail!("--images is required with --method post (or use --method get)")
            }
            HttpMethod::Post => load_images(&args.images)?,
            HttpMethod::Get => Vec::new(),
        };
        let pacing = match (args.rate, args.concurrency) {
            (Some(rate), _) if !(rate.is_finite() && rate > 0.0) => bail!("--rate must be a positive number"),
            (Some(_), _) if args.max_in_flight == 0 => bail!("--max-in-flight must be at least 1"),
            (Some(rate), _) => Pacing::Open { rate, max_in_flight: args.max_in_flight },
            (None, Some(0)) => bail!("--concurrency must be at least 1"),
            (None, c) => Pacing::Closed { concurrency: c.unwrap_or(1) },
        };
        if args.requests == Some(0) {
            bail!("--requests must be at least 1");
        }
        if args.duration.is_some_and(|d| d.is_zero()) {
            bail!("--duration must be longer than 0");
        }
        if args.timeout.is_zero() {
            bail!("--timeout must be longer than 0");
        }
        Ok(WorkloadSpec {
            urls: args.urls.clone(),
            images,
            pacing,
            keep_alive: args.keep_alive,
            duration: match (args.duration, args.requests) {
                (None, None) => Some(Duration::from_secs(10)),
                (d, _) => d,
            },
            requests: args.requests,
            timeout: args.timeout,
            seed: args.seed,
        })
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct WorkloadRun {
    /// Sorted by start time.
    pub records: Vec<RequestRecord>,
    /// From the start to the last completion.
    pub elapsed_s: f64,
    /// The start, milliseconds since the Unix epoch (to line up runs from several clients).
    pub started_at_unix_ms: u64,
}

/// What `rudder load --json` prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReport {
    pub started_at_unix_ms: u64,
    pub pacing: Pacing,
    pub keep_alive: bool,
    pub seed: u64,
    pub summary: LoadSummary,
}

/// SplitMix64 (Steele, Lea & Flood 2014): its output for a seed is fixed by its definition, so a
/// seed gives the same schedule on every Rust and crate version.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    pub fn unit_open_zero(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// An exponentially distributed gap with mean `1/rate` (inverse CDF: −ln U / rate), the time
    /// between two arrivals of a Poisson process.
    pub fn exponential(&mut self, rate: f64) -> f64 {
        -self.unit_open_zero().ln() / rate
    }
}

/// The image request `ticket` posts: a function of the seed and the ticket only, so the closed
/// loop's workers (which take tickets in a racy order) still send a reproducible mix.
fn image_for(spec: &WorkloadSpec, ticket: u64) -> Option<&Image> {
    if spec.images.is_empty() {
        return None;
    }
    let pick = SplitMix64::new(spec.seed ^ ticket.wrapping_mul(0x2545_f491_4f6c_dd1d)).next_u64();
    spec.images.get((pick % spec.images.len() as u64) as usize)
}

fn url_for(spec: &WorkloadSpec, ticket: u64) -> &str {
    &spec.urls[(ticket % spec.urls.len() as u64) as usize]
}

/// Runs the workload until its bounds (or `stop`), then waits for the requests in flight (each
/// bounded by the timeout).
pub async fn run_workload(spec: Arc<WorkloadSpec>, stop: CancellationToken) -> anyhow::Result<WorkloadRun> {
    let client = WorkloadClient::new(spec.keep_alive, spec.timeout)?;
    let started_at_unix_ms =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
    let t0 = Instant::now();
    let deadline = spec.duration.map(|d| t0 + d);
    let cap = spec.requests.unwrap_or(u64::MAX);
    let mut records = match spec.pacing {
        Pacing::Open { rate, max_in_flight } => {
            open_loop(&spec, &client, t0, deadline, cap, rate, max_in_flight, &stop).await?
        }
        Pacing::Closed { concurrency } => {
            closed_loop(&spec, &client, t0, deadline, cap, concurrency, &stop).await?
        }
    };
    let elapsed_s = t0.elapsed().as_secs_f64();
    records.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    Ok(WorkloadRun { records, elapsed_s, started_at_unix_ms })
}

#[allow(clippy::too_many_arguments)]
async fn open_loop(
    spec: &Arc<WorkloadSpec>,
    client: &WorkloadClient,
    t0: Instant,
    deadline: Option<Instant>,
    cap: u64,
    rate: f64,
    max_in_flight: usize,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<RequestRecord>> {
    let mut rng = SplitMix64::new(spec.seed);
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let mut in_flight = JoinSet::new();
    let mut records = Vec::new();
    let mut next = t0;
    let mut ticket = 0u64;
    while ticket < cap {
        next += Duration::from_secs_f64(rng.exponential(rate));
        if deadline.is_some_and(|d| next >= d) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop.cancelled() => break,
        }
        let url = url_for(spec, ticket).to_string();
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let (spec, client) = (spec.clone(), client.clone());
                in_flight.spawn(async move {
                    let record = client.send(&url, image_for(&spec, ticket), t0).await;
                    drop(permit);
                    record
                });
            }
            Err(_) => records.push(RequestRecord {
                start_s: next.duration_since(t0).as_secs_f64(),
                latency_ms: 0.0,
                status: None,
                error: Some("overload".to_string()),
                node: None,
                label: None,
                url,
            }),
        }
        ticket += 1;
        while let Some(done) = in_flight.try_join_next() {
            records.push(done.context("a request task failed")?);
        }
    }
    while let Some(done) = in_flight.join_next().await {
        records.push(done.context("a request task failed")?);
    }
    Ok(records)
}

async fn closed_loop(
    spec: &Arc<WorkloadSpec>,
    client: &WorkloadClient,
    t0: Instant,
    deadline: Option<Instant>,
    cap: u64,
    concurrency: usize,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<RequestRecord>> {
    let tickets = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (spec, client, tickets, stop) = (spec.clone(), client.clone(), tickets.clone(), stop.clone());
        workers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                if stop.is_cancelled() || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let ticket = tickets.fetch_add(1, Ordering::Relaxed);
                if ticket >= cap {
                    break;
                }
                mine.push(client.send(url_for(&spec, ticket), image_for(&spec, ticket), t0).await);
            }
            mine
        });
    }
    let mut records = Vec::new();
    while let Some(done) = workers.join_next().await {
        records.extend(done.context("a client task failed")?);
    }
    Ok(records)
}

/// `rudder load`: runs the workload, writes the CSV, prints the summary. Ctrl-C stops sending
/// early and still reports what was measured.
pub async fn run_load(args: LoadArgs) -> anyhow::Result<()> {
    let spec = Arc::new(WorkloadSpec::from_args(&args)?);
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let signal_task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let run = run_workload(spec.clone(), stop).await;
    signal_task.abort();
    let run = run?;
    if let Some(path) = &args.csv {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating --csv {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        write_csv(&mut out, &run.records)
            .and_then(|()| std::io::Write::flush(&mut out))
            .with_context(|| format!("writing --csv {}", path.display()))?;
    }
    let summary = LoadSummary::from_records(&run.records, run.elapsed_s, &args.expect_nodes);
    if args.json {
        let report = LoadReport {
            started_at_unix_ms: run.started_at_unix_ms,
            pacing: spec.pacing,
            keep_alive: spec.keep_alive,
            seed: spec.seed,
            summary,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{summary}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> LoadArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            load: LoadArgs,
        }
        let mut argv = vec!["load"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).map(|c| c.load).unwrap()
    }

    #[test]
    fn exponential_gaps_have_the_right_mean_and_are_reproducible() {
        let mut rng = SplitMix64::new(7);
        let gaps: Vec<f64> = (0..20_000).map(|_| rng.exponential(40.0)).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.025).abs() < 0.025 * 0.03, "mean gap {mean}");
        assert!(gaps.iter().all(|g| g.is_finite() && *g >= 0.0));
        let mut again = SplitMix64::new(7);
        assert_eq!(again.exponential(40.0), gaps[0]);
        // SplitMix64's published first output for seed 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn flags_are_validated_with_the_flag_named() {
        let e = WorkloadSpec::from_args(&args(&["--url", "http://127.0.0.1:1/predict"])).unwrap_err();
        assert!(e.to_string().contains("--images"), "{e}");
        let e = WorkloadSpec::from_args(&args(&["--url", "ftp://x/", "--method", "get"])).unwrap_err();
        assert!(e.to_string().contains("only http"), "{e}");
        let e = WorkloadSpec::from_args(&args(&["--url", "http://a/", "--method", "get", "--rate", "0"]))
            .unwrap_err();
        assert!(e.to_string().contains("--rate"), "{e}");
        let spec = WorkloadSpec::from_args(&args(&["--url", "http://a/", "--method", "get"])).unwrap();
        assert_eq!(spec.duration, Some(Duration::from_secs(10)), "always bounded");
        assert_eq!(spec.pacing, Pacing::Closed { concurrency: 1 });
        let spec =
            WorkloadSpec::from_args(&args(&["--url", "http://a/", "--method", "get", "--requests", "5"]))
                .unwrap();
        assert_eq!((spec.duration, spec.requests), (None, Some(5)));
    }

    #[test]
    fn image_choice_depends_only_on_seed_and_ticket() {
        let image =
            |name: &str| Image { name: name.into(), content_type: "image/png", bytes: Default::default() };
        let spec = WorkloadSpec {
            urls: vec!["http://a/".into(), "http://b/".into()],
            images: vec![image("a"), image("b"), image("c")],
            pacing: Pacing::Closed { concurrency: 1 },
            keep_alive: false,
            duration: None,
            requests: Some(1),
            timeout: Duration::from_secs(1),
            seed: 3,
        };
        let picks: Vec<&str> = (0..300).map(|t| image_for(&spec, t).unwrap().name.as_str()).collect();
        let again: Vec<&str> = (0..300).map(|t| image_for(&spec, t).unwrap().name.as_str()).collect();
        assert_eq!(picks, again);
        for name in ["a", "b", "c"] {
            let n = picks.iter().filter(|p| **p == name).count();
            assert!((70..=130).contains(&n), "{name} picked {n} times of 300");
        }
        assert_eq!(
            (url_for(&spec, 0), url_for(&spec, 1), url_for(&spec, 2)),
            ("http://a/", "http://b/", "http://a/")
        );
    }
}

//! `rudder bench`: an OpenFlow 1.3 controller benchmark in the manner of cbench (oflops), which only
//! speaks OpenFlow 1.0, and the emulated switch it (and the controller's own tests) drive controllers
//! with.
//!
//! The run: connect N emulated switches (full OF1.3 handshake), let every host of every switch
//! announce itself once with a broadcast ARP (so a learning switch knows all MACs, like cbench's
//! learning loop), then `warmup + loops` timed loops of unicast PACKET_INs. Throughput mode keeps a
//! window of PACKET_INs in flight per switch and counts FLOW_MODs and PACKET_OUTs; latency mode keeps
//! one in flight per switch and times each until its PACKET_OUT comes back.
//!
//! Module map: [`frames`] (hosts, frames, PACKET_IN templates), [`driver`] (one switch's task and hot
//! loop), [`window`] (in-flight accounting), [`report`] (statistics, cbench-format lines, JSON
//! summary), [`emulated`] (the switch the handshake and the tests use).

pub mod driver;
pub mod emulated;
pub mod frames;
pub mod report;
pub mod window;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use driver::{DriverConfig, DriverError, Phase, SharedCounts, SwitchOutcome, SwitchStatus, run_switch};
use frames::{HostLayout, PacketInTemplates};
use report::{Counts, CpuUse, LatencyStats, RateStats, Summary, loop_line, process_cpu_seconds, result_line};

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    /// Keep `--window` PACKET_INs in flight per switch; count responses per second.
    Throughput,
    /// Keep one PACKET_IN in flight per switch; time each round trip.
    Latency,
}

impl BenchMode {
    fn name(self) -> &'static str {
        match self {
            BenchMode::Throughput => "throughput",
            BenchMode::Latency => "latency",
        }
    }
}

/// `rudder bench`: benchmark an OpenFlow 1.3 controller the way cbench benchmarks OpenFlow 1.0 ones.
///
/// Emulated switches send PACKET_INs whose source MAC cycles through `--macs` hosts per switch and
/// whose destination is another host of the same switch; every host first announces itself with a
/// broadcast ARP so a learning switch installs flows. Responses are FLOW_MODs (add/modify) plus
/// PACKET_OUTs.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Controller to benchmark (host:port of its OpenFlow listener).
    #[arg(long, short = 'c', default_value = "127.0.0.1:6653", value_name = "ADDR")]
    pub controller: SocketAddr,
    /// Number of emulated switches (dpids 1..=N).
    #[arg(long, short = 's', default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub switches: u32,
    /// Host MAC addresses per switch (2..=65536).
    #[arg(long, short = 'M', default_value_t = 1000, value_parser = clap::value_parser!(u32).range(2..=65536))]
    pub macs: u32,
    /// Measured loops.
    #[arg(long, short = 'l', default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub loops: u32,
    /// Length of each loop in milliseconds.
    #[arg(long, short = 'm', default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    pub ms_per_test: u64,
    /// Loops run first and left out of the results.
    #[arg(long, short = 'w', default_value_t = 1)]
    pub warmup: u32,
    /// throughput: a window of PACKET_INs in flight per switch; latency: one at a time, timed.
    #[arg(long, value_enum, default_value = "throughput")]
    pub mode: BenchMode,
    /// Unanswered PACKET_INs allowed per switch in throughput mode.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub window: u32,
    /// Milliseconds to wait between connecting one switch and the next.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub connect_delay: u64,
    /// Milliseconds without any answer after which a switch writes its in-flight PACKET_INs off as
    /// lost and sends new ones.
    #[arg(long, default_value_t = 200, value_name = "MS", value_parser = clap::value_parser!(u64).range(4..))]
    pub stall_timeout: u64,
    /// Pid of the controller, to report its CPU use next to the benchmark's (read from /proc).
    #[arg(long, value_name = "PID")]
    pub controller_pid: Option<u32>,
    /// Print the summary as JSON on stdout (the per-loop lines go to stderr).
    #[arg(long)]
    pub json: bool,
}

/// Seconds allowed for all switches to connect and for the learning phase.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the benchmark and prints its report.
pub async fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    let summary = bench(&args, |line| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(())
}

/// Runs the benchmark, passing each report line to `print`, and returns the summary.
pub async fn bench(args: &BenchArgs, mut print: impl FnMut(&str)) -> anyhow::Result<Summary> {
    let layout = HostLayout::new(args.macs).context("--macs must be between 2 and 65536")?;
    let window = match args.mode {
        BenchMode::Throughput => args.window as usize,
        BenchMode::Latency => 1,
    };
    let cfg = DriverConfig {
        controller: args.controller,
        templates: Arc::new(PacketInTemplates::new(layout)),
        window,
        // Small enough that 16 switches learning at once stay within a controller's queues.
        learn_window: window.min(32),
        record_latency: args.mode == BenchMode::Latency,
        stall_timeout: Duration::from_millis(args.stall_timeout),
        handshake_timeout: Duration::from_secs(10),
    };
    print(&format!(
        "rudder bench: OpenFlow 1.3, {} mode, controller {}, {} switches, {} loops of {} ms ({} warmup), {} MACs per switch, window {}",
        args.mode.name(),
        args.controller,
        args.switches,
        args.loops,
        args.ms_per_test,
        args.warmup,
        args.macs,
        window
    ));

    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let (status_tx, mut status_rx) = mpsc::unbounded_channel();
    let mut tasks: JoinSet<Result<SwitchOutcome, DriverError>> = JoinSet::new();
    let mut counters = Vec::new();
    for switch in 0..args.switches {
        let shared = Arc::new(SharedCounts::default());
        counters.push(shared.clone());
        tasks.spawn(run_switch(switch, cfg.clone(), shared, phase_rx.clone(), status_tx.clone()));
        if args.connect_delay > 0 {
            tokio::time::sleep(Duration::from_millis(args.connect_delay)).await;
        }
    }
    drop(status_tx);

    let n = args.switches as usize;
    let result = drive(args, n, &phase_tx, &mut status_rx, &mut tasks, &counters, &mut print).await;
    let _ = phase_tx.send(Phase::Stop);
    let mut outcomes: Vec<SwitchOutcome> = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(outcome)) => outcomes.push(outcome),
            Ok(Err(e)) if result.is_ok() => return Err(e.into()),
            _ => {}
        }
    }
    let (mut summary, timed_windows) = result?;
    // Only the round trips timed inside the measured loops, so the figures describe the packets
    // the counts describe.
    let mut latencies = Vec::new();
    for outcome in outcomes {
        let (start, end) = timed_windows[outcome.switch as usize];
        let samples = &outcome.latencies_ns;
        let end = (end as usize).min(samples.len());
        latencies.extend_from_slice(&samples[(start as usize).min(end)..end]);
    }
    summary.latency = LatencyStats::of(&mut latencies);
    if let Some(l) = &summary.latency {
        print(&format!(
            "LATENCY: {} samples min/p50/p90/p99/max = {:.1}/{:.1}/{:.1}/{:.1}/{:.1} us (mean {:.1} us)",
            l.samples, l.min_us, l.p50_us, l.p90_us, l.p99_us, l.max_us, l.mean_us
        ));
    }
    Ok(summary)
}

/// Waits for a task failure, turned into an error.
async fn first_failure(tasks: &mut JoinSet<Result<SwitchOutcome, DriverError>>) -> anyhow::Error {
    match tasks.join_next().await {
        Some(Ok(Err(e))) => e.into(),
        Some(Ok(Ok(_))) => anyhow::anyhow!("a switch stopped early"),
        Some(Err(e)) => anyhow::anyhow!("a switch task failed: {e}"),
        None => anyhow::anyhow!("no switches"),
    }
}

/// Connect, learn, then the timed loops.
async fn drive(
    args: &BenchArgs,
    n: usize,
    phase: &watch::Sender<Phase>,
    status: &mut mpsc::UnboundedReceiver<SwitchStatus>,
    tasks: &mut JoinSet<Result<SwitchOutcome, DriverError>>,
    counters: &[Arc<SharedCounts>],
    print: &mut impl FnMut(&str),
) -> anyhow::Result<(Summary, Vec<(u64, u64)>)> {
    let setup_deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    let mut connected = 0;
    let mut learned = 0;
    let mut learn_lost = 0;
    let mut phase_now = Phase::Connect;
    while learned < n {
        tokio::select! {
            s = status.recv() => match s {
                Some(SwitchStatus::Connected { .. }) => connected += 1,
                Some(SwitchStatus::Learned { lost, .. }) => {
                    learned += 1;
                    learn_lost += lost;
                }
                None => return Err(first_failure(tasks).await),
            },
            e = first_failure(tasks) => return Err(e),
            _ = tokio::time::sleep_until(setup_deadline) => {
                bail!("setup timed out: {connected}/{n} switches connected, {learned}/{n} learned their hosts");
            }
        }
        if connected == n && phase_now == Phase::Connect {
            phase_now = Phase::Learn;
            let _ = phase.send(Phase::Learn);
        }
    }
    if learn_lost > 0 {
        print(&format!(
            "warning: {learn_lost} learning PACKET_INs got no PACKET_OUT; some MACs may be unknown"
        ));
    }

    let ms = args.ms_per_test;
    let total_loops = (args.warmup + args.loops) as usize;
    let mut rates = Vec::new();
    let mut measured = Counts::default();
    let mut cpu_start = None;
    let mut measure_start = Instant::now();
    let _ = phase.send(if args.warmup > 0 { Phase::Warmup } else { Phase::Measure });
    // Per switch, the range of timed round trips that fall inside the measured loops.
    let mut timed_windows: Vec<(u64, u64)> = vec![(0, 0); n];
    if args.warmup == 0 {
        timed_windows.iter_mut().zip(counters).for_each(|(w, c)| w.0 = c.timed());
    }
    let mut before: Vec<Counts> = counters.iter().map(|c| c.snapshot()).collect();
    let mut loop_start = Instant::now();
    for i in 0..total_loops {
        let warmup = i < args.warmup as usize;
        if !warmup && cpu_start.is_none() {
            cpu_start = Some((
                process_cpu_seconds(None),
                args.controller_pid.and_then(|p| process_cpu_seconds(Some(p))),
            ));
            measure_start = Instant::now();
        }
        let deadline = loop_start + Duration::from_millis(ms);
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {}
            e = first_failure(tasks) => return Err(e),
        }
        // Timed round trips first: a switch publishes them after its counts, so this order never
        // keeps a sample whose PACKET_OUT the counts miss.
        let timed_now: Vec<u64> = counters.iter().map(|c| c.timed()).collect();
        let after: Vec<Counts> = counters.iter().map(|c| c.snapshot()).collect();
        for (w, timed) in timed_windows.iter_mut().zip(timed_now) {
            if i + 1 == args.warmup as usize {
                w.0 = timed;
            }
            w.1 = timed;
        }
        let elapsed = loop_start.elapsed();
        loop_start = Instant::now();
        if i + 1 == args.warmup as usize {
            let _ = phase.send(Phase::Measure);
        }
        let per_switch: Vec<Counts> = after.iter().zip(&before).map(|(a, b)| a.minus(b)).collect();
        before = after;
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        print(&loop_line(&per_switch, elapsed_ms, warmup));
        if !warmup {
            let total: u64 = per_switch.iter().map(Counts::responses).sum();
            rates.push(total as f64 / elapsed.as_secs_f64());
            per_switch.iter().for_each(|c| measured.add(c));
        }
    }
    let wall = measure_start.elapsed().as_secs_f64();
    let cpu = cpu_start.and_then(|(bench0, ctl0)| {
        let bench1 = process_cpu_seconds(None)?;
        let controller_percent = match (ctl0, args.controller_pid.and_then(|p| process_cpu_seconds(Some(p))))
        {
            (Some(a), Some(b)) => Some((b - a) / wall * 100.0),
            _ => None,
        };
        Some(CpuUse { bench_percent: (bench1 - bench0?) / wall * 100.0, controller_percent })
    });
    let stats = RateStats::of(&rates);
    if let Some(s) = &stats {
        print(&result_line(n, s, rates.len()));
    }
    if let Some(c) = &cpu {
        match c.controller_percent {
            Some(ctl) => {
                print(&format!("CPU: bench {:.0}% of a core, controller {ctl:.0}%", c.bench_percent))
            }
            None => print(&format!("CPU: bench {:.0}% of a core", c.bench_percent)),
        }
    }
    if measured.lost > 0 || measured.errors > 0 {
        print(&format!(
            "note: {} PACKET_INs got no PACKET_OUT, {} OFPT_ERRORs received",
            measured.lost, measured.errors
        ));
    }
    Ok((
        Summary {
            controller: args.controller.to_string(),
            mode: args.mode.name(),
            switches: n,
            macs: args.macs,
            loops: args.loops as usize,
            warmup: args.warmup as usize,
            ms_per_test: ms,
            window: if args.mode == BenchMode::Latency { 1 } else { args.window as usize },
            loop_responses_per_sec: rates,
            responses_per_sec: stats,
            flow_mods: measured.flow_mods,
            packet_outs: measured.packet_outs,
            packet_ins: measured.packet_ins,
            lost: measured.lost,
            errors: measured.errors,
            learn_lost,
            latency: None,
            cpu,
        },
        timed_windows,
    ))
}

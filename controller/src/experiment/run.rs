//! One run of an experiment (one algorithm, one repetition): reset the pool, start `rudder load` in
//! every client namespace, sample the flow tables and `/lb/stats` while it runs, carry out the
//! scenario steps at their times, then collect the clients' CSVs and measure what happened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::api::prometheus_sum;
use super::lab::Lab;
use super::record::{RequestRecord, read_csv};
use super::report::{ControllerCounters, FlowSample, RunResult, StepOutcome};
use super::scenario::{ScenarioStep, StepAction};
use super::summary::LoadSummary;
use super::workload::LoadReport;
use crate::lab::plan::host_namespace;

/// What every run of an experiment shares.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub lab: Arc<Lab>,
    /// The pool's configuration as JSON (a `PoolConfig`); `algorithm` is replaced per run.
    pub pool_config: serde_json::Value,
    /// The pool's backends: host name and IP.
    pub backends: Vec<(String, std::net::Ipv4Addr)>,
    pub clients: Vec<String>,
    /// `http://VIP:PORT/predict`.
    pub url: String,
    pub images: Vec<PathBuf>,
    pub duration: Duration,
    /// Total open-loop rate over all clients, or `None` for closed loop.
    pub rate: Option<f64>,
    pub concurrency: usize,
    pub keep_alive: bool,
    pub timeout: Duration,
    pub steps: Vec<ScenarioStep>,
    /// The `rudder` binary that runs `rudder load` in the namespaces.
    pub exe: PathBuf,
}

/// A sample of `/lb/stats` for the pool under test.
#[derive(Debug, Clone)]
struct LbSample {
    t_s: f64,
    /// Host → (health, total_flows).
    backends: BTreeMap<String, (String, u64)>,
}

/// Requests of one client, with its name.
pub struct ClientRecords {
    pub client: String,
    pub records: Vec<RequestRecord>,
}

/// How long to wait for every backend of the pool to be healthy before a run.
const HEALTH_WAIT: Duration = Duration::from_secs(60);
/// If a kill is never detected, dead-backend flows are counted from this long after the kill.
pub const DETECTION_GRACE: Duration = Duration::from_secs(5);

impl RunPlan {
    /// Waits until `/lb/stats` reports every backend of the pool healthy.
    async fn wait_healthy(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + HEALTH_WAIT;
        loop {
            let stats = self.lab.api.pool_stats(&self.lab.pool).await;
            let unhealthy: Vec<String> = match &stats {
                Ok(p) => p
                    .backends
                    .iter()
                    .filter(|b| b.health != "healthy")
                    .map(|b| format!("{} ({})", b.ip, b.health))
                    .collect(),
                Err(e) => vec![e.to_string()],
            };
            if unhealthy.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("backends not healthy after {}s: {}", HEALTH_WAIT.as_secs(), unhealthy.join(", "));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Restores the system (dead nodes restarted, delays restored), then recreates the pool with
    /// `algorithm`: its flows leave the switches and its counters restart, so no run inherits
    /// another's state.
    pub async fn reset(&self, algorithm: &str) -> anyhow::Result<()> {
        let lab = self.lab.clone();
        let steps = self.steps.clone();
        tokio::task::spawn_blocking(move || lab.restore(&steps)).await??;
        let mut config = self.pool_config.clone();
        config["algorithm"] = serde_json::Value::String(algorithm.to_string());
        self.lab.api.recreate_pool(&self.lab.pool, &config).await?;
        self.wait_healthy().await
    }

    /// Runs the workload and the scenario once; `dir` receives the clients' CSVs and logs.
    pub async fn run_once(
        &self,
        algorithm: &str,
        repetition: u32,
        seed: u64,
        dir: &Path,
        progress: &indicatif::ProgressBar,
    ) -> anyhow::Result<(RunResult, Vec<ClientRecords>)> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let before = self.lab.api.metrics().await?;
        let t0 = Instant::now();
        let t0_unix_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);

        let mut children = Vec::new();
        for (i, client) in self.clients.iter().enumerate() {
            let mut cmd = tokio::process::Command::new("ip");
            cmd.args(["netns", "exec", &host_namespace(&self.lab.topology.name, client)])
                .arg(&self.exe)
                .arg("load");
            cmd.args(["--url", &self.url, "--duration", &format!("{}ms", self.duration.as_millis())]);
            cmd.args(["--timeout", &format!("{}ms", self.timeout.as_millis())]);
            cmd.args(["--seed", &(seed.wrapping_mul(1000).wrapping_add(i as u64)).to_string()]);
            cmd.arg("--csv").arg(dir.join(format!("{client}.csv"))).arg("--json");
            if self.images.is_empty() {
                cmd.args(["--method", "get"]);
            } else {
                cmd.arg("--images").args(&self.images);
            }
            match self.rate {
                Some(rate) => cmd.args(["--rate", &(rate / self.clients.len() as f64).to_string()]),
                None => cmd.args(["--concurrency", &self.concurrency.to_string()]),
            };
            if self.keep_alive {
                cmd.arg("--keep-alive");
            }
            for (host, _) in &self.backends {
                cmd.args(["--expect-node", host]);
            }
            let log = std::fs::File::create(dir.join(format!("{client}.log")))?;
            cmd.stdout(std::process::Stdio::piped()).stderr(log).kill_on_drop(true);
            children.push((
                client.clone(),
                cmd.spawn().with_context(|| format!("starting rudder load in {client}"))?,
            ));
        }

        let stop = CancellationToken::new();
        // However this function returns (an error, or its future dropped on Ctrl-C), the sampler
        // and the scenario stop with it; the clients are killed on drop.
        let _stop_sampler = stop.clone().drop_guard();
        let samples = Arc::new(Mutex::new((Vec::<FlowSample>::new(), Vec::<LbSample>::new())));
        let sampler = tokio::spawn(sample(self.clone(), t0, stop.clone(), samples.clone(), progress.clone()));
        let mut scenario = AbortOnDrop(tokio::spawn(run_steps(self.lab.clone(), self.steps.clone(), t0)));

        let mut reports = Vec::new();
        let limit = self.duration + self.timeout + Duration::from_secs(30);
        for (client, child) in children {
            let remaining = limit.saturating_sub(t0.elapsed());
            let output = tokio::time::timeout(remaining, child.wait_with_output())
                .await
                .with_context(|| format!("rudder load in {client} did not finish in {}s", limit.as_secs()))?
                .with_context(|| format!("waiting for rudder load in {client}"))?;
            if !output.status.success() {
                bail!(
                    "rudder load in {client} failed ({}); see {}",
                    output.status,
                    dir.join(format!("{client}.log")).display()
                );
            }
            let report: LoadReport = serde_json::from_slice(&output.stdout)
                .with_context(|| format!("rudder load in {client} printed no JSON summary"))?;
            reports.push((client, report));
        }
        let executed = (&mut scenario.0).await.context("scenario task")?;
        stop.cancel();
        sampler.await.context("sampler task")?;
        let after = self.lab.api.metrics().await?;

        let mut all = Vec::new();
        let mut per_client = Vec::new();
        let mut elapsed_s: f64 = 0.0;
        for (client, report) in &reports {
            let path = dir.join(format!("{client}.csv"));
            let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let mut records =
                read_csv(std::io::BufReader::new(file)).with_context(|| format!("{}", path.display()))?;
            // Line every client up on this run's clock.
            let offset = (report.started_at_unix_ms as f64 - t0_unix_ms as f64) / 1000.0;
            for r in &mut records {
                r.start_s += offset;
            }
            elapsed_s = elapsed_s.max(offset + report.summary.elapsed_s);
            all.extend(records.iter().cloned());
            per_client.push(ClientRecords { client: client.clone(), records });
        }
        all.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        let expected: Vec<String> = self.backends.iter().map(|(h, _)| h.clone()).collect();
        let summary = LoadSummary::from_records(&all, elapsed_s, &expected);
        let (flow_table, lb_samples) = std::mem::take(&mut *samples.lock().await);
        let pool = [("pool", self.lab.pool.as_str())];
        let delta = |name: &str, labels: &[(&str, &str)]| {
            (prometheus_sum(&after, name, labels) - prometheus_sum(&before, name, labels)).max(0.0)
        };
        let controller = ControllerCounters {
            packet_ins: delta("of_packet_ins", &[]),
            flow_mods: delta("of_flowmsgs_sent", &[]),
            lb_packet_ins: delta("rudder_lb_packet_ins_total", &pool),
        };
        let steps = step_outcomes(&executed, &all, &lb_samples);
        let flows_to_dead = flows_to_dead(&steps, &executed, &lb_samples, &expected);
        let result = RunResult {
            algorithm: algorithm.to_string(),
            repetition,
            seed,
            summary,
            controller,
            flow_table,
            steps,
            flows_to_dead,
        };
        Ok((result, per_client))
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every 250 ms: `/lb/stats` of the pool; every second: the flow-table size of every switch.
async fn sample(
    plan: RunPlan,
    t0: Instant,
    stop: CancellationToken,
    out: Arc<Mutex<(Vec<FlowSample>, Vec<LbSample>)>>,
    progress: indicatif::ProgressBar,
) {
    let ips: BTreeMap<std::net::Ipv4Addr, String> =
        plan.backends.iter().map(|(h, ip)| (*ip, h.clone())).collect();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut n = 0u64;
    let mut last_second = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let t_s = t0.elapsed().as_secs_f64();
        if let Ok(p) = plan.lab.api.pool_stats(&plan.lab.pool).await {
            let backends = p
                .backends
                .iter()
                .filter_map(|b| Some((ips.get(&b.ip)?.clone(), (b.health.clone(), b.total_flows))))
                .collect();
            out.lock().await.1.push(LbSample { t_s, backends });
        }
        if n.is_multiple_of(4) {
            let mut flows = 0;
            if let Ok(dpids) = plan.lab.api.switches().await {
                for dpid in dpids {
                    flows += plan.lab.api.flow_count(dpid).await.unwrap_or(0);
                }
            }
            out.lock().await.0.push(FlowSample { t_s, flows });
        }
        n += 1;
        let second = (t_s as u64).min(plan.duration.as_secs());
        if second > last_second {
            progress.inc(second - last_second);
            last_second = second;
        }
    }
}

/// A step as carried out: when, and the error if it could not be.
#[derive(Debug, Clone)]
pub struct Executed {
    pub step: ScenarioStep,
    pub at_s: f64,
    pub error: Option<String>,
}

async fn run_steps(lab: Arc<Lab>, steps: Vec<ScenarioStep>, t0: Instant) -> Vec<Executed> {
    let mut done = Vec::new();
    for step in steps {
        tokio::time::sleep_until((t0 + step.at).into()).await;
        let at_s = t0.elapsed().as_secs_f64();
        let error = lab.execute(&step).await.err().map(|e| format!("{e:#}"));
        if let Some(e) = &error {
            tracing::warn!(step = %step, error = %e, "scenario step failed");
        }
        done.push(Executed { step, at_s, error });
    }
    done
}

/// Reaction times and failures after each step (see [`StepOutcome`]).
fn step_outcomes(executed: &[Executed], records: &[RequestRecord], lb: &[LbSample]) -> Vec<StepOutcome> {
    executed
        .iter()
        .map(|e| {
            let after = |t: f64| t >= e.at_s;
            let reaction_s = match (&e.step.action, &e.error) {
                (_, Some(_)) => None,
                (StepAction::Kill { host }, None) => lb
                    .iter()
                    .find(|s| {
                        after(s.t_s) && s.backends.get(host).is_some_and(|(health, _)| health != "healthy")
                    })
                    .map(|s| s.t_s - e.at_s),
                (StepAction::Restart { host }, None) => records
                    .iter()
                    .find(|r| after(r.start_s) && r.ok() && r.node.as_deref() == Some(host))
                    .map(|r| r.start_s - e.at_s),
                _ => None,
            };
            StepOutcome {
                step: e.step.to_string(),
                kind: e.step.kind().to_string(),
                executed_at_s: e.at_s,
                reaction_s,
                failed_after: records.iter().filter(|r| after(r.start_s) && !r.ok()).count() as u64,
                error: e.error.clone(),
            }
        })
        .collect()
}

/// Flows the load balancer gave each killed backend while it was dead: from its detection (or
/// [`DETECTION_GRACE`] after the kill) until its restart or the end of the run.
fn flows_to_dead(
    outcomes: &[StepOutcome],
    executed: &[Executed],
    lb: &[LbSample],
    backends: &[String],
) -> BTreeMap<String, u64> {
    let mut result: BTreeMap<String, u64> = BTreeMap::new();
    for (i, (e, o)) in executed.iter().zip(outcomes).enumerate() {
        let StepAction::Kill { host } = &e.step.action else { continue };
        if e.error.is_some() || !backends.contains(host) {
            continue;
        }
        let from = e.at_s + o.reaction_s.unwrap_or(DETECTION_GRACE.as_secs_f64());
        let until = executed[i + 1..]
            .iter()
            .find(|later| matches!(&later.step.action, StepAction::Restart { host: h } if h == host))
            .map_or(f64::INFINITY, |later| later.at_s);
        let flows: Vec<u64> = lb
            .iter()
            .filter(|s| s.t_s >= from && s.t_s <= until)
            .filter_map(|s| s.backends.get(host).map(|(_, f)| *f))
            .collect();
        let gained = match (flows.first(), flows.iter().max()) {
            (Some(first), Some(max)) => max.saturating_sub(*first),
            _ => 0,
        };
        *result.entry(host.clone()).or_default() += gained;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::scenario::parse_step_arg;

    fn lb(t_s: f64, health: &str, flows: u64) -> LbSample {
        LbSample { t_s, backends: [("n2".to_string(), (health.to_string(), flows))].into() }
    }

    fn req(start_s: f64, node: Option<&str>, error: Option<&str>) -> RequestRecord {
        RequestRecord {
            start_s,
            latency_ms: 5.0,
            status: None,
            error: error.map(str::to_string),
            node: node.map(str::to_string),
            label: None,
            url: "u".into(),
        }
    }

    #[test]
    fn kill_and_restart_reactions_and_dead_flows() {
        let executed = vec![
            Executed { step: parse_step_arg("2s:kill:n2").unwrap(), at_s: 2.0, error: None },
            Executed { step: parse_step_arg("6s:restart:n2").unwrap(), at_s: 6.0, error: None },
        ];
        let samples = vec![
            lb(1.75, "healthy", 10),
            lb(2.25, "healthy", 12),
            lb(2.75, "ejected", 13),
            lb(4.0, "ejected", 13),
            lb(5.9, "ejected", 14), // a flow given to a dead backend: must be counted
            lb(7.0, "healthy", 20),
        ];
        let records = vec![
            req(1.0, Some("n2"), None),
            req(2.1, None, Some("connect")),
            req(3.0, Some("n1"), None),
            req(6.5, Some("n2"), None),
        ];
        let outcomes = step_outcomes(&executed, &records, &samples);
        assert!((outcomes[0].reaction_s.unwrap() - 0.75).abs() < 1e-9);
        assert_eq!(outcomes[0].failed_after, 1);
        assert!((outcomes[1].reaction_s.unwrap() - 0.5).abs() < 1e-9);
        let dead = flows_to_dead(&outcomes, &executed, &samples, &["n1".into(), "n2".into()]);
        assert_eq!(dead["n2"], 1);
    }

    #[test]
    fn failed_steps_have_no_reaction() {
        let executed = vec![Executed {
            step: parse_step_arg("2s:kill:n2").unwrap(),
            at_s: 2.0,
            error: Some("node n2 is not running".into()),
        }];
        let outcomes = step_outcomes(&executed, &[], &[lb(3.0, "ejected", 1)]);
        assert_eq!(outcomes[0].reaction_s, None);
        assert!(flows_to_dead(&outcomes, &executed, &[], &["n2".into()]).is_empty());
    }
}

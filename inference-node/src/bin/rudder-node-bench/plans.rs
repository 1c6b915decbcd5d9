//! `plans`: model execution alone, in-process. For each plan strategy and batch size it reports
//! wall time per batch and per image and the CPU time per image, so tract's cost can be compared
//! with onnxruntime's (`inference-node/model/bench_ort.py`) without HTTP, decode or resize.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use rudder_node::depthwise::DepthwiseKernel;
use rudder_node::model::{BatchPlans, Classifier, ModelSpec};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::eval;

use crate::load::{clock_ticks_per_second, process_cpu};

#[derive(Debug, Args)]
pub struct PlansArgs {
    #[arg(long, default_value = "models/v1")]
    model_dir: PathBuf,
    /// Largest batch size measured (1, 2, 4 and this one).
    #[arg(long, default_value_t = 8)]
    max_batch: usize,
    /// Timed runs per batch size (after one warm-up run).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Also time every op of the batch-1 plan and print the cost per op type.
    #[arg(long)]
    profile: bool,
    /// Plan strategies to measure (repeatable).
    #[arg(long = "strategy", value_enum, default_values_t = [BatchPlans::Symbolic, BatchPlans::PerSize])]
    strategies: Vec<BatchPlans>,
    /// Depthwise convolution implementation (as `rudder-node serve --depthwise`).
    #[arg(long, value_enum, default_value_t = DepthwiseKernel::default())]
    depthwise: DepthwiseKernel,
}

pub fn run(args: &PlansArgs) -> anyhow::Result<()> {
    let spec = ModelSpec { depthwise: args.depthwise, ..ModelSpec::from_dir(&args.model_dir)? };
    let per_image = spec.preprocessing.values_per_image();
    let ticks = clock_ticks_per_second();
    let pid = std::process::id();
    let cpu = || process_cpu(pid, ticks).unwrap_or(Duration::ZERO);
    println!("depthwise: {:?}", args.depthwise);
    println!(
        "{:<9} {:>5} {:>10} {:>12} {:>13} {:>8}",
        "plans", "batch", "ms/batch", "ms/image", "cpu_ms/image", "load_s"
    );
    for &strategy in &args.strategies {
        let loading = Instant::now();
        let classifier = Classifier::load(spec.clone(), strategy, args.max_batch)?;
        let load_s = loading.elapsed().as_secs_f64();
        let mut state = classifier.new_state()?;
        let mut sizes = vec![1, 2, 4, args.max_batch];
        sizes.retain(|b| *b <= args.max_batch);
        sizes.dedup();
        for batch in sizes {
            classifier.run(&mut state, vec![0.1; batch * per_image], batch)?;
            let (started, cpu_started) = (Instant::now(), cpu());
            for _ in 0..args.runs {
                classifier.run(&mut state, vec![0.1; batch * per_image], batch)?;
            }
            let images = (args.runs * batch) as f64;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            let cpu_ms = cpu().saturating_sub(cpu_started).as_secs_f64() * 1e3;
            println!(
                "{strategy:<9?} {batch:>5} {:>10.2} {:>12.2} {:>13.2} {load_s:>8.2}",
                ms / args.runs as f64,
                ms / images,
                cpu_ms / images
            );
        }
        if args.profile {
            profile_ops(&classifier, args.runs)?;
        }
    }
    Ok(())
}

/// Runs the batch-1 plan `runs` times, timing each node's evaluation, and prints the wall time
/// per image spent in each op type (e.g. `DepthWise`, `OptMatMul`), largest first.
pub fn profile_ops(classifier: &Classifier, runs: usize) -> anyhow::Result<()> {
    let plan = classifier.plan_for(1).ok_or_else(|| anyhow::anyhow!("no batch-1 plan"))?;
    let size = classifier.spec.preprocessing.input_size as usize;
    let mut state = plan.spawn()?;
    let mut by_op: std::collections::BTreeMap<String, (Duration, usize)> = Default::default();
    let input = || -> TValue {
        Tensor::from(tract_ndarray::Array4::<f32>::from_elem((1, 3, size, size), 0.1)).into()
    };
    state.run(tvec!(input()))?;
    for _ in 0..runs.max(1) {
        state.run_plan_with_eval(tvec!(input()), |ctx, op_state, node, inputs| {
            let started = Instant::now();
            let out = eval(ctx, op_state, node, inputs);
            let entry = by_op.entry(node.op().name().to_string()).or_default();
            entry.0 += started.elapsed();
            entry.1 += 1;
            out
        })?;
    }
    let total: Duration = by_op.values().map(|(d, _)| *d).sum();
    let mut rows: Vec<_> = by_op.into_iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1.0));
    println!("\n{:<24} {:>6} {:>12} {:>7}", "op (batch-1 plan)", "nodes", "ms/image", "share");
    let runs = runs.max(1) as f64;
    for (op, (time, calls)) in rows {
        println!(
            "{op:<24} {:>6} {:>12.2} {:>6.1}%",
            calls as f64 / runs,
            time.as_secs_f64() * 1e3 / runs,
            100.0 * time.as_secs_f64() / total.as_secs_f64().max(f64::MIN_POSITIVE)
        );
    }
    println!("{:<24} {:>6} {:>12.2}", "total", "", total.as_secs_f64() * 1e3 / runs);
    Ok(())
}

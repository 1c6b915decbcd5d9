//! Command line and configuration: which model to serve and how the node runs it.
//!
//! The model comes from a directory holding `model.json` + `model.onnx` (`--model-dir`, else
//! `RUDDER_MODEL_DIR`, else `./models/v1`, else `models/v1` in the repository the executable was
//! built in), or from `--model PATH --labels PATH` plus preprocessing flags for any other ONNX
//! image classifier. Flags given alongside a model directory override its manifest.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::batcher::BatcherConfig;
use crate::depthwise::DepthwiseKernel;
use crate::model::{BatchPlans, ModelError, ModelSpec};
use crate::preprocess::Preprocessing;

#[derive(Debug, Parser)]
#[command(name = "rudder-node", version, about = "Rudder image-classification inference node")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is logged).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Directory with model.json and model.onnx.
    #[arg(long, env = "RUDDER_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// An ONNX classifier to serve instead of a model directory (needs --labels).
    #[arg(long, requires = "labels")]
    pub model: Option<PathBuf>,
    /// JSON array of class labels, in output order.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    #[arg(long)]
    pub input_size: Option<u32>,
    #[arg(long)]
    pub resize_shorter: Option<u32>,
    /// Per-channel mean, `r,g,b`, in 0..255 pixel units.
    #[arg(long, value_parser = parse_triple)]
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation, `r,g,b`, in 0..255 pixel units.
    #[arg(long, value_parser = parse_triple)]
    pub std: Option<[f32; 3]>,
    #[arg(long)]
    pub model_name: Option<String>,
    #[arg(long)]
    pub model_version: Option<String>,
    /// Name reported in responses (default: the host name).
    #[arg(long)]
    pub node_id: Option<String>,
    /// Inference worker threads (default: available cores). Each worker runs one image at a
    /// time on one core, which measured fastest on 2 cores (docs/performance.md, "Inference node").
    #[arg(long)]
    pub workers: Option<usize>,
    /// Largest micro-batch; 1 (the default) turns batching off. tract's per-image cost grows
    /// with the batch on this model (batch 4 costs 1.6-1.8x the CPU per image of batch 1), so
    /// batching only pays for a model and CPU where it does not; measure with
    /// `rudder-node-bench plans` first.
    #[arg(long, default_value_t = 1)]
    pub max_batch: usize,
    /// How long a worker waits to fill a batch when --max-batch > 1; 0 turns batching off.
    #[arg(long, default_value_t = 2)]
    pub batch_wait_ms: u64,
    /// Requests allowed to wait for a worker before new ones get 503.
    #[arg(long, default_value_t = 64)]
    pub queue_capacity: usize,
    /// Cached results (LRU by image SHA-256); 0 disables the cache.
    #[arg(long, default_value_t = 1024)]
    pub cache_size: usize,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest accepted image, in pixels (checked from the header before decoding).
    #[arg(long, default_value_t = 24_000_000)]
    pub max_pixels: u64,
    /// Seconds a client may take to send a request's headers, and again its body (then 408); also how
    /// long a connection may sit without a request before it is closed.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub read_timeout: u64,
    /// Seconds to let in-flight requests finish after SIGINT or SIGTERM before closing them.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub drain_timeout: u64,
    /// Batch plan strategy for tract (per-size measured ~5x faster than symbolic; see docs/performance.md).
    #[arg(long, value_enum, default_value_t = BatchPlans::PerSize)]
    pub batch_plans: BatchPlans,
    /// Depthwise convolution implementation: `rudder` (AVX2+FMA when the CPU has it, vectorised
    /// for strided and narrow layers, ReLU6 fused; see src/depthwise) or tract's own.
    #[arg(long, value_enum, default_value_t = DepthwiseKernel::default())]
    pub depthwise: DepthwiseKernel,
}

fn parse_triple(s: &str) -> Result<[f32; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(format!("expected three comma-separated numbers, got `{s}`"));
    };
    let num = |p: &str| p.parse::<f32>().map_err(|e| format!("`{p}`: {e}"));
    Ok([num(a)?, num(b)?, num(c)?])
}

/// A complete, validated node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub model: ModelSpec,
    pub node_id: String,
    pub batcher: BatcherConfig,
    pub batch_plans: BatchPlans,
    pub cache_size: usize,
    pub max_body_bytes: usize,
    pub max_pixels: u64,
    /// How long a client may take to send the headers, and again the body, of a request.
    pub read_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

impl NodeConfig {
    /// `/predict` requests admitted at once: as many as can wait in the queue plus those the
    /// workers run. Further ones get 503 before their body is read.
    pub fn admission_limit(&self) -> usize {
        let running = self.batcher.workers.saturating_mul(self.batcher.max_batch);
        self.batcher.queue_capacity.saturating_add(running)
    }
}

/// Largest `--queue-capacity`: far above what a node can serve in a client's patience, and far
/// below the admission semaphore's maximum (plus the running batches).
pub const MAX_QUEUE_CAPACITY: usize = 1_000_000;
/// Largest `--cache-size` (the cache allocates its index for the whole capacity up front).
pub const MAX_CACHE_SIZE: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no model found: pass --model-dir or --model, set RUDDER_MODEL_DIR, or run `make model` to create models/v1"
    )]
    NoModel,
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl ServeArgs {
    /// Resolves the model and validates every setting.
    pub fn into_config(self) -> Result<NodeConfig, ConfigError> {
        let mut spec = match (&self.model, &self.model_dir) {
            (Some(onnx), _) => ModelSpec {
                name: onnx.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned()),
                version: "unversioned".into(),
                onnx_path: onnx.clone(),
                labels_path: self
                    .labels
                    .clone()
                    .ok_or(ConfigError::Invalid("--model needs --labels".into()))?,
                preprocessing: Preprocessing {
                    input_size: 224,
                    resize_shorter: 256,
                    mean: [127.5; 3],
                    std: [127.5; 3],
                },
                sha256: None,
                depthwise: DepthwiseKernel::default(),
            },
            (None, Some(dir)) => ModelSpec::from_dir(dir)?,
            (None, None) => ModelSpec::from_dir(&default_model_dir().ok_or(ConfigError::NoModel)?)?,
        };
        if let Some(labels) = self.labels {
            spec.labels_path = labels;
        }
        let p = &mut spec.preprocessing;
        p.input_size = self.input_size.unwrap_or(p.input_size);
        p.resize_shorter = self.resize_shorter.unwrap_or(p.resize_shorter);
        p.mean = self.mean.unwrap_or(p.mean);
        p.std = self.std.unwrap_or(p.std);
        spec.depthwise = self.depthwise;
        spec.name = self.model_name.unwrap_or(spec.name);
        spec.version = self.model_version.unwrap_or(spec.version);

        let invalid = |s: &str| Err(ConfigError::Invalid(s.into()));
        if p.input_size == 0 || p.input_size > 4096 {
            return invalid("--input-size must be in 1..=4096");
        }
        if p.resize_shorter < p.input_size {
            return invalid("--resize-shorter must be at least --input-size (the crop must fit)");
        }
        if p.std.iter().any(|s| !s.is_finite() || *s == 0.0) || p.mean.iter().any(|m| !m.is_finite()) {
            return invalid("--mean must be finite and --std finite and non-zero");
        }
        if self.max_batch == 0 || self.max_batch > 256 {
            return invalid("--max-batch must be in 1..=256");
        }
        if !(1..=MAX_QUEUE_CAPACITY).contains(&self.queue_capacity) {
            return invalid("--queue-capacity must be in 1..=1000000");
        }
        if self.cache_size > MAX_CACHE_SIZE {
            return invalid("--cache-size must be at most 1000000 (0 turns the cache off)");
        }
        if self.max_body_bytes == 0 || self.max_pixels == 0 {
            return invalid("--max-body-bytes and --max-pixels must be positive");
        }
        if self.read_timeout == 0 {
            return invalid("--read-timeout must be at least 1 second");
        }
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, 256);
        Ok(NodeConfig {
            model: spec,
            node_id: self.node_id.unwrap_or_else(hostname),
            batcher: BatcherConfig {
                workers,
                max_batch: self.max_batch,
                batch_wait: Duration::from_millis(self.batch_wait_ms),
                queue_capacity: self.queue_capacity,
            },
            batch_plans: self.batch_plans,
            cache_size: self.cache_size,
            max_body_bytes: self.max_body_bytes,
            max_pixels: self.max_pixels,
            read_timeout: Duration::from_secs(self.read_timeout),
            drain_timeout: Duration::from_secs(self.drain_timeout),
        })
    }
}

/// `./models/v1` if it exists, else `models/v1` in the repository this binary was built from.
pub fn default_model_dir() -> Option<PathBuf> {
    let cwd = Path::new("models/v1");
    if cwd.join("model.json").is_file() {
        return Some(cwd.to_path_buf());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.join("models/v1");
    repo.join("model.json").is_file().then_some(repo)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rudder-node".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ServeArgs {
        let mut full = vec!["rudder-node", "serve"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(full).expect("parse").command {
            Command::Serve(a) => a,
        }
    }

    #[test]
    fn explicit_model_flags_build_a_spec() {
        let config = parse(&[
            "--model",
            "/m.onnx",
            "--labels",
            "/l.json",
            "--input-size",
            "240",
            "--resize-shorter",
            "274",
            "--mean",
            "1,2,3",
            "--std",
            "4, 5, 6",
            "--model-name",
            "lite1",
            "--model-version",
            "v9",
            "--node-id",
            "n1",
            "--workers",
            "3",
            "--batch-wait-ms",
            "0",
        ])
        .into_config()
        .expect("config");
        assert_eq!(config.model.name, "lite1");
        assert_eq!(config.model.version, "v9");
        assert_eq!(config.model.preprocessing.input_size, 240);
        assert_eq!(config.model.preprocessing.mean, [1.0, 2.0, 3.0]);
        assert_eq!(config.model.preprocessing.std, [4.0, 5.0, 6.0]);
        assert_eq!(config.node_id, "n1");
        assert_eq!(config.batcher.workers, 3);
        assert_eq!(config.batcher.batch_wait, Duration::ZERO);
    }

    #[test]
    fn invalid_settings_are_refused_with_a_reason() {
        let base = ["--model", "/m.onnx", "--labels", "/l.json"];
        let err = |extra: &[&str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            parse(&args).into_config().expect_err("invalid").to_string()
        };
        assert!(err(&["--input-size", "300"]).contains("--resize-shorter"));
        assert!(err(&["--std", "0,1,1"]).contains("--std"));
        assert!(err(&["--max-batch", "0"]).contains("--max-batch"));
        // Sizes that would wrap the admission limit or panic when allocated are refused.
        assert!(err(&["--queue-capacity", "18446744073709551615"]).contains("--queue-capacity"));
        assert!(err(&["--cache-size", "18446744073709551615"]).contains("--cache-size"));
        assert!(Cli::try_parse_from(["rudder-node", "serve", "--mean", "1,2"]).is_err());
        assert!(Cli::try_parse_from(["rudder-node", "serve", "--model", "/m.onnx"]).is_err());
    }
}

//! The model: its manifest (`model.json`), labels, checksum, and the tract plan(s) that run it.
//!
//! Batching needs a batch dimension the plan accepts. Two strategies are supported and were
//! measured (see `docs/performance.md`): one optimised plan with a symbolic batch dimension `N`,
//! or one optimised plan per concrete batch size `1..=max_batch`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::depthwise::{DepthwiseKernel, replace_depthwise_convs};
use crate::preprocess::Preprocessing;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid manifest {path}: {detail}")]
    Manifest { path: PathBuf, detail: String },
    #[error("invalid labels file {path}: {detail}")]
    Labels { path: PathBuf, detail: String },
    #[error("checksum mismatch for {path}: manifest says {expected}, file is {actual}")]
    Checksum { path: PathBuf, expected: String, actual: String },
    #[error("cannot load ONNX model {path}: {detail}")]
    Load { path: PathBuf, detail: String },
    #[error("model has {outputs} output classes but the labels file has {labels} labels")]
    LabelCount { outputs: usize, labels: usize },
    #[error("inference failed: {0}")]
    Inference(String),
}

/// `model.json`, as written by `make model`.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub input_size: u32,
    pub resize_shorter: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    #[serde(default)]
    pub layout: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    pub labels: PathBuf,
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Everything needed to load and serve one classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub version: String,
    pub onnx_path: PathBuf,
    pub labels_path: PathBuf,
    pub preprocessing: Preprocessing,
    pub sha256: Option<String>,
    /// Which depthwise convolution implementation the plans use.
    pub depthwise: DepthwiseKernel,
}

impl ModelSpec {
    /// Reads `dir/model.json`; `dir/model.onnx` is the model and `labels` is relative to `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("model.json");
        let text =
            fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| ModelError::Manifest { path: path.clone(), detail: e.to_string() })?;
        let bad = |detail: &str| ModelError::Manifest { path: path.clone(), detail: detail.to_owned() };
        if manifest.layout.as_deref().is_some_and(|l| l != "NCHW") {
            return Err(bad("only layout NCHW is supported"));
        }
        if manifest.color.as_deref().is_some_and(|c| c != "RGB") {
            return Err(bad("only color RGB is supported"));
        }
        Ok(ModelSpec {
            name: manifest.name,
            version: manifest.version,
            onnx_path: dir.join("model.onnx"),
            labels_path: dir.join(&manifest.labels),
            preprocessing: Preprocessing {
                input_size: manifest.input_size,
                resize_shorter: manifest.resize_shorter,
                mean: manifest.mean,
                std: manifest.std,
            },
            sha256: manifest.sha256,
            depthwise: DepthwiseKernel::default(),
        })
    }
}

/// How batches are mapped onto tract plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BatchPlans {
    /// One plan whose batch dimension is the symbol `N`.
    Symbolic,
    /// One plan per batch size `1..=max_batch`, each fully concrete.
    PerSize,
}

type Plan = Arc<TypedRunnableModel>;

/// A loaded classifier, shared by all workers.
pub struct Classifier {
    pub spec: ModelSpec,
    pub labels: Arc<[String]>,
    plans: Vec<Plan>,
    symbolic: bool,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier").field("spec", &self.spec).field("plans", &self.plans.len()).finish()
    }
}

impl Classifier {
    /// Verifies the checksum, reads the labels and builds optimised plans.
    pub fn load(spec: ModelSpec, batching: BatchPlans, max_batch: usize) -> Result<Self, ModelError> {
        let onnx = &spec.onnx_path;
        let bytes = fs::read(onnx).map_err(|source| ModelError::Io { path: onnx.clone(), source })?;
        if let Some(expected) = &spec.sha256 {
            let actual = hex::encode(Sha256::digest(&bytes));
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(ModelError::Checksum { path: onnx.clone(), expected: expected.clone(), actual });
            }
        }
        let labels = read_labels(&spec.labels_path)?;
        let size = spec.preprocessing.input_size as usize;
        let build = |batch: Option<usize>| -> TractResult<Plan> {
            let mut model = tract_onnx::onnx().model_for_read(&mut bytes.as_slice())?;
            let n = match batch {
                Some(n) => n.to_dim(),
                None => model.sym("N").to_dim(),
            };
            let fact = f32::fact([n, 3.to_dim(), size.to_dim(), size.to_dim()]);
            model.set_input_fact(0, fact.into())?;
            // Swapping the depthwise convs must happen on the decluttered model, before tract's
            // optimiser turns its `Conv`s into its own kernels.
            let mut typed = model.into_typed()?.into_decluttered()?;
            if spec.depthwise == DepthwiseKernel::Rudder {
                let replaced = replace_depthwise_convs(&mut typed)?;
                tracing::debug!(replaced, "depthwise convolutions replaced");
            }
            typed.into_optimized()?.into_runnable()
        };
        let load_err = |e: TractError| ModelError::Load { path: onnx.clone(), detail: format!("{e:#}") };
        let plans = match batching {
            BatchPlans::Symbolic => vec![build(None).map_err(load_err)?],
            BatchPlans::PerSize => (1..=max_batch.max(1))
                .map(|n| build(Some(n)))
                .collect::<TractResult<_>>()
                .map_err(load_err)?,
        };
        let classifier =
            Classifier { spec, labels: labels.into(), plans, symbolic: batching == BatchPlans::Symbolic };
        // The output width is only known for sure once a batch has run; check it against the labels now.
        let mut state = classifier.new_state()?;
        let logits =
            classifier.run(&mut state, vec![0.0; classifier.spec.preprocessing.values_per_image()], 1)?;
        if logits.len() != classifier.labels.len() {
            return Err(ModelError::LabelCount { outputs: logits.len(), labels: classifier.labels.len() });
        }
        Ok(classifier)
    }

    /// The optimised plan that runs batches of `batch` images, for benchmarks and profiling.
    pub fn plan_for(&self, batch: usize) -> Option<&Arc<TypedRunnableModel>> {
        if self.symbolic { self.plans.first() } else { self.plans.get(batch.checked_sub(1)?) }
    }

    pub fn max_batch(&self) -> usize {
        if self.symbolic { usize::MAX } else { self.plans.len() }
    }

    /// Per-worker mutable run state (tract reuses its buffers across runs).
    pub fn new_state(&self) -> Result<WorkerState, ModelError> {
        let states = self
            .plans
            .iter()
            .map(|p| p.spawn())
            .collect::<TractResult<Vec<_>>>()
            .map_err(|e| ModelError::Inference(format!("{e:#}")))?;
        Ok(WorkerState { states })
    }

    /// Runs `batch` images (`input` holds `batch * values_per_image` values, NCHW) and returns
    /// the logits, `batch * classes` values, image after image.
    pub fn run(
        &self,
        state: &mut WorkerState,
        input: Vec<f32>,
        batch: usize,
    ) -> Result<Vec<f32>, ModelError> {
        let size = self.spec.preprocessing.input_size as usize;
        let fail = |e: TractError| ModelError::Inference(format!("{e:#}"));
        let index = if self.symbolic {
            0
        } else {
            batch
                .checked_sub(1)
                .filter(|i| *i < self.plans.len())
                .ok_or_else(|| ModelError::Inference(format!("no plan for batch size {batch}")))?
        };
        let tensor: Tensor = tract_ndarray::Array4::from_shape_vec((batch, 3, size, size), input)
            .map_err(|e| ModelError::Inference(e.to_string()))?
            .into();
        let state =
            state.states.get_mut(index).ok_or_else(|| ModelError::Inference("missing state".into()))?;
        let outputs = state.run(tvec!(tensor.into())).map_err(fail)?;
        let output = outputs.first().ok_or_else(|| ModelError::Inference("model has no output".into()))?;
        let view = output.to_plain_array_view::<f32>().map_err(fail)?;
        if view.shape().first() != Some(&batch) {
            return Err(ModelError::Inference(format!("output shape {:?} for batch {batch}", view.shape())));
        }
        Ok(view.iter().copied().collect())
    }
}

/// One worker's run states, one per plan.
pub struct WorkerState {
    states: Vec<TypedSimpleState>,
}

fn read_labels(path: &Path) -> Result<Vec<String>, ModelError> {
    let text = fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.to_owned(), source })?;
    let labels: Vec<String> = serde_json::from_str(&text)
        .map_err(|e| ModelError::Labels { path: path.to_owned(), detail: e.to_string() })?;
    if labels.is_empty() {
        return Err(ModelError::Labels { path: path.to_owned(), detail: "no labels".into() });
    }
    Ok(labels)
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Indices and values of the `k` largest probabilities, largest first (ties: lower index first).
pub fn top_k(probs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut indexed: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
    let k = k.min(indexed.len());
    let by_prob = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if k < indexed.len() {
        indexed.select_nth_unstable_by(k, by_prob);
        indexed.truncate(k);
    }
    indexed.sort_by(by_prob);
    indexed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 2.0, 3.0, 10.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[3] > 0.99 && p[0] < p[1] && p[1] < p[2]);
        let q = softmax(&[0.0, (2.0f32).ln()]);
        assert!((q[0] - 1.0 / 3.0).abs() < 1e-6 && (q[1] - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn top_k_returns_largest_first() {
        let probs = [0.1, 0.4, 0.05, 0.3, 0.15];
        assert_eq!(top_k(&probs, 3), vec![(1, 0.4), (3, 0.3), (4, 0.15)]);
        assert_eq!(top_k(&probs, 1), vec![(1, 0.4)]);
        assert_eq!(top_k(&probs, 99).len(), 5);
        assert_eq!(top_k(&[0.5, 0.5], 1), vec![(0, 0.5)]);
    }

    #[test]
    fn manifest_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("rudder-node-manifest-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        fs::write(dir.join("model.json"), "{\"name\": 3}").expect("write");
        let err = ModelSpec::from_dir(&dir).expect_err("bad manifest");
        assert!(err.to_string().contains("model.json"), "{err}");
        let missing = ModelSpec::from_dir(&dir.join("nope")).expect_err("missing");
        assert!(matches!(missing, ModelError::Io { .. }));
        fs::remove_dir_all(&dir).ok();
    }
}

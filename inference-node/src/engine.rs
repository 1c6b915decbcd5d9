//! The engine: a loaded classifier plus the worker pool that runs it. Workers decode, preprocess
//! and classify whole micro-batches, so every CPU-heavy step happens off the async runtime and
//! the number of images being worked on at once is bounded by the pool and its queue.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::oneshot;

use crate::batcher::{Batcher, BatcherConfig, SubmitError};
use crate::metrics::Metrics;
use crate::model::{BatchPlans, Classifier, ModelError, ModelSpec, WorkerState, softmax};
use crate::preprocess::{self, ImageInputError, ImageProbe};

/// One image to classify; the answer goes back on `reply`.
pub struct InferenceJob {
    pub bytes: Bytes,
    pub probe: ImageProbe,
    pub reply: oneshot::Sender<Result<Classified, JobError>>,
}

/// Class probabilities for one image and where the time went.
#[derive(Debug, Clone)]
pub struct Classified {
    pub probs: Arc<[f32]>,
    pub decode: Duration,
    pub preprocess: Duration,
    pub inference: Duration,
    pub batch_size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Image(#[from] ImageInputError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

pub struct Engine {
    pub classifier: Arc<Classifier>,
    batcher: Batcher<InferenceJob>,
}

impl Engine {
    /// Loads the model, starts the workers and waits until every worker has run a warm-up batch
    /// (so the first real request does not pay for lazy allocations).
    pub fn start(
        spec: ModelSpec,
        plans: BatchPlans,
        config: BatcherConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ModelError> {
        let classifier = Arc::new(Classifier::load(spec, plans, config.max_batch)?);
        let (warm_tx, warm_rx) = mpsc::channel::<Result<(), ModelError>>();
        let warm_tx = std::sync::Mutex::new(warm_tx);
        let shared = Arc::clone(&classifier);
        let batcher = Batcher::start(config, move |_worker| {
            let classifier = Arc::clone(&shared);
            let metrics = Arc::clone(&metrics);
            let warmed = warm_up(&classifier, config.max_batch);
            let state = match warmed {
                Ok(state) => {
                    send_lossy(&warm_tx, Ok(()));
                    Some(state)
                }
                Err(e) => {
                    send_lossy(&warm_tx, Err(e));
                    None
                }
            };
            let mut state = state;
            move |jobs: Vec<InferenceJob>| match state.as_mut() {
                Some(state) => run_batch(&classifier, &metrics, state, jobs),
                None => fail_all(jobs, "worker failed to start"),
            }
        })
        .map_err(|e| ModelError::Inference(format!("cannot start workers: {e}")))?;
        for _ in 0..config.workers.max(1) {
            warm_rx.recv().map_err(|_| ModelError::Inference("a worker died during warm-up".into()))??;
        }
        Ok(Engine { classifier, batcher })
    }

    pub fn submit(&self, job: InferenceJob) -> Result<(), SubmitError> {
        self.batcher.submit(job)
    }

    pub fn queue_depth(&self) -> usize {
        self.batcher.queue_depth()
    }

    pub fn batcher_config(&self) -> BatcherConfig {
        self.batcher.config()
    }

    /// Finishes queued jobs and stops the workers.
    pub fn shutdown(&self) {
        self.batcher.shutdown();
    }
}

fn send_lossy(tx: &std::sync::Mutex<mpsc::Sender<Result<(), ModelError>>>, msg: Result<(), ModelError>) {
    if let Ok(tx) = tx.lock() {
        tx.send(msg).ok();
    }
}

/// Runs a batch of 1 and, if batching, a full batch, through a fresh worker state.
fn warm_up(classifier: &Classifier, max_batch: usize) -> Result<WorkerState, ModelError> {
    let mut state = classifier.new_state()?;
    let per_image = classifier.spec.preprocessing.values_per_image();
    let mut sizes = vec![1];
    if max_batch > 1 {
        sizes.push(max_batch.min(classifier.max_batch()));
    }
    for n in sizes {
        classifier.run(&mut state, vec![0.0; n * per_image], n)?;
    }
    Ok(state)
}

fn fail_all(jobs: Vec<InferenceJob>, why: &str) {
    for job in jobs {
        job.reply.send(Err(JobError::Model(ModelError::Inference(why.into())))).ok();
    }
}

/// Decodes and preprocesses each job into one input tensor, runs the model once, and answers
/// every job. A job whose image fails to decode is answered at once and left out of the batch.
fn run_batch(classifier: &Classifier, metrics: &Metrics, state: &mut WorkerState, jobs: Vec<InferenceJob>) {
    let pre = &classifier.spec.preprocessing;
    let mut input = Vec::with_capacity(jobs.len() * pre.values_per_image());
    let mut pending = Vec::with_capacity(jobs.len());
    let mut scratch = Vec::new();
    for job in jobs {
        if job.reply.is_closed() {
            continue; // the client went away; don't spend CPU on it
        }
        let started = Instant::now();
        match preprocess::decode_any(&job.bytes, job.probe) {
            Ok(image) => {
                let decoded = Instant::now();
                metrics.decode_seconds.observe((decoded - started).as_secs_f64());
                pre.apply_image(&image, &mut input, &mut scratch);
                pending.push((job.reply, decoded - started, decoded.elapsed()));
            }
            Err(e) => {
                job.reply.send(Err(e.into())).ok();
            }
        }
    }
    if pending.is_empty() {
        return;
    }
    let n = pending.len();
    metrics.batch_size.observe(n as f64);
    let started = Instant::now();
    let result = classifier.run(state, input, n);
    let inference = started.elapsed();
    metrics.inference_seconds.observe(inference.as_secs_f64());
    match result {
        Ok(logits) => {
            let classes = logits.len() / n;
            for ((reply, decode, preprocess), row) in pending.into_iter().zip(logits.chunks_exact(classes)) {
                let probs: Arc<[f32]> = softmax(row).into();
                reply.send(Ok(Classified { probs, decode, preprocess, inference, batch_size: n })).ok();
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batch = n, "inference failed");
            for (reply, ..) in pending {
                reply.send(Err(JobError::Model(ModelError::Inference(e.to_string())))).ok();
            }
        }
    }
}

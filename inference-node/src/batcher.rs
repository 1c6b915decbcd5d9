//! The worker pool: dedicated OS threads (not the tokio blocking pool) that take jobs from one
//! bounded queue and hand them to a per-worker handler in micro-batches.
//!
//! A worker that finds the queue non-empty takes the first job, then keeps taking jobs until it
//! holds `max_batch` or `batch_wait` has passed since it took the first one. With `max_batch` 1 or
//! `batch_wait` 0 every batch holds exactly one job. A full queue refuses new jobs at once, so
//! callers can answer 503 instead of piling up memory.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatcherConfig {
    pub workers: usize,
    pub max_batch: usize,
    pub batch_wait: Duration,
    pub queue_capacity: usize,
}

impl BatcherConfig {
    fn batching(&self) -> bool {
        self.max_batch > 1 && !self.batch_wait.is_zero()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the queue is full ({capacity} jobs waiting)")]
    QueueFull { capacity: usize },
    #[error("the worker pool is shut down")]
    Closed,
}

struct Queue<J> {
    jobs: VecDeque<J>,
    closed: bool,
}

struct Shared<J> {
    queue: Mutex<Queue<J>>,
    job_ready: Condvar,
    depth: AtomicUsize,
    config: BatcherConfig,
}

impl<J> Shared<J> {
    fn lock(&self) -> MutexGuard<'_, Queue<J>> {
        // A handler panic cannot leave the queue half-updated (it is never locked while a
        // handler runs), so a poisoned lock is still consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A bounded job queue drained by `workers` threads in micro-batches.
pub struct Batcher<J> {
    shared: Arc<Shared<J>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl<J: Send + 'static> Batcher<J> {
    /// Starts the workers; `make_handler(i)` runs on worker `i`'s own thread and returns the
    /// function that processes that worker's batches (so per-worker state never crosses threads).
    pub fn start<H, F>(config: BatcherConfig, make_handler: F) -> std::io::Result<Self>
    where
        F: Fn(usize) -> H + Send + Sync + 'static,
        H: FnMut(Vec<J>) + 'static,
    {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { jobs: VecDeque::new(), closed: false }),
            job_ready: Condvar::new(),
            depth: AtomicUsize::new(0),
            config,
        });
        let make_handler = Arc::new(make_handler);
        let mut threads = Vec::new();
        for i in 0..config.workers.max(1) {
            let shared = Arc::clone(&shared);
            let make_handler = Arc::clone(&make_handler);
            let thread = std::thread::Builder::new().name(format!("infer-{i}")).spawn(move || {
                let mut handler = make_handler(i);
                while let Some(batch) = next_batch(&shared) {
                    // A panic (a decoder or the model on some input) must not take the worker with it:
                    // the batch's jobs are answered with an error as their reply channels drop, and
                    // the worker goes on with fresh state.
                    if std::panic::catch_unwind(AssertUnwindSafe(|| handler(batch))).is_err() {
                        tracing::error!(
                            worker = i,
                            "a batch panicked; its requests failed, the worker goes on"
                        );
                        handler = make_handler(i);
                    }
                }
            })?;
            threads.push(thread);
        }
        Ok(Batcher { shared, threads: Mutex::new(threads) })
    }

    /// Queues a job, or refuses it at once when the queue is full or closed.
    pub fn submit(&self, job: J) -> Result<(), SubmitError> {
        let mut queue = self.shared.lock();
        if queue.closed {
            return Err(SubmitError::Closed);
        }
        let capacity = self.shared.config.queue_capacity;
        if queue.jobs.len() >= capacity {
            return Err(SubmitError::QueueFull { capacity });
        }
        queue.jobs.push_back(job);
        self.shared.depth.store(queue.jobs.len(), Ordering::Relaxed);
        drop(queue);
        self.shared.job_ready.notify_one();
        Ok(())
    }

    /// Jobs waiting for a worker (lock-free read for health checks).
    pub fn queue_depth(&self) -> usize {
        self.shared.depth.load(Ordering::Relaxed)
    }

    pub fn config(&self) -> BatcherConfig {
        self.shared.config
    }

    /// Refuses new jobs, lets the workers finish every queued job, and joins them.
    pub fn shutdown(&self) {
        self.shared.lock().closed = true;
        self.shared.job_ready.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("an inference worker panicked");
            }
        }
    }
}

impl<J> Drop for Batcher<J> {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.job_ready.notify_all();
    }
}

/// Blocks until a batch is available; `None` once the queue is closed and drained.
fn next_batch<J>(shared: &Shared<J>) -> Option<Vec<J>> {
    let config = shared.config;
    let mut queue = shared.lock();
    let first = loop {
        if let Some(job) = queue.jobs.pop_front() {
            break job;
        }
        if queue.closed {
            return None;
        }
        queue = shared.job_ready.wait(queue).unwrap_or_else(PoisonError::into_inner);
    };
    let mut batch = vec![first];
    if config.batching() {
        let deadline = Instant::now() + config.batch_wait;
        loop {
            while batch.len() < config.max_batch {
                match queue.jobs.pop_front() {
                    Some(job) => batch.push(job),
                    None => break,
                }
            }
            let now = Instant::now();
            if batch.len() >= config.max_batch || now >= deadline || queue.closed {
                break;
            }
            queue = shared
                .job_ready
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
    shared.depth.store(queue.jobs.len(), Ordering::Relaxed);
    let more_waiting = !queue.jobs.is_empty();
    drop(queue);
    if more_waiting {
        // Another idle worker may take what is left.
        shared.job_ready.notify_one();
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn config(workers: usize, max_batch: usize, wait_ms: u64, capacity: usize) -> BatcherConfig {
        BatcherConfig {
            workers,
            max_batch,
            batch_wait: Duration::from_millis(wait_ms),
            queue_capacity: capacity,
        }
    }

    /// A pool whose single worker blocks on `gate` before each batch and reports batch contents.
    fn gated_pool(cfg: BatcherConfig) -> (Batcher<u32>, mpsc::Sender<()>, mpsc::Receiver<Vec<u32>>) {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate_rx = Arc::new(Mutex::new(gate_rx));
        let (done_tx, done_rx) = mpsc::channel();
        let pool = Batcher::start(cfg, move |_| {
            let gate = Arc::clone(&gate_rx);
            let done = done_tx.clone();
            move |batch: Vec<u32>| {
                gate.lock().expect("gate").recv().ok();
                done.send(batch).ok();
            }
        })
        .expect("start");
        (pool, gate_tx, done_rx)
    }

    #[test]
    fn full_queue_refuses_jobs_immediately() {
        let (pool, gate, done) = gated_pool(config(1, 1, 0, 2));
        pool.submit(1).expect("taken by the worker");
        // Wait until the worker has taken job 1 (queue empty again).
        let start = Instant::now();
        while pool.queue_depth() != 0 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        pool.submit(2).expect("queued");
        pool.submit(3).expect("queued");
        assert_eq!(pool.queue_depth(), 2);
        assert_eq!(pool.submit(4), Err(SubmitError::QueueFull { capacity: 2 }));
        for _ in 0..3 {
            gate.send(()).expect("gate");
        }
        let got: Vec<Vec<u32>> = (0..3).map(|_| done.recv().expect("batch")).collect();
        assert_eq!(got, vec![vec![1], vec![2], vec![3]]);
        pool.shutdown();
        assert_eq!(pool.submit(5), Err(SubmitError::Closed));
    }

    #[test]
    fn queued_jobs_are_grouped_up_to_max_batch() {
        let (pool, gate, done) = gated_pool(config(1, 3, 50, 16));
        pool.submit(0).expect("submit");
        std::thread::sleep(Duration::from_millis(100)); // worker holds [0] and waits at the gate
        for i in 1..=5 {
            pool.submit(i).expect("submit");
        }
        for _ in 0..3 {
            gate.send(()).expect("gate");
        }
        assert_eq!(done.recv().expect("b0"), vec![0]);
        assert_eq!(done.recv().expect("b1"), vec![1, 2, 3]);
        assert_eq!(done.recv().expect("b2"), vec![4, 5]);
        pool.shutdown();
    }

    #[test]
    fn batching_off_means_batches_of_one() {
        let (pool, gate, done) = gated_pool(config(1, 8, 0, 16));
        for i in 0..3 {
            pool.submit(i).expect("submit");
        }
        for _ in 0..3 {
            gate.send(()).expect("gate");
        }
        let sizes: Vec<usize> = (0..3).map(|_| done.recv().expect("batch").len()).collect();
        assert_eq!(sizes, vec![1, 1, 1]);
        pool.shutdown();
    }

    #[test]
    fn shutdown_drains_queued_jobs() {
        let processed = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&processed);
        let pool = Batcher::start(config(2, 4, 1, 64), move |_| {
            let counter = Arc::clone(&counter);
            move |batch: Vec<u32>| {
                std::thread::sleep(Duration::from_millis(2));
                counter.fetch_add(batch.len(), Ordering::SeqCst);
            }
        })
        .expect("start");
        for i in 0..40 {
            pool.submit(i).expect("submit");
        }
        pool.shutdown();
        assert_eq!(processed.load(Ordering::SeqCst), 40);
    }

    #[test]
    fn a_batch_that_panics_leaves_the_worker_serving() {
        let (done_tx, done) = mpsc::channel();
        let started = Arc::new(AtomicUsize::new(0));
        let handlers = Arc::clone(&started);
        let pool = Batcher::start(config(1, 1, 0, 16), move |_| {
            handlers.fetch_add(1, Ordering::SeqCst);
            let done = done_tx.clone();
            move |batch: Vec<u32>| {
                assert!(batch != [13], "job 13 makes this worker panic");
                done.send(batch).ok();
            }
        })
        .expect("start");
        for i in [12, 13, 14] {
            pool.submit(i).expect("submit");
        }
        assert_eq!(done.recv_timeout(Duration::from_secs(5)).expect("12"), vec![12]);
        assert_eq!(done.recv_timeout(Duration::from_secs(5)).expect("14 after the panic"), vec![14]);
        assert_eq!(started.load(Ordering::SeqCst), 2, "the worker's state was made anew");
        pool.shutdown();
    }
}

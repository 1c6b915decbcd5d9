//! Shared application state, passed explicitly to every handler: configuration, metrics, the
//! result cache, and the engine once the model has loaded and warmed up.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::cache::ResultCache;
use crate::config::NodeConfig;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::model::ModelError;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: NodeConfig,
    metrics: Arc<Metrics>,
    cache: ResultCache,
    engine: OnceLock<Engine>,
    load_error: OnceLock<String>,
    started: Instant,
    /// `/predict` requests admitted at once (see [`AppState::admit`]).
    admission: Semaphore,
}

impl AppState {
    /// State for a node whose model is not loaded yet (`/health` says `loading`).
    pub fn new(config: NodeConfig) -> Self {
        let cache = ResultCache::new(config.cache_size);
        let admission = Semaphore::new(config.admission_limit());
        AppState {
            inner: Arc::new(Inner {
                config,
                metrics: Arc::new(Metrics::new()),
                cache,
                engine: OnceLock::new(),
                load_error: OnceLock::new(),
                started: Instant::now(),
                admission,
            }),
        }
    }

    /// Loads the model and warms the workers up; blocking, run it off the async runtime.
    pub fn load_model(&self) -> Result<(), ModelError> {
        let config = &self.inner.config;
        let started = Instant::now();
        let result = Engine::start(
            config.model.clone(),
            config.batch_plans,
            config.batcher,
            Arc::clone(&self.inner.metrics),
        );
        match result {
            Ok(engine) => {
                tracing::info!(
                    model = %config.model.name,
                    version = %config.model.version,
                    load_ms = started.elapsed().as_millis() as u64,
                    "model loaded and warmed up"
                );
                if let Err(duplicate) = self.inner.engine.set(engine) {
                    duplicate.shutdown();
                }
                Ok(())
            }
            Err(e) => {
                self.inner.load_error.set(e.to_string()).ok();
                Err(e)
            }
        }
    }

    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn cache(&self) -> &ResultCache {
        &self.inner.cache
    }

    /// The engine, once the model is loaded and warmed up.
    pub fn engine(&self) -> Option<&Engine> {
        self.inner.engine.get()
    }

    pub fn load_error(&self) -> Option<&str> {
        self.inner.load_error.get().map(String::as_str)
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    /// A place for one `/predict` request, or `None` when [`NodeConfig::admission_limit`] requests
    /// are already being read, queued or run. Taken before the body is read, so a request the node
    /// cannot serve is refused without buffering it: memory stays under that limit times
    /// `max_body_bytes`.
    pub fn admit(&self) -> Option<SemaphorePermit<'_>> {
        self.inner.admission.try_acquire().ok()
    }

    /// `/predict` requests admitted now (reading their body, waiting for or in a worker).
    pub fn admitted(&self) -> usize {
        self.inner.config.admission_limit() - self.inner.admission.available_permits()
    }

    /// Finishes queued inference jobs and stops the workers.
    pub fn shutdown(&self) {
        if let Some(engine) = self.engine() {
            engine.shutdown();
        }
    }
}

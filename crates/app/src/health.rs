//! The services a node depends on and how each answered when last asked: the store always,
//! Redis and NATS when several nodes share them. A background task asks every second
//! ([`crate::App::probe_dependencies`]); `/healthz` shows the latest answers without asking
//! again, so a liveness probe never waits on a slow dependency.

use std::sync::RwLock;

/// One dependency's latest answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DependencyHealth {
    /// `store`, `redis` or `nats`.
    pub name: String,
    /// Whether it answered.
    pub ok: bool,
    /// How long it took, ms (when asked with a round trip).
    pub latency_ms: Option<f64>,
    /// What went wrong.
    pub error: Option<String>,
    /// When it was asked, ms.
    pub checked_ms: i64,
}

/// A check the binary registers for a dependency the application does not call itself.
pub type Watch = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Registered checks and the latest answers.
#[derive(Default)]
pub(crate) struct Health {
    pub(crate) watched: RwLock<Vec<(String, Watch)>>,
    pub(crate) last: RwLock<Vec<DependencyHealth>>,
}

impl crate::App {
    /// Adds a dependency's check (e.g. the NATS connection's state).
    pub fn watch_dependency(&self, name: &str, check: Watch) {
        self.health.watched.write().unwrap_or_else(|p| p.into_inner()).push((name.to_string(), check));
    }

    /// Asks every dependency now and keeps the answers: the store (a read on a blocking
    /// thread), Redis (a round trip), then the registered checks.
    pub async fn probe_dependencies(self: &std::sync::Arc<Self>) {
        let now = crate::now_ms();
        let mut out = Vec::new();
        let app = std::sync::Arc::clone(self);
        let t = std::time::Instant::now();
        let store = tokio::task::spawn_blocking(move || app.store.affiliates().map(|_| ()).map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        out.push(answer("store", store, Some(t.elapsed()), now));
        if let Some(shared) = &self.shared {
            let r = shared.features.ping().await;
            let took = r.as_ref().ok().copied();
            out.push(answer("redis", r.map(|_| ()), took, now));
        }
        for (name, check) in self.health.watched.read().unwrap_or_else(|p| p.into_inner()).iter() {
            out.push(answer(name, check(), None, now));
        }
        *self.health.last.write().unwrap_or_else(|p| p.into_inner()) = out;
    }

    /// The latest answers (empty before the first probe).
    pub fn dependencies(&self) -> Vec<DependencyHealth> {
        self.health.last.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn answer(name: &str, r: Result<(), String>, took: Option<std::time::Duration>, now: i64) -> DependencyHealth {
    DependencyHealth {
        name: name.to_string(),
        ok: r.is_ok(),
        latency_ms: took.map(|d| d.as_secs_f64() * 1000.0),
        error: r.err(),
        checked_ms: now,
    }
}

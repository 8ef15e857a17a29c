//! Changes between nodes over NATS JetStream. Every node publishes the changes its
//! application emits (rulesets, indicator reports, protection, revoked keys; see
//! `app::changes`) to the stream `ANSIM_CHANGES` and applies the ones the other nodes
//! published. The stream keeps a day of changes, so a node that loses NATS for a while picks
//! up where it left off (an ordered consumer resumes after the last message it saw); a node
//! that starts reads everything from the store, having subscribed first, so nothing committed
//! while it loaded is missed. Messages are invalidations of what the store already holds:
//! applying one twice changes nothing.
//!
//! If NATS is unreachable after start, decisions go on (the store and the shared features do
//! not need it); changes wait in order and are published when it is back (up to
//! [`BACKLOG`] of them; beyond that the oldest are dropped with a warning, and the other nodes
//! see those changes at their next start). `/healthz` says so meanwhile.

use app::changes::Change;
use async_nats::jetstream;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// The stream's name and subjects.
const STREAM: &str = "ANSIM_CHANGES";
const SUBJECT: &str = "ansim.changes";

/// Most changes kept while NATS is unreachable.
pub const BACKLOG: usize = 100_000;

/// One change as sent: who made it and what it is.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    node: String,
    #[serde(flatten)]
    change: Change,
}

/// A connection to NATS with the changes stream ready.
pub struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
    node: String,
    address: String,
}

impl Bus {
    /// Connects and makes sure the stream exists; the error names the address.
    pub async fn connect(url: &str, node: &str) -> Result<Bus, String> {
        let address = signals_redis::without_credentials(url);
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .name(format!("ansim {node}"))
            .connect(url)
            .await
            .map_err(|e| format!("NATS at {address} is unreachable: {e}"))?;
        let js = jetstream::new(client.clone());
        let bus = Bus { client, js, node: node.to_string(), address };
        bus.stream().await?;
        Ok(bus)
    }

    /// Whether the connection is up now, with the address.
    pub fn state(&self) -> Result<(), String> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            s => Err(format!("NATS at {} is {s:?}", self.address).to_lowercase()),
        }
    }

    /// Makes sure the stream exists (again, after a NATS server lost it) and returns it.
    async fn stream(&self) -> Result<jetstream::stream::Stream, String> {
        self.js
            .get_or_create_stream(jetstream::stream::Config {
                name: STREAM.into(),
                subjects: vec![format!("{SUBJECT}.>")],
                max_age: Duration::from_secs(86_400),
                storage: jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("NATS at {}: JetStream stream {STREAM}: {e}", self.address))
    }

    /// Where the other nodes' changes start from now: the stream's next sequence number (call
    /// before loading the store, so nothing committed meanwhile is missed).
    pub async fn subscribe(&self) -> Result<u64, String> {
        let info = self.stream().await?.get_info().await.map_err(|e| format!("NATS at {}: {e}", self.address))?;
        Ok(info.state.last_sequence + 1)
    }

    /// Reads the stream from sequence `from` on.
    async fn consume(&self, from: u64) -> Result<jetstream::consumer::pull::Ordered, String> {
        let consumer = self
            .stream()
            .await?
            .create_consumer(jetstream::consumer::pull::OrderedConfig {
                filter_subject: format!("{SUBJECT}.>"),
                deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence { start_sequence: from },
                ..Default::default()
            })
            .await
            .map_err(|e| format!("NATS at {}: consumer: {e}", self.address))?;
        consumer.messages().await.map_err(|e| format!("NATS at {}: {e}", self.address))
    }

    /// Publishes `changes` as the application emits them, in order, each acknowledged by the
    /// stream; while NATS is down they wait (see the module's documentation).
    pub async fn publish(self: Arc<Self>, mut changes: tokio::sync::mpsc::UnboundedReceiver<Change>) {
        let mut backlog: std::collections::VecDeque<Change> = std::collections::VecDeque::new();
        loop {
            if backlog.is_empty() {
                match changes.recv().await {
                    Some(c) => backlog.push_back(c),
                    None => return,
                }
            }
            while let Ok(c) = changes.try_recv() {
                if backlog.len() >= BACKLOG {
                    backlog.pop_front();
                    tracing::warn!(
                        "NATS backlog full: the oldest change is dropped (other nodes see it at their next start)"
                    );
                }
                backlog.push_back(c);
            }
            let Some(change) = backlog.front() else { continue };
            let kind = match change {
                Change::Ruleset { .. } => "ruleset",
                Change::Registry { .. } => "registry",
                Change::Protection { .. } => "protection",
                Change::KeyRevoked { .. } => "key",
                Change::Campaign { .. } => "campaign",
            };
            let body =
                serde_json::to_vec(&Envelope { node: self.node.clone(), change: change.clone() }).unwrap_or_default();
            let sent = match self.js.publish(format!("{SUBJECT}.{kind}"), body.into()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match sent {
                Ok(()) => {
                    backlog.pop_front();
                }
                Err(e) => {
                    tracing::warn!(error = %e, waiting = backlog.len(), "cannot publish a change to NATS; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Applies the other nodes' changes to `app`, from stream sequence `from` on (on blocking
    /// threads: some read the store). When the consumer is lost (the server restarted), a new
    /// one resumes after the last change applied.
    pub async fn apply(self: Arc<Self>, app: Arc<app::App>, mut from: u64) {
        loop {
            let mut messages = match self.consume(from).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(error = %e, "NATS: cannot read changes yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            while let Some(m) = messages.next().await {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "NATS: reading changes failed; resuming");
                        break;
                    }
                };
                if let Ok(info) = m.info() {
                    from = info.stream_sequence + 1;
                }
                let env: Envelope = match serde_json::from_slice(&m.payload) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(error = %e, subject = %m.subject, "NATS: a change this version cannot read is skipped");
                        continue;
                    }
                };
                if env.node == self.node {
                    continue;
                }
                let app = Arc::clone(&app);
                let applied = tokio::task::spawn_blocking(move || app.apply_change(&env.change)).await;
                if let Ok(Err(e)) = applied {
                    tracing::warn!(error = %e, "a change from another node could not be applied");
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

//! Configuration: defaults, then an optional TOML file (`--config FILE`), then `ANSIM_*`
//! environment variables, then command-line flags, each overriding the one before. No file is
//! needed. An unknown key in the file or an unknown `ANSIM_*` variable is an error naming it,
//! so a typo never silently leaves a default in place.
//!
//! ```toml
//! listen = "127.0.0.1:8080"     # ANSIM_LISTEN
//! data = "ansim-data"           # ANSIM_DATA: directory of the store
//! log = "info"                  # ANSIM_LOG: tracing filter, e.g. "info,tower_http=debug"
//! snapshot_every = 50000        # ANSIM_SNAPSHOT_EVERY: feature-state snapshot per N decisions
//! snapshot_min_secs = 16        # ANSIM_SNAPSHOT_MIN_SECS: ... and at most once per this many seconds
//! max_batch = 1024              # ANSIM_MAX_BATCH: most writes in one group commit
//! max_batch_events = 1000       # ANSIM_MAX_BATCH_EVENTS: most events per /v1/events:batch
//! request_timeout_secs = 10     # ANSIM_REQUEST_TIMEOUT_SECS
//! max_connections = 4096        # ANSIM_MAX_CONNECTIONS (default: the open-file limit less 256, at most 16384)
//! idle_timeout_secs = 60        # ANSIM_IDLE_TIMEOUT_SECS: close a connection with no request this long
//! header_read_timeout_secs = 10 # ANSIM_HEADER_READ_TIMEOUT_SECS: close one whose headers take longer
//! live_page = false             # ANSIM_LIVE_PAGE: serve the live page at / (demo: always)
//! open_metrics = false          # ANSIM_OPEN_METRICS: /metrics without the group's admin key
//! max_event_age_days = 400      # ANSIM_MAX_EVENT_AGE_DAYS: refuse events older than this
//! allow_private_webhooks = false # ANSIM_ALLOW_PRIVATE_WEBHOOKS: webhook URLs to loopback/private ranges
//! messages_model = "m.model"    # ANSIM_MESSAGES_MODEL: from `ansim train messages` (default: built in)
//! urls_model = "u.model"        # ANSIM_URLS_MODEL: from `ansim train urls` (default: built in)
//! brands = "brands.txt"         # ANSIM_BRANDS: protected brands for look-alike links (default: built in)
//! transactions_model = "t.gbdt" # ANSIM_TRANSACTIONS_MODEL: from `ansim train transactions` (default: none)
//! store = "postgres://…"        # ANSIM_STORE: PostgreSQL as the store (default: SQLite in `data`)
//! redis = "redis://…"           # ANSIM_REDIS: streaming features shared by several nodes
//! nats = "nats://…"             # ANSIM_NATS: changes propagated between nodes (JetStream)
//! group_key_file = "group.key"  # ANSIM_GROUP_KEY_FILE: the group key every node shares
//!                               #   (default: `data/group.key`, made on first start)
//! ```
//!
//! Models and brands are read at start and again on every ruleset publish.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to listen on (`host:port`).
    pub listen: String,
    /// Data directory.
    pub data: PathBuf,
    /// Tracing filter.
    pub log: String,
    /// Feature-state snapshot every this many decisions per affiliate.
    pub snapshot_every: u64,
    /// ... and the whole state at most once per this interval (it is taken in parts, each
    /// of which pauses the affiliate's decisions briefly).
    pub snapshot_min_interval: Duration,
    /// Most writes in one transaction.
    pub max_batch: usize,
    /// Most events in one batch request.
    pub max_batch_events: usize,
    /// Request timeout.
    pub request_timeout: Duration,
    /// Connection cap (`None`: from the open-file limit).
    pub max_connections: Option<usize>,
    /// Idle-connection timeout.
    pub idle_timeout: Duration,
    /// Header-read timeout.
    pub header_read_timeout: Duration,
    /// Serve the live page at `/`.
    pub live_page: bool,
    /// Serve `/metrics` without a key.
    pub open_metrics: bool,
    /// Refuse events older than this many days.
    pub max_event_age_days: i64,
    /// Accept webhook URLs to loopback, link-local and private ranges.
    pub allow_private_webhooks: bool,
    /// A message model file.
    pub messages_model: Option<PathBuf>,
    /// A URL model file.
    pub urls_model: Option<PathBuf>,
    /// A protected-brand list.
    pub brands: Option<PathBuf>,
    /// A transaction model file.
    pub transactions_model: Option<PathBuf>,
    /// A PostgreSQL address for the store (`None`: the embedded SQLite file in `data`).
    pub store: Option<String>,
    /// A Redis address for streaming features shared by several nodes.
    pub redis: Option<String>,
    /// A NATS address (JetStream) for changes propagated between nodes.
    pub nats: Option<String>,
    /// The group key's file, shared by every node (`None`: `data/group.key`).
    pub group_key_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data: PathBuf::from("ansim-data"),
            log: "info".into(),
            snapshot_every: 50_000,
            snapshot_min_interval: Duration::from_secs(16),
            max_batch: 1_024,
            max_batch_events: 1_000,
            request_timeout: Duration::from_secs(10),
            max_connections: None,
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            live_page: false,
            open_metrics: false,
            max_event_age_days: 400,
            allow_private_webhooks: false,
            messages_model: None,
            urls_model: None,
            brands: None,
            transactions_model: None,
            store: None,
            redis: None,
            nats: None,
            group_key_file: None,
        }
    }
}

/// The file's shape: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    data: Option<PathBuf>,
    log: Option<String>,
    snapshot_every: Option<u64>,
    snapshot_min_secs: Option<u64>,
    max_batch: Option<usize>,
    max_batch_events: Option<usize>,
    request_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    idle_timeout_secs: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    live_page: Option<bool>,
    open_metrics: Option<bool>,
    max_event_age_days: Option<i64>,
    allow_private_webhooks: Option<bool>,
    messages_model: Option<PathBuf>,
    urls_model: Option<PathBuf>,
    brands: Option<PathBuf>,
    transactions_model: Option<PathBuf>,
    store: Option<String>,
    redis: Option<String>,
    nats: Option<String>,
    group_key_file: Option<PathBuf>,
}

/// The environment variables read, in the order of the file keys.
pub const ENV_VARS: [&str; 23] = [
    "ANSIM_LISTEN",
    "ANSIM_DATA",
    "ANSIM_LOG",
    "ANSIM_SNAPSHOT_EVERY",
    "ANSIM_SNAPSHOT_MIN_SECS",
    "ANSIM_MAX_BATCH",
    "ANSIM_MAX_BATCH_EVENTS",
    "ANSIM_REQUEST_TIMEOUT_SECS",
    "ANSIM_MAX_CONNECTIONS",
    "ANSIM_IDLE_TIMEOUT_SECS",
    "ANSIM_HEADER_READ_TIMEOUT_SECS",
    "ANSIM_LIVE_PAGE",
    "ANSIM_OPEN_METRICS",
    "ANSIM_MAX_EVENT_AGE_DAYS",
    "ANSIM_ALLOW_PRIVATE_WEBHOOKS",
    "ANSIM_MESSAGES_MODEL",
    "ANSIM_URLS_MODEL",
    "ANSIM_BRANDS",
    "ANSIM_TRANSACTIONS_MODEL",
    "ANSIM_STORE",
    "ANSIM_REDIS",
    "ANSIM_NATS",
    "ANSIM_GROUP_KEY_FILE",
];

fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    v.trim().parse().map_err(|e| format!("{name}={v:?}: {e}"))
}

/// Checks that a service's address, if set, has one of `schemes`; the error names the key.
fn address(key: &str, url: Option<&str>, schemes: &[&str], hint: &str) -> Result<(), String> {
    match url {
        Some(url) if !schemes.iter().any(|s| url.starts_with(s)) => {
            Err(format!("{key}: {url:?} is not a {} address{hint}", schemes[0]))
        }
        _ => Ok(()),
    }
}

impl Config {
    /// Loads the file (if any) and the process environment over the defaults.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        Config::load_from(file, std::env::vars())
    }

    /// Loads the file (if any) and `env` (name, value) pairs over the defaults.
    pub fn load_from(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, String> {
        let mut c = Config::default();
        if let Some(path) = file {
            let text = crate::read_text(path)?;
            let f: File = toml::from_str(&text).map_err(|e| {
                let at = e.span().map(|s| rules::diag::line_col(&text, s.start));
                match at {
                    Some((l, col)) => format!("{}:{l}:{col}: {}", path.display(), e.message().trim()),
                    None => format!("{}: {}", path.display(), e.message().trim()),
                }
            })?;
            c.apply(f);
        }
        let mut f = File::default();
        for (k, v) in env {
            // The test and benchmark tools' own variables are theirs, not the server's.
            let tools = k.starts_with("ANSIM_TEST_") || k.starts_with("ANSIM_BENCH_") || k == "ANSIM_CHROMIUM";
            if !k.starts_with("ANSIM_") || tools {
                continue;
            }
            match k.as_str() {
                "ANSIM_LISTEN" => f.listen = Some(v),
                "ANSIM_DATA" => f.data = Some(PathBuf::from(v)),
                "ANSIM_LOG" => f.log = Some(v),
                "ANSIM_SNAPSHOT_EVERY" => f.snapshot_every = Some(parse(&k, &v)?),
                "ANSIM_SNAPSHOT_MIN_SECS" => f.snapshot_min_secs = Some(parse(&k, &v)?),
                "ANSIM_MAX_BATCH" => f.max_batch = Some(parse(&k, &v)?),
                "ANSIM_MAX_BATCH_EVENTS" => f.max_batch_events = Some(parse(&k, &v)?),
                "ANSIM_REQUEST_TIMEOUT_SECS" => f.request_timeout_secs = Some(parse(&k, &v)?),
                "ANSIM_MAX_CONNECTIONS" => f.max_connections = Some(parse(&k, &v)?),
                "ANSIM_IDLE_TIMEOUT_SECS" => f.idle_timeout_secs = Some(parse(&k, &v)?),
                "ANSIM_HEADER_READ_TIMEOUT_SECS" => f.header_read_timeout_secs = Some(parse(&k, &v)?),
                "ANSIM_LIVE_PAGE" => f.live_page = Some(parse(&k, &v)?),
                "ANSIM_OPEN_METRICS" => f.open_metrics = Some(parse(&k, &v)?),
                "ANSIM_MAX_EVENT_AGE_DAYS" => f.max_event_age_days = Some(parse(&k, &v)?),
                "ANSIM_ALLOW_PRIVATE_WEBHOOKS" => f.allow_private_webhooks = Some(parse(&k, &v)?),
                "ANSIM_MESSAGES_MODEL" => f.messages_model = Some(PathBuf::from(v)),
                "ANSIM_URLS_MODEL" => f.urls_model = Some(PathBuf::from(v)),
                "ANSIM_BRANDS" => f.brands = Some(PathBuf::from(v)),
                "ANSIM_TRANSACTIONS_MODEL" => f.transactions_model = Some(PathBuf::from(v)),
                "ANSIM_STORE" => f.store = Some(v),
                "ANSIM_REDIS" => f.redis = Some(v),
                "ANSIM_NATS" => f.nats = Some(v),
                "ANSIM_GROUP_KEY_FILE" => f.group_key_file = Some(PathBuf::from(v)),
                _ => return Err(format!("unknown environment variable {k} (known: {})", ENV_VARS.join(", "))),
            }
        }
        c.apply(f);
        if c.snapshot_every == 0 || c.max_batch == 0 || c.max_batch_events == 0 {
            return Err("snapshot_every, max_batch and max_batch_events must be at least 1".into());
        }
        address(
            "store",
            c.store.as_deref(),
            &["postgres://", "postgresql://"],
            " (leave store out for the embedded SQLite store in data)",
        )?;
        address("redis", c.redis.as_deref(), &["redis://", "rediss://"], "")?;
        address("nats", c.nats.as_deref(), &["nats://", "tls://"], "")?;
        if c.nats.is_some() && c.store.is_none() {
            return Err(
                "nats: nodes that propagate changes need a shared store too; set store = \"postgres://…\"".into()
            );
        }
        if c.redis.is_some() && c.store.is_none() {
            return Err("redis: shared features need a shared store too; set store = \"postgres://…\" (an embedded \
                        SQLite store has one node, which counts its features itself)"
                .into());
        }
        Ok(c)
    }

    fn apply(&mut self, f: File) {
        if let Some(v) = f.listen {
            self.listen = v;
        }
        if let Some(v) = f.data {
            self.data = v;
        }
        if let Some(v) = f.log {
            self.log = v;
        }
        if let Some(v) = f.snapshot_every {
            self.snapshot_every = v;
        }
        if let Some(v) = f.snapshot_min_secs {
            self.snapshot_min_interval = Duration::from_secs(v);
        }
        if let Some(v) = f.max_batch {
            self.max_batch = v;
        }
        if let Some(v) = f.max_batch_events {
            self.max_batch_events = v;
        }
        if let Some(v) = f.request_timeout_secs {
            self.request_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.max_connections {
            self.max_connections = Some(v.max(1));
        }
        if let Some(v) = f.idle_timeout_secs {
            self.idle_timeout = Duration::from_secs(v.max(1));
        }
        if let Some(v) = f.header_read_timeout_secs {
            self.header_read_timeout = Duration::from_secs(v.max(1));
        }
        if let Some(v) = f.live_page {
            self.live_page = v;
        }
        if let Some(v) = f.open_metrics {
            self.open_metrics = v;
        }
        if let Some(v) = f.max_event_age_days {
            self.max_event_age_days = v.max(1);
        }
        if let Some(v) = f.allow_private_webhooks {
            self.allow_private_webhooks = v;
        }
        if let Some(v) = f.messages_model {
            self.messages_model = Some(v);
        }
        if let Some(v) = f.urls_model {
            self.urls_model = Some(v);
        }
        if let Some(v) = f.brands {
            self.brands = Some(v);
        }
        if let Some(v) = f.transactions_model {
            self.transactions_model = Some(v);
        }
        if let Some(v) = f.store {
            self.store = Some(v);
        }
        if let Some(v) = f.redis {
            self.redis = Some(v);
        }
        if let Some(v) = f.nats {
            self.nats = Some(v);
        }
        if let Some(v) = f.group_key_file {
            self.group_key_file = Some(v);
        }
    }

    /// The application's settings.
    pub fn app_config(&self) -> app::AppConfig {
        let mut a = app::AppConfig::new(&self.data);
        a.snapshot_every = self.snapshot_every;
        a.snapshot_min_interval = self.snapshot_min_interval;
        a.max_batch = self.max_batch;
        a.messages_model = self.messages_model.clone();
        a.urls_model = self.urls_model.clone();
        a.brands = self.brands.clone();
        a.transactions_model = self.transactions_model.clone();
        a.max_event_age_ms = self.max_event_age_days.saturating_mul(86_400_000);
        a.allow_private_webhooks = self.allow_private_webhooks;
        a.group_key_file = self.group_key_file.clone();
        a
    }

    /// The HTTP server's settings. Raises the process's open-file limit first (where the OS
    /// allows), since the connection cap is derived from it.
    pub fn options(&self) -> ansim_http::Options {
        let cap = crate::fdlimit::connection_cap(self.max_connections, crate::fdlimit::raise());
        ansim_http::Options {
            limits: ansim_http::conn::Limits {
                max_connections: cap,
                idle_timeout: self.idle_timeout,
                header_read_timeout: self.header_read_timeout,
            },
            max_batch_events: self.max_batch_events,
            request_timeout: self.request_timeout,
            live_page: self.live_page,
            open_metrics: self.open_metrics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ansim.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nsnapshot_every = 10\nsnapshot_min_secs = 5\n").unwrap();
        let c = Config::load_from(Some(&file), env(&[("ANSIM_SNAPSHOT_EVERY", "20"), ("PATH", "x")])).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.snapshot_every, 20);
        assert_eq!(c.snapshot_min_interval, std::time::Duration::from_secs(5));
        assert_eq!(c.app_config().snapshot_min_interval, std::time::Duration::from_secs(5));
        assert_eq!(c.max_batch_events, 1_000);
        assert_eq!(Config::load_from(None, env(&[])).unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ansim.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n").unwrap();
        let e = Config::load_from(Some(&file), env(&[])).unwrap_err();
        assert!(e.contains("listen_addr") && e.contains(":2:1:"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let e = Config::load_from(None, env(&[("ANSIM_DATADIR", "x")])).unwrap_err();
        assert!(e.contains("ANSIM_DATADIR"), "{e}");
        let e = Config::load_from(None, env(&[("ANSIM_MAX_BATCH", "many")])).unwrap_err();
        assert!(e.contains("ANSIM_MAX_BATCH"), "{e}");
    }

    /// Regression: a variable meant for the test or benchmark tools (`ANSIM_TEST_POSTGRES`,
    /// `ANSIM_CHROMIUM`, `ANSIM_BENCH_EVENTS`), exported in a developer's shell, stopped every
    /// `ansim` the tests start. They are the tools' own and are not read; a misspelt server
    /// variable is still an error.
    #[test]
    fn the_tools_own_variables_are_left_to_them() {
        let tools = env(&[
            ("ANSIM_TEST_POSTGRES", "postgres://x"),
            ("ANSIM_CHROMIUM", "/usr/bin/chromium"),
            ("ANSIM_BENCH_EVENTS", "200000"),
        ]);
        assert_eq!(Config::load_from(None, tools).unwrap(), Config::default());
        assert!(Config::load_from(None, env(&[("ANSIM_TESTS", "x")])).is_err());
    }

    #[test]
    fn the_store_is_postgres_or_left_out() {
        let c = Config::load_from(None, env(&[("ANSIM_STORE", "postgres://u@h:5432/db")])).unwrap();
        assert_eq!(c.store.as_deref(), Some("postgres://u@h:5432/db"));
        let e = Config::load_from(None, env(&[("ANSIM_STORE", "mysql://h/db")])).unwrap_err();
        assert!(e.starts_with("store:") && e.contains("mysql://h/db"), "{e}");
    }

    #[test]
    fn a_node_names_its_shared_services() {
        let node = env(&[
            ("ANSIM_STORE", "postgres://u@h/db"),
            ("ANSIM_REDIS", "redis://h:6379"),
            ("ANSIM_GROUP_KEY_FILE", "/etc/ansim/group.key"),
        ]);
        let c = Config::load_from(None, node).unwrap();
        assert_eq!(c.redis.as_deref(), Some("redis://h:6379"));
        assert_eq!(c.app_config().group_key_file, Some(std::path::PathBuf::from("/etc/ansim/group.key")));
        let e = Config::load_from(None, env(&[("ANSIM_STORE", "postgres://u@h/db"), ("ANSIM_REDIS", "h:6379")]))
            .unwrap_err();
        assert!(e.starts_with("redis:") && e.contains("h:6379"), "{e}");
        let e = Config::load_from(None, env(&[("ANSIM_REDIS", "redis://h:6379")])).unwrap_err();
        assert!(e.starts_with("redis:") && e.contains("store"), "{e}");
        let c = Config::load_from(None, env(&[("ANSIM_STORE", "postgres://u@h/db"), ("ANSIM_NATS", "nats://h:4222")]))
            .unwrap();
        assert_eq!(c.nats.as_deref(), Some("nats://h:4222"));
        let e = Config::load_from(None, env(&[("ANSIM_STORE", "postgres://u@h/db"), ("ANSIM_NATS", "h:4222")]))
            .unwrap_err();
        assert!(e.starts_with("nats:") && e.contains("h:4222"), "{e}");
    }
}

//! The `ansim` command line: `serve`, `demo`, `replay`, `rules check`, `keys create` and
//! `affiliates add`. Each subcommand is a thin shell over the library; an error reaches the
//! user as one line on stderr and a non-zero exit code.

use ansim::config::Config;
use ansim::read_text as read;
use ansim::{demo, replay};
use ansim_http::Server;
use app::{App, AppError, Scope};
use clap::{Parser, Subcommand};
use domain::AffiliateId;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

// The request path allocates many small short-lived objects (JSON, decisions); mimalloc's
// thread-local free lists cut allocator time there noticeably (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ansim", version, about = "ansim (안심): real-time fraud decisions for a group of financial services")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Data directory [default: ansim-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Configuration file (TOML); `ANSIM_*` variables and flags override it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Five sample affiliates, simulated traffic with scam stories, and a live page at `/`.
    Demo {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Data directory [default: a new temporary directory, removed on exit].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Simulated events per second (0: none, e.g. while load-testing).
        #[arg(long, value_name = "EVENTS_PER_SEC", default_value_t = 50.0)]
        rate: f64,
        /// Configuration file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// First seed the 365 days before today with a simulated year (holiday lures, waves),
        /// decided as it would have been, for trends and the yearly report.
        #[arg(long)]
        seed_year: bool,
    },
    /// Decide on events from a JSONL file in process (no server, no store) and write decisions.
    Replay {
        /// Events, one JSON object per line.
        #[arg(value_name = "EVENTS.jsonl")]
        events: PathBuf,
        /// Ruleset file [default: the sample ruleset].
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Where to write decisions, one JSON object per line [default: stdout].
        #[arg(long, value_name = "DECISIONS.jsonl")]
        out: Option<PathBuf>,
    },
    /// Load-test a running server over HTTP with simulated events and print throughput and
    /// latency percentiles.
    Load {
        /// Server address; repeat for several nodes (connections are spread over them).
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
        addr: Vec<String>,
        /// The `demo-keys.json` of the server's data directory (affiliate → key).
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
        /// Events to send.
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Stop after this many seconds even if events remain.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Work with ruleset files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage affiliates (tenants).
    #[command(subcommand)]
    Affiliates(AffiliatesCommand),
    /// Manage the people who log in to the console.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Work with the group's indicator registry.
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
    /// Replay events through the active ruleset and a draft and show what the draft would
    /// change (newly held or blocked, newly let through, by rule; precision and recall with
    /// labels). The last line is JSON.
    Backtest {
        /// The draft ruleset.
        #[arg(long, value_name = "DRAFT.toml")]
        rules: PathBuf,
        /// Events, one JSON object per line.
        #[arg(long, value_name = "EVENTS.jsonl")]
        events: PathBuf,
        /// The ruleset to compare against [default: the sample ruleset].
        #[arg(long, value_name = "ACTIVE.toml")]
        active: Option<PathBuf>,
        /// Labels, one JSON object per line: `{"id", "fraud": bool}` or `{"id", "scenario"}`.
        #[arg(long, value_name = "LABELS.jsonl")]
        labels: Option<PathBuf>,
    },
    /// Check the case audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write reports from the store (it runs beside a server on the same data).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Prepare the configured store: create or upgrade its schema (PostgreSQL, under a lock,
    /// so nodes starting together migrate once; or the embedded SQLite file) and print the
    /// schema version.
    Migrate {
        /// Data directory (for the embedded store) [default: ansim-data].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Configuration file (TOML); `store` or `ANSIM_STORE` names PostgreSQL.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Train a message or URL model from labelled files (with k-fold cross-validation first).
    Train {
        /// `messages` (TSV: Label, SMS, more columns allowed; or a CSV of ordinary messages
        /// with a `Q` column), `urls` (CSV: url ... status) or `transactions`.
        #[arg(value_enum)]
        kind: ansim::learn::Kind,
        /// A labelled file; repeat to train on several. Message rows whose `licence` column is
        /// non-commercial are left out.
        #[arg(long, value_name = "FILE", required = true)]
        input: Vec<PathBuf>,
        /// Where to write the model.
        #[arg(long, value_name = "MODEL")]
        out: PathBuf,
        /// Cross-validation folds before the final training (0: none).
        #[arg(long, default_value_t = 5)]
        folds: usize,
    },
    /// Measure the analysis as served (or a URL model) on files; the last line is JSON.
    /// `analyzer` (alias `messages`) prints recall per `typology` when the file has that column;
    /// `--cv K --group-by source` measures by grouped cross-validation instead, training the
    /// message model anew for every fold.
    Eval {
        /// `analyzer` or `messages` (TSV: Label, SMS, more columns allowed), `urls`, `benign`
        /// (a file of ordinary messages: every flag is a false alarm) or `transactions`.
        #[arg(value_enum)]
        kind: ansim::learn::Kind,
        /// A model written by `ansim train` [default: the built-in one].
        #[arg(long, value_name = "MODEL")]
        model: Option<PathBuf>,
        /// The file to measure on; repeat to measure on several together.
        #[arg(long, value_name = "FILE", required = true)]
        input: Vec<PathBuf>,
        /// For `benign`: the column holding the messages.
        #[arg(long, value_name = "NAME", default_value = "Q")]
        column: String,
        /// Cross-validate with this many folds: every fold's risks come from an analyzer whose
        /// message model was trained without that fold.
        #[arg(long, value_name = "K")]
        cv: Option<usize>,
        /// With --cv: keep rows sharing this column's value in one fold (`source`); rows with
        /// the same text always share a fold.
        #[arg(long, value_name = "COLUMN")]
        group_by: Option<String>,
        /// With --cv: a labelled file every fold also trains on (never measured); repeatable.
        #[arg(long, value_name = "FILE")]
        train: Vec<PathBuf>,
        /// With --cv: the seed of the fold assignment.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print every missed scam and false alarm with what the analysis saw.
        #[arg(long)]
        errors: bool,
        /// Count a message as flagged from this risk instead of the served threshold (50), to
        /// read a trade-off (recall against chat false alarms) off one command.
        #[arg(long, value_name = "RISK", value_parser = clap::value_parser!(u8).range(0..=100))]
        threshold: Option<u8>,
    },
}

#[derive(Subcommand)]
enum IndicatorsCommand {
    /// Import reports from a CSV file (`kind,value,typology[,status]`, optional header line):
    /// every row is checked first; bad rows are listed by line number and nothing is imported.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The reporting affiliate.
        #[arg(long, value_name = "ID")]
        affiliate: String,
        /// Data directory [default: from the configuration, else ansim-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Configuration file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The yearly financial-safety report: `DIR/index.html` (Korean), `DIR/index.en.html`
    /// (English) with charts, and `DIR/report.pdf` when Chromium is installed.
    Yearly {
        /// The year, e.g. 2026.
        #[arg(long)]
        year: i32,
        /// Where to write it.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Data directory [default: ansim-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Configuration file (TOML); `store` or `ANSIM_STORE` names PostgreSQL.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit log's hash chain; fails naming the first row that was edited,
    /// removed or inserted behind the application's back.
    Verify {
        /// Data directory [default: ansim-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Configuration file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Compile a ruleset and print every problem with its line and column; exit 1 on errors.
    Check {
        /// The ruleset file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Issue an API key for an affiliate and print it (it is shown only once).
    Create {
        /// Data directory [default: from the configuration, else ansim-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The affiliate the key belongs to.
        #[arg(long, value_name = "ID")]
        affiliate: String,
        /// A scope: decide, rules:write, admin or cases (the group's case work); repeat for
        /// several [default: decide].
        #[arg(long = "scope", value_name = "SCOPE", value_parser = parse_scope)]
        scopes: Vec<Scope>,
        /// Configuration file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// List an affiliate's keys: prefix, scopes, whether revoked (never a key).
    List {
        /// Data directory [default: from the configuration, else ansim-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The affiliate.
        #[arg(long, value_name = "ID")]
        affiliate: String,
        /// Configuration file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Revoke an affiliate's key by its prefix; a server on the same data refuses it within a
    /// second.
    Revoke {
        /// The key's prefix, as `keys list` shows it.
        prefix: String,
        /// Data directory [default: from the configuration, else ansim-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The affiliate.
        #[arg(long, value_name = "ID")]
        affiliate: String,
        /// Configuration file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// Where a command finds the data and its configuration.
#[derive(clap::Args)]
struct DataArgs {
    /// Data directory [default: from the configuration, else ansim-data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a person. The password is read from the first line of standard input with
    /// `--password-stdin`; otherwise a random one is printed once.
    Add {
        /// Login name: 3 to 64 lowercase letters, digits, '.', '_' or '-'.
        username: String,
        /// The affiliate the person works for.
        #[arg(long, value_name = "ID")]
        affiliate: String,
        /// analyst, affiliate_admin or group_admin (the latter in the affiliate `group` only).
        #[arg(long, value_parser = parse_role)]
        role: app::people::Role,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        at: DataArgs,
    },
    /// Set a person's password (read as for `add`); every session of theirs ends.
    Passwd {
        /// Login name.
        username: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        at: DataArgs,
    },
    /// Disable a person: no login, every session ends (`--enable` undoes it).
    Disable {
        /// Login name.
        username: String,
        /// Enable the person again instead.
        #[arg(long)]
        enable: bool,
        #[command(flatten)]
        at: DataArgs,
    },
    /// Turn a person's TOTP second factor off (a lost phone); they can turn it on again from
    /// their account page.
    ResetTotp {
        /// Login name.
        username: String,
        #[command(flatten)]
        at: DataArgs,
    },
    /// List people: name, affiliate, role, state.
    List {
        #[command(flatten)]
        at: DataArgs,
    },
}

fn parse_role(s: &str) -> Result<app::people::Role, String> {
    app::people::Role::parse(s).ok_or_else(|| {
        format!("unknown role {s:?}; use one of {}", app::people::Role::ALL.map(|r| r.as_str()).join(", "))
    })
}

#[derive(Subcommand)]
enum AffiliatesCommand {
    /// Create an affiliate and publish its first ruleset (if it has none yet).
    Add {
        /// The affiliate's id, used in events and keys.
        id: String,
        /// Display name [default: the id].
        #[arg(long)]
        name: Option<String>,
        /// First ruleset [default: the sample ruleset].
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Data directory [default: from the configuration, else ansim-data].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Configuration file (TOML).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s)
        .ok_or_else(|| format!("unknown scope {s:?}; use one of {}", Scope::ALL.map(Scope::as_str).join(", ")))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { listen, data, config } => serve(listen, data, config),
        Command::Demo { listen, data, rate, config, seed_year } => run_demo(listen, data, rate, config, seed_year),
        Command::Replay { events, rules, out } => run_replay(&events, rules.as_deref(), out.as_deref()),
        Command::Load { addr, keys, events, connections, seconds } => {
            run_load(&addr, &keys, events, connections, seconds)
        }
        Command::Rules(RulesCommand::Check { file }) => return check_rules(&file),
        Command::Keys(KeysCommand::Create { data, affiliate, scopes, config }) => {
            create_key(data, &affiliate, scopes, config)
        }
        Command::Keys(KeysCommand::List { data, affiliate, config }) => list_keys(data, &affiliate, config),
        Command::Users(cmd) => users(cmd),
        Command::Keys(KeysCommand::Revoke { prefix, data, affiliate, config }) => {
            revoke_key(data, &affiliate, &prefix, config)
        }
        Command::Indicators(IndicatorsCommand::Import { file, affiliate, data, config }) => {
            import_indicators(&file, &affiliate, data, config)
        }
        Command::Audit(AuditCommand::Verify { data, config: cfg }) => audit_verify(data, cfg),
        Command::Migrate { data, config: cfg } => migrate(data, cfg),
        Command::Report(ReportCommand::Yearly { year, out, data, config: cfg }) => yearly_report(year, &out, data, cfg),
        Command::Backtest { rules, events, active, labels } => {
            ansim::backtest::run(&rules, &events, active.as_deref(), labels.as_deref()).map(|_| ())
        }
        Command::Train { kind, input, out, folds } => ansim::learn::train(kind, &input, &out, folds),
        Command::Eval { kind, model, input, column, cv, group_by, train, seed, errors, threshold } => {
            let o =
                ansim::learn::EvalOptions { model, column: Some(column), cv, group_by, train, seed, errors, threshold };
            ansim::learn::eval(kind, &input, &o).map(|_| ())
        }
        Command::Affiliates(AffiliatesCommand::Add { id, name, rules, data, config }) => {
            add_affiliate(&id, name, rules.as_deref(), data, config)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ansim: {}", e.trim_end());
            ExitCode::FAILURE
        }
    }
}

/// The configuration with the command's flags applied.
fn config(file: Option<PathBuf>, listen: Option<String>, data: Option<PathBuf>) -> Result<Config, String> {
    let mut c = Config::load(file.as_deref())?;
    if let Some(l) = listen {
        c.listen = l;
    }
    if let Some(d) = data {
        c.data = d;
    }
    Ok(c)
}

fn init_logging(filter: &str) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| format!("log filter {filter:?}: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))
}

fn open_app(c: &Config) -> Result<Arc<App>, String> {
    open_node(c, None)
}

/// Opens the store and starts the application; with `shared`, as one of several nodes.
fn open_node(c: &Config, shared: Option<app::Shared>) -> Result<Arc<App>, String> {
    match &c.store {
        // PostgreSQL as the store; the data directory keeps the group key (and the lock).
        Some(url) => {
            let pg = store_postgres::PgStore::open(url).map_err(|e| format!("cannot open the store: {e}"))?;
            App::open_node(Arc::new(pg), c.app_config(), shared).map_err(|e| format!("cannot start on PostgreSQL: {e}"))
        }
        None => App::open(c.app_config()).map_err(|e| format!("cannot open the store in {}: {e}", c.data.display())),
    }
}

/// This process's name among the nodes.
fn node_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!("{host}/{}", std::process::id())
}

/// Connects to the services several nodes share (Redis), if configured; the error names the
/// service and its address.
async fn connect_shared(c: &Config, node: &str) -> Result<Option<app::Shared>, String> {
    let Some(url) = &c.redis else { return Ok(None) };
    let features = signals_redis::RedisFeatures::connect(url).await.map_err(|e| format!("cannot start: {e}"))?;
    Ok(Some(app::Shared { features, node: node.to_string() }))
}

/// Connects to NATS and subscribes to the other nodes' changes, if configured (before the
/// store is read, so nothing committed meanwhile is missed).
async fn connect_bus(c: &Config, node: &str) -> Result<Option<(Arc<ansim::bus::Bus>, u64)>, String> {
    let Some(url) = &c.nats else { return Ok(None) };
    let bus = ansim::bus::Bus::connect(url, node).await.map_err(|e| format!("cannot start: {e}"))?;
    let messages = bus.subscribe().await.map_err(|e| format!("cannot start: {e}"))?;
    Ok(Some((Arc::new(bus), messages)))
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))
}

async fn close(app: Arc<App>) {
    let _ = tokio::task::spawn_blocking(move || app.shutdown()).await;
}

fn serve(listen: Option<String>, data: Option<PathBuf>, file: Option<PathBuf>) -> Result<(), String> {
    let c = config(file, listen, data)?;
    init_logging(&c.log)?;
    runtime()?.block_on(async {
        let _lock = ansim::DataLock::acquire(&c.data)?;
        let node = node_name();
        let shared = connect_shared(&c, &node).await?;
        let bus = connect_bus(&c, &node).await?;
        // Opening reads the store (PostgreSQL's client blocks on its own runtime): off the
        // executor's hands.
        let app = tokio::task::block_in_place(|| open_node(&c, shared))?;
        if let Some((bus, from)) = bus {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            app.send_changes_to(tx);
            let probe = Arc::clone(&bus);
            app.watch_dependency("nats", Box::new(move || probe.state()));
            tokio::spawn(Arc::clone(&bus).publish(rx));
            tokio::spawn(bus.apply(Arc::clone(&app), from));
        }
        let affiliates = tokio::task::block_in_place(|| app.affiliates()).map_err(|e| e.to_string())?;
        if affiliates.is_empty() {
            tracing::warn!("no affiliates yet: add one with `ansim affiliates add ID` or run `ansim demo --data DIR`");
        }
        let listener = bind(&c.listen).await?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let options = c.options();
        let max_connections = options.limits.max_connections;
        let server = Server::new(Arc::clone(&app), options);
        // One plain line on stdout for scripts and tests (port 0 picks a free port).
        println!("listening on http://{addr}");
        tracing::info!(%addr, data = %c.data.display(), affiliates = affiliates.len(), max_connections, "ansim serving");
        let (stop_workers, workers_rx) = tokio::sync::watch::channel(false);
        let workers = tokio::spawn(ansim_http::workers(Arc::clone(&app), workers_rx));
        let served = ansim_http::serve(server, listener, ansim_http::shutdown_signal()).await;
        tracing::info!("stopped accepting requests; saving state");
        let _ = stop_workers.send(true);
        let _ = workers.await;
        close(app).await;
        served.map_err(|e| format!("server failed: {e}"))
    })
}

fn run_demo(
    listen: Option<String>,
    data: Option<PathBuf>,
    rate: f64,
    file: Option<PathBuf>,
    seed_year: bool,
) -> Result<(), String> {
    if !(rate.is_finite() && rate >= 0.0) {
        return Err(format!("--rate must be a number of events per second (0: no simulated traffic), got {rate}"));
    }
    let temp = data.is_none();
    let dir = match data {
        Some(d) => d,
        None => {
            std::env::temp_dir().join(format!("ansim-demo-{}-{}", std::process::id(), demo::clock_seed() % 1_000_000))
        }
    };
    let mut c = config(file, listen, Some(dir.clone()))?;
    c.live_page = true;
    init_logging(&c.log)?;
    let result = runtime()?.block_on(demo_main(&c, rate, seed_year));
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// The event the demo suggests sending with curl.
const TRY_EVENT: &str = r#"{"id":"try-1","kind":"transfer","at":"2026-11-26T02:14:05+09:00","subject":{"id":"u_8812","age_band":"60s"},"device":{"id":"d_77","new_for_subject":true,"remote_control_app":true},"transfer":{"amount":4800000,"counterparty":{"bank":"088","account":"110-123-456789"},"balance_before":5100000}}"#;

async fn demo_main(c: &Config, rate: f64, seed_year: bool) -> Result<(), String> {
    let _lock = ansim::DataLock::acquire(&c.data)?;
    let app = tokio::task::block_in_place(|| open_app(c))?;
    tokio::task::block_in_place(|| demo::setup(&app, &c.data))?;
    let listener = bind(&c.listen).await?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = Server::new(Arc::clone(&app), c.options());
    if seed_year {
        let started = std::time::Instant::now();
        println!("seeding the 365 days before today ...");
        let (n, reports) = demo::seed_year(Arc::clone(&server), demo::clock_seed()).await?;
        println!("  seeded {n} events and {reports} victims' reports in {:.0} s", started.elapsed().as_secs_f64());
    }
    let dir = c.data.display();
    println!(
        "ansim demo: {} affiliates ({}) and the safety table (group) with the sample ruleset",
        demo::AFFILIATES.len(),
        demo::AFFILIATES.map(|a| a.0).join(", ")
    );
    println!("  live page   http://{addr}/");
    println!("  console     http://{addr}/console   (users and passwords in {dir}/demo-users.json)");
    println!("  API         http://{addr}/openapi.json   http://{addr}/metrics (the group's admin key)");
    println!("  data        {dir}   (keys with every scope in {dir}/demo-keys.json)");
    println!("  traffic     {rate} events/s, normal use with scam stories; Ctrl-C stops");
    println!();
    println!("  KEY=$(jq -r .pay {dir}/demo-keys.json)");
    println!(
        "  curl -s http://{addr}/v1/events -H \"Authorization: Bearer $KEY\" -H \"Content-Type: application/json\" -d '{TRY_EVENT}'"
    );
    let receiver = {
        let (app, base) = (Arc::clone(&app), format!("http://{addr}"));
        tokio::task::spawn_blocking(move || demo::webhooks(&app, &base)).await.map_err(|e| e.to_string())??
    };
    println!("  webhooks    http://{addr}/demo/webhooks   (follow-up actions as the affiliates receive them)");
    println!("  report      http://{addr}/report   (the 24-hour channel for victims)");
    let (stop_traffic, traffic_rx) = tokio::sync::watch::channel(false);
    let traffic = tokio::spawn(demo::traffic(Arc::clone(&server), rate, demo::clock_seed(), traffic_rx.clone()));
    let workers = tokio::spawn(ansim_http::workers(Arc::clone(&app), traffic_rx.clone()));
    let casework = tokio::spawn(demo::casework(Arc::clone(&server), rate, traffic_rx));
    let (stop_http, http_rx) = tokio::sync::oneshot::channel::<()>();
    let mut http =
        tokio::spawn(ansim_http::serve_with(Arc::clone(&server), listener, Some(receiver.router()), async move {
            let _ = http_rx.await;
        }));
    let early = tokio::select! {
        () = ansim_http::shutdown_signal() => None,
        r = &mut http => Some(r),
    };
    println!("\nstopping: traffic generator, then the HTTP server, then the store");
    let _ = stop_traffic.send(true);
    let sent = traffic.await.unwrap_or(0);
    let _ = casework.await;
    let _ = workers.await;
    let served = match early {
        Some(r) => r,
        None => {
            let _ = stop_http.send(());
            http.await
        }
    };
    close(app.clone()).await;
    let counts = app.metrics().verdict_counts().map(|(v, n)| format!("{v} {n}")).join(", ");
    println!("sent {sent} events; verdicts: {counts}");
    match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("server failed: {e}")),
        Err(e) => Err(format!("server task failed: {e}")),
    }
}

fn run_replay(events: &Path, rules: Option<&Path>, out: Option<&Path>) -> Result<(), String> {
    let (text, name) = match rules {
        Some(p) => (read(p)?, p.display().to_string()),
        None => (demo::SAMPLE_RULESET.to_string(), "sample ruleset".to_string()),
    };
    let snap = match replay::compile(&text, &name) {
        Ok(s) => s,
        Err(rendered) => {
            eprintln!("{rendered}");
            return Err(format!("{name} does not compile"));
        }
    };
    let summary = match out {
        Some(p) => {
            let mut f = std::fs::File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            let s = replay::run(&snap, events, &mut f, true)?;
            print!("{}", s.render(&snap.label));
            s
        }
        None => {
            let s = replay::run(&snap, events, &mut std::io::stdout().lock(), true)?;
            eprint!("{}", s.render(&snap.label));
            s
        }
    };
    if summary.events == 0 {
        return Err(format!("{} has no events", events.display()));
    }
    Ok(())
}

fn check_rules(file: &Path) -> ExitCode {
    let text = match read(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ansim: {e}");
            return ExitCode::from(2);
        }
    };
    let name = file.display().to_string();
    match engine::Snapshot::compile(&text) {
        Ok(s) => {
            println!("{name}: {} with {} rules and {} features", s.label, s.rules.len(), s.features.len());
            ExitCode::SUCCESS
        }
        Err(diags) => {
            for d in &diags {
                eprint!("{}", d.render(&name, &text));
            }
            eprintln!("{name}: {} error(s)", diags.len());
            ExitCode::FAILURE
        }
    }
}

fn create_key(
    data: Option<PathBuf>,
    affiliate: &str,
    mut scopes: Vec<Scope>,
    file: Option<PathBuf>,
) -> Result<(), String> {
    let c = config(file, None, data)?;
    existing_store(&c)?;
    let app = open_app(&c)?;
    let known = app.affiliates().map_err(|e| e.to_string())?;
    if !known.iter().any(|a| a.id.as_str() == affiliate) {
        let names: Vec<&str> = known.iter().map(|a| a.id.as_str()).collect();
        return Err(format!(
            "unknown affiliate {affiliate:?} in {} (known: {}); add it with `ansim affiliates add {affiliate}`",
            c.data.display(),
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        ));
    }
    if scopes.is_empty() {
        scopes.push(Scope::Decide);
    }
    scopes.sort();
    scopes.dedup();
    let key = app.create_key(&AffiliateId(affiliate.into()), &scopes).map_err(|e| e.to_string())?;
    app.shutdown();
    eprintln!(
        "key for {affiliate} with scopes {} (shown only once):",
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    );
    println!("{key}");
    Ok(())
}

/// A password from the first line of standard input, or a new random one (`None`).
fn password_input(from_stdin: bool) -> Result<Option<String>, String> {
    if !from_stdin {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// `ansim users ...`.
fn users(cmd: UsersCommand) -> Result<(), String> {
    use app::people::Actor;
    let at = match &cmd {
        UsersCommand::Add { at, .. }
        | UsersCommand::Passwd { at, .. }
        | UsersCommand::Disable { at, .. }
        | UsersCommand::ResetTotp { at, .. }
        | UsersCommand::List { at } => at,
    };
    let c = config(at.config.clone(), None, at.data.clone())?;
    existing_store(&c)?;
    let app = open_app(&c)?;
    let out = match cmd {
        UsersCommand::Add { username, affiliate, role, password_stdin, .. } => {
            let given = password_input(password_stdin)?;
            let password = given.clone().unwrap_or_else(app::people::new_password);
            app.add_person(Actor::Operator, &username, &AffiliateId(affiliate.clone()), role, &password).map(|_| {
                eprintln!("added {username} ({}) at {affiliate}", role.as_str());
                if given.is_none() {
                    eprintln!("password (shown only once):");
                    println!("{password}");
                }
            })
        }
        UsersCommand::Passwd { username, password_stdin, .. } => {
            let given = password_input(password_stdin)?;
            let password = given.clone().unwrap_or_else(app::people::new_password);
            app.set_password(Actor::Operator, &username, &password).map(|()| {
                eprintln!("password of {username} changed; their sessions ended");
                if given.is_none() {
                    eprintln!("new password (shown only once):");
                    println!("{password}");
                }
            })
        }
        UsersCommand::Disable { username, enable, .. } => app
            .set_disabled(Actor::Operator, &username, !enable)
            .map(|()| eprintln!("{username} {}", if enable { "enabled" } else { "disabled; their sessions ended" })),
        UsersCommand::ResetTotp { username, .. } => {
            app.reset_totp(Actor::Operator, &username).map(|()| eprintln!("the second factor of {username} is off"))
        }
        UsersCommand::List { .. } => app.all_people().map(|people| {
            for p in people {
                let state = if p.disabled {
                    "disabled"
                } else if p.locked_until_ms > app::now_ms() {
                    "locked"
                } else {
                    "active"
                };
                let totp = if p.totp { "totp" } else { "" };
                println!("{:<24} {:<12} {:<16} {totp:<5} {state}", p.username, p.affiliate, p.role.as_str());
            }
        }),
    };
    app.shutdown();
    out.map_err(|e| e.to_string())
}

/// The affiliate's administrator, as the command line acts: the operator of the data directory.
fn operator(affiliate: &str) -> app::Principal {
    app::Principal { affiliate: AffiliateId(affiliate.into()), scopes: vec![Scope::Admin], name: "cli".into() }
}

fn list_keys(data: Option<PathBuf>, affiliate: &str, cfg: Option<PathBuf>) -> Result<(), String> {
    let c = config(cfg, None, data)?;
    existing_store(&c)?;
    let app = open_app(&c)?;
    let keys = app.list_keys(&operator(affiliate)).map_err(|e| e.to_string())?;
    for k in &keys {
        let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
        println!("{}  {:<30} {}", k.prefix, scopes.join(","), if k.revoked { "revoked" } else { "active" });
    }
    if keys.is_empty() {
        eprintln!("no keys for {affiliate}");
    }
    Ok(())
}

fn revoke_key(data: Option<PathBuf>, affiliate: &str, prefix: &str, cfg: Option<PathBuf>) -> Result<(), String> {
    let c = config(cfg, None, data)?;
    existing_store(&c)?;
    let app = open_app(&c)?;
    app.revoke_key(&operator(affiliate), prefix).map_err(|e| e.to_string())?;
    app.shutdown();
    println!("revoked {prefix} of {affiliate}");
    Ok(())
}

fn migrate(data: Option<PathBuf>, cfg: Option<PathBuf>) -> Result<(), String> {
    let c = config(cfg, None, data)?;
    match &c.store {
        Some(url) => {
            let pg = store_postgres::PgStore::open(url).map_err(|e| format!("cannot migrate the store: {e}"))?;
            println!("PostgreSQL store at schema version {}", pg.schema_version().map_err(|e| e.to_string())?);
        }
        None => {
            std::fs::create_dir_all(&c.data).map_err(|e| format!("{}: {e}", c.data.display()))?;
            let path = c.data.join("ansim.db");
            let s = store::sqlite::SqliteStore::open(&path)
                .map_err(|e| format!("cannot migrate {}: {e}", path.display()))?;
            println!(
                "SQLite store {} at schema version {}",
                path.display(),
                s.schema_version().map_err(|e| e.to_string())?
            );
        }
    }
    Ok(())
}

fn yearly_report(year: i32, out: &Path, data: Option<PathBuf>, cfg: Option<PathBuf>) -> Result<(), String> {
    if !(1970..=9999).contains(&year) {
        return Err(format!("--year: {year} is not a year between 1970 and 9999"));
    }
    let c = config(cfg, None, data)?;
    existing_store(&c)?;
    // The store alone, not the application: no lock is taken, so a server may run on it.
    let store: Box<dyn store::Store> = match &c.store {
        Some(url) => Box::new(store_postgres::PgStore::open(url).map_err(|e| e.to_string())?),
        None => Box::new(store::sqlite::SqliteStore::open(&c.data.join("ansim.db")).map_err(|e| e.to_string())?),
    };
    let figures = app::report::year_figures(&*store, year).map_err(|e| format!("cannot read the trends: {e}"))?;
    for path in ansim_http::yearly::write(&figures, out)? {
        println!("wrote {path}");
    }
    Ok(())
}

fn audit_verify(data: Option<PathBuf>, cfg: Option<PathBuf>) -> Result<(), String> {
    let c = config(cfg, None, data)?;
    existing_store(&c)?;
    let app = open_app(&c)?;
    match app.verify_audit().map_err(|e| e.to_string())? {
        Ok(n) => {
            println!("audit log intact: {n} rows, hash chain verified");
            Ok(())
        }
        Err((seq, why)) => Err(format!("audit row {seq}: {why}")),
    }
}

fn import_indicators(file: &Path, affiliate: &str, data: Option<PathBuf>, cfg: Option<PathBuf>) -> Result<(), String> {
    let text = read(file)?;
    let c = config(cfg, None, data)?;
    existing_store(&c)?;
    // A running server holds the registry in memory: rows written behind its back would not
    // reach its decisions until a restart, so the import goes through its API instead.
    if ansim::DataLock::held_elsewhere(&c.data) {
        return Err(format!(
            "a server is running on {}: import through it with POST /v1/indicators:import (the same CSV, \
             an admin or decide key of {affiliate})",
            c.data.display()
        ));
    }
    let app = open_app(&c)?;
    let a = AffiliateId(affiliate.into());
    if !app.affiliates().map_err(|e| e.to_string())?.iter().any(|x| x.id == a) {
        return Err(format!("no affiliate {affiliate:?}; add it with `ansim affiliates add {affiliate}`"));
    }
    let done = ansim_http::import::import(&app, &a, &text).map_err(|e| match e {
        ansim_http::import::ImportError::Lines(bad) => {
            for (line, msg) in &bad {
                eprintln!("{}:{line}: {msg}", file.display());
            }
            format!("{} bad row(s); nothing was imported", bad.len())
        }
        ansim_http::import::ImportError::App(e) => e.to_string(),
    })?;
    app.shutdown();
    println!("imported {} row(s) for {affiliate}: {} indicator(s)", done.rows, done.indicators);
    Ok(())
}

/// Commands that work on an existing store refuse a directory without one: a mistyped
/// `--data` must not create an empty store and report on it.
fn existing_store(c: &Config) -> Result<(), String> {
    // A PostgreSQL store is a database that already exists (or is migrated on first use).
    if c.store.is_some() || c.data.join("ansim.db").is_file() {
        return Ok(());
    }
    Err(format!(
        "{} holds no ansim store (no ansim.db): check --data, or create one with `ansim affiliates add ID --data DIR`",
        c.data.display()
    ))
}

fn add_affiliate(
    id: &str,
    name: Option<String>,
    rules: Option<&Path>,
    data: Option<PathBuf>,
    file: Option<PathBuf>,
) -> Result<(), String> {
    let c = config(file, None, data)?;
    let (text, rules_name) = match rules {
        Some(p) => (read(p)?, p.display().to_string()),
        None => (demo::ruleset_for(id), "the sample ruleset".to_string()),
    };
    if let Err(rendered) = replay::compile(&text, &rules_name) {
        eprintln!("{rendered}");
        return Err(format!("{rules_name} does not compile"));
    }
    let app = open_app(&c)?;
    let a = AffiliateId(id.into());
    app.ensure_affiliate(&a, name.as_deref().unwrap_or(id), &text).map_err(|e: AppError| e.to_string())?;
    let active = app.active_ruleset(&a).map_err(|e| e.to_string())?;
    app.shutdown();
    println!("affiliate {id} in {}: active ruleset {}", c.data.display(), active.label);
    Ok(())
}

fn run_load(addrs: &[String], keys: &Path, events: usize, connections: usize, seconds: u64) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let mut resolved = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let a = addr
            .to_socket_addrs()
            .map_err(|e| format!("bad address {addr}: {e}"))?
            .next()
            .ok_or_else(|| format!("address {addr} resolves to nothing"))?;
        resolved.push(a);
    }
    let text = read(keys)?;
    let keys: std::collections::HashMap<String, String> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", keys.display()))?;
    let requests = ansim::load::simulated_requests(&keys, events, app::now_ms())?;
    eprintln!("sending {} events over {connections} connections to {}", requests.len(), addrs.join(", "));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ansim::load::run(&resolved, requests, connections, std::time::Duration::from_secs(seconds), stop);
    println!(
        "{} ok, {} failed in {:.2} s: {:.0} decisions/s; latency p50 {} µs, p90 {} µs, p99 {} µs, max {} µs",
        r.ok,
        r.failed,
        r.elapsed.as_secs_f64(),
        r.throughput(),
        r.quantile_us(0.5),
        r.quantile_us(0.9),
        r.quantile_us(0.99),
        r.quantile_us(1.0)
    );
    if r.ok == 0 { Err("no request succeeded".into()) } else { Ok(()) }
}

//! The `cityloop` command: run the demo, serve a district, migrate a database, add users,
//! verify, back up and restore the history (`ops`).
//!
//! This file only parses arguments, sets up logging and wires the crates together; every
//! rule lives in the service layer.

use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use cityloop_domain::model::Role;
use cityloop_http::AppState;
use cityloop_service::auth::NewUser;
use cityloop_service::demo::{load_demo, DEMO_API_KEY, DEMO_PASSWORD};
use cityloop_service::messages::{MessageConfig, MessageSender};
use cityloop_service::webhooks::{DeliveryPass, WebhookConfig, WebhookSender};
use cityloop_service::Services;
use cityloop_store::Store;
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "cityloop",
    version,
    about = "Urban-management case platform (城市运行管理服务平台)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create (or reopen) a SQLite file with the demo district 二七区 and serve it.
    Demo(DemoArgs),
    /// Serve an existing database (SQLite file path or postgres:// URL).
    Serve(ServeArgs),
    /// Create the database if needed and apply pending schema migrations.
    Migrate(DbArg),
    /// Copy all data from one database into an empty one and verify the copy
    /// (row counts and a checksum of every case's event chain).
    Copy {
        /// Source: SQLite path / sqlite://PATH or postgres:// URL.
        #[arg(long)]
        from: String,
        /// Target (created and migrated if needed; must be empty).
        #[arg(long)]
        to: String,
    },
    /// Import or export the district's territory layers (GeoJSON).
    Territory {
        #[command(subcommand)]
        cmd: TerritoryCmd,
    },
    /// The sensor intake's tools.
    Sensors {
        #[command(subcommand)]
        cmd: SensorsCmd,
    },
    /// Measure performance (prints figures; asserts nothing).
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Manage the API keys of Open311 client applications.
    Apikey {
        #[command(subcommand)]
        cmd: ApikeyCmd,
    },
    /// The working calendar's year notices (State Council public-holiday arrangements).
    Calendar {
        #[command(subcommand)]
        cmd: CalendarCmd,
    },
    /// Recompute every case's event hash chain and every root; name the first broken
    /// event and exit non-zero (the result is stored for the admin console).
    Verify(ops::VerifyArgs),
    /// Copy a SQLite database (while the server runs) and its photos into a new folder.
    Backup(ops::BackupArgs),
    /// Bring a backup folder back as a new SQLite file and media folder, and verify it.
    Restore(ops::RestoreArgs),
    /// Import historical records (CSV or xlsx) as cases through a mapping file;
    /// idempotent by external reference (docs/IMPORT.md).
    Import(import_cmd::ImportArgs),
}

#[derive(Subcommand)]
enum CalendarCmd {
    /// Load one year's notice from a JSON file (docs/OPERATIONS.md, "Calendar updates"):
    /// validated, then stored with an audit row; replaces a notice for the same year.
    /// A running server picks it up on its next restart.
    Load {
        #[command(flatten)]
        db: DbArg,
        /// The year notice (JSON).
        file: std::path::PathBuf,
    },
    /// Print the years covered and the coverage warning, if any.
    Status {
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
enum ApikeyCmd {
    /// Issue a key for a client application; prints it once (only its hash is kept).
    Add {
        #[command(flatten)]
        db: DbArg,
        /// The client application's name (shown in the case timeline).
        #[arg(long)]
        name: String,
    },
}

#[derive(Args)]
struct DbArg {
    /// SQLite file path (or sqlite://PATH) or postgres://user@host/db URL.
    #[arg(long, default_value = "cityloop.db", env = "CITYLOOP_DB")]
    db: String,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArg,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "CITYLOOP_ADDR")]
    addr: SocketAddr,
    /// Folder for uploaded photos; default `attachments` beside the SQLite file
    /// (`./attachments` for PostgreSQL).
    #[arg(long, env = "CITYLOOP_MEDIA_DIR")]
    media_dir: Option<std::path::PathBuf>,
    /// How long a write with an idempotency key is retried when the database connection
    /// drops (a PostgreSQL failover); writes without a key answer 503 at once.
    #[arg(long, default_value = "20s", env = "CITYLOOP_WRITE_RETRY")]
    write_retry: String,
    /// A PostgreSQL read replica (hot standby) for the rankings' reads, which may lag the
    /// primary by the replication delay; everything else reads and writes `--db`.
    #[arg(long, env = "CITYLOOP_READ_DB")]
    read_db: Option<String>,
    #[command(flatten)]
    media: MediaArgs,
    #[command(flatten)]
    webhooks: WebhookArgs,
    #[command(flatten)]
    messages: MessageArgs,
    #[command(flatten)]
    maintenance: ops::MaintenanceArgs,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    sensors: SensorArgs,
}

/// The sensor intake's MQTT subscription and offline check (README, "Sensors").
#[derive(Subcommand)]
enum SensorsCmd {
    /// Sends the demo's sample episode (演示: four hours of one-minute readings ending now,
    /// a PM10 exceedance that opens a case and clears, a quiet water probe) through the
    /// HTTP intake of a running `cityloop demo`.
    ReplayDemo {
        /// The running server, e.g. http://127.0.0.1:8080.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
    },
}

/// Sends the demo replay through `POST /api/v1/telemetry` and prints what it opened.
async fn replay_demo(url: &str) -> Result<()> {
    let r = cityloop_service::sensors::demo::replay_over_http(url, chrono::Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    println!(
        "sent {} demo readings (演示); cases opened {:?}, episodes cleared {}",
        r.sent, r.opened, r.cleared
    );
    Ok(())
}

#[derive(Args)]
struct SensorArgs {
    /// The district's MQTT broker, `mqtt://host[:port]`; none: MQTT intake off (the HTTP
    /// intake `POST /api/v1/telemetry` works either way).
    #[arg(long, env = "CITYLOOP_MQTT_URL")]
    mqtt_url: Option<String>,
    /// The MQTT client id; keep it fixed: the broker keeps the persistent session under it.
    #[arg(long, default_value = "cityloop", env = "CITYLOOP_MQTT_CLIENT_ID")]
    mqtt_client_id: String,
    /// The `<district>` of the topics `cityloop/<district>/<device>/telemetry` subscribed
    /// to; the district's code unless given.
    #[arg(long, env = "CITYLOOP_MQTT_DISTRICT")]
    mqtt_district: Option<String>,
    /// How often the offline check (设备离线) runs.
    #[arg(long, default_value = "60s", env = "CITYLOOP_SENSOR_OFFLINE_CHECK")]
    sensor_offline_check: String,
    /// How many days raw sensor readings are kept (3 to 3660; an invented default of 30);
    /// per-minute aggregates are kept for good. Pruned hourly.
    #[arg(long, default_value_t = cityloop_service::sensors::series::DEFAULT_RAW_DAYS, env = "CITYLOOP_SENSOR_RAW_DAYS")]
    sensor_raw_days: i64,
}

/// Connection limits, rate limits and the client-address rule (docs/API-DESIGN.md,
/// "Limits"). The defaults are invented, not prescribed by any standard.
#[derive(Args)]
struct NetArgs {
    /// Time limit of one request, body reading included (answered 408).
    #[arg(long, default_value = "30s", env = "CITYLOOP_REQUEST_TIMEOUT")]
    request_timeout: String,
    /// A connection that has not sent a whole request head this long after its first
    /// byte is closed.
    #[arg(long, default_value = "10s", env = "CITYLOOP_HEADER_READ_TIMEOUT")]
    header_read_timeout: String,
    /// A connection with no request in flight and nothing received this long is closed.
    #[arg(long, default_value = "60s", env = "CITYLOOP_IDLE_TIMEOUT")]
    idle_timeout: String,
    /// Connections served at once; at the cap the longest-idle one is shed for a new
    /// client. Keep it well below the process's file limit (ulimit -n).
    #[arg(long, default_value_t = 512, env = "CITYLOOP_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Reverse proxies (addresses or CIDR blocks, comma-separated) whose
    /// X-Forwarded-For names the client; empty: the header is ignored.
    #[arg(long, default_value = "", env = "CITYLOOP_TRUSTED_PROXIES")]
    trusted_proxies: String,
    /// Open311 POST requests per API key: N/PERIOD (ms, s, m, h) or off.
    #[arg(long, default_value = "600/1m", env = "CITYLOOP_OPEN311_RATE_PER_KEY")]
    open311_rate_per_key: String,
    /// Open311 POST requests per client address: N/PERIOD or off.
    #[arg(
        long,
        default_value = "30/10m",
        env = "CITYLOOP_OPEN311_RATE_PER_ADDRESS"
    )]
    open311_rate_per_address: String,
    /// Public photo uploads (POST /api/v1/public/media) per client address.
    #[arg(
        long,
        default_value = "30/10m",
        env = "CITYLOOP_UPLOAD_RATE_PER_ADDRESS"
    )]
    upload_rate_per_address: String,
    /// Case-page lookups (`GET /api/v1/public/cases/{ref}`, by query code or number) per
    /// client address, as BURST/PERIOD or "off"; bounds guessing of query codes.
    #[arg(
        long,
        default_value = "60/1m",
        env = "CITYLOOP_LOOKUP_RATE_PER_ADDRESS"
    )]
    lookup_rate_per_address: String,
    /// One-time codes of "my reports" sent to one phone.
    #[arg(long, default_value = "3/10m", env = "CITYLOOP_CODE_RATE_PER_PHONE")]
    code_rate_per_phone: String,
    /// One-time codes asked for from one client address.
    #[arg(long, default_value = "10/1h", env = "CITYLOOP_CODE_RATE_PER_ADDRESS")]
    code_rate_per_address: String,
}

impl NetArgs {
    fn http(&self) -> Result<(cityloop_http::NetConfig, cityloop_http::server::ConnLimits)> {
        use cityloop_http::server::parse_timeout;
        let t =
            |flag: &str, v: &str| parse_timeout(v).map_err(|e| anyhow::anyhow!("--{flag}: {e}"));
        let net = cityloop_http::NetConfig {
            trusted_proxies: cityloop_http::client::TrustedProxies::parse(&self.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))?,
            request_timeout: t("request-timeout", &self.request_timeout)?,
        };
        if self.max_connections == 0 {
            bail!("--max-connections must be at least 1");
        }
        let limits = cityloop_http::server::ConnLimits {
            header_read_timeout: t("header-read-timeout", &self.header_read_timeout)?,
            idle_timeout: t("idle-timeout", &self.idle_timeout)?,
            max_connections: self.max_connections,
            ..Default::default()
        };
        Ok((net, limits))
    }

    fn rates(&self) -> Result<cityloop_service::ratelimit::RateConfig> {
        use cityloop_service::ratelimit::Rate;
        let r = |flag: &str, v: &str| Rate::parse(v).map_err(|e| anyhow::anyhow!("--{flag}: {e}"));
        Ok(cityloop_service::ratelimit::RateConfig {
            open311_per_key: r("open311-rate-per-key", &self.open311_rate_per_key)?,
            open311_per_address: r("open311-rate-per-address", &self.open311_rate_per_address)?,
            upload_per_address: r("upload-rate-per-address", &self.upload_rate_per_address)?,
            lookup_per_address: r("lookup-rate-per-address", &self.lookup_rate_per_address)?,
            code_per_phone: r("code-rate-per-phone", &self.code_rate_per_phone)?,
            code_per_address: r("code-rate-per-address", &self.code_rate_per_address)?,
        })
    }
}

/// Photo decoding limits (docs/API-DESIGN.md, "Limits").
#[derive(Args)]
struct MediaArgs {
    /// Largest photo width or height, in pixels.
    #[arg(long, default_value_t = 12_000, env = "CITYLOOP_MEDIA_MAX_SIDE")]
    media_max_side: u32,
    /// Most pixels in a photo (width × height).
    #[arg(long, default_value_t = 50_000_000, env = "CITYLOOP_MEDIA_MAX_PIXELS")]
    media_max_pixels: u64,
    /// Most memory one photo decode may need (bytes, or with KiB/MiB/GiB).
    #[arg(long, default_value = "512MiB", env = "CITYLOOP_MEDIA_DECODE_MEMORY", value_parser = cityloop_service::media::parse_size)]
    media_decode_memory: u64,
    /// Largest colour profile (ICC) in a photo, decompressed.
    #[arg(long, default_value = "1MiB", env = "CITYLOOP_MEDIA_MAX_ICC", value_parser = cityloop_service::media::parse_size)]
    media_max_icc: u64,
    /// Most metadata in a photo (EXIF, XMP, text chunks, JPEG APPn segments).
    #[arg(long, default_value = "1MiB", env = "CITYLOOP_MEDIA_MAX_METADATA", value_parser = cityloop_service::media::parse_size)]
    media_max_metadata: u64,
    /// Photo decodes running at once.
    #[arg(long, default_value_t = 2, env = "CITYLOOP_MEDIA_DECODES")]
    media_decodes: usize,
    /// Uploads waiting for a decode at most (more are answered 503).
    #[arg(long, default_value_t = 16, env = "CITYLOOP_MEDIA_QUEUE")]
    media_queue: usize,
    /// How long an upload waits for a decode before it is answered 503 (ms, s, m).
    #[arg(long, default_value = "10s", env = "CITYLOOP_MEDIA_QUEUE_WAIT")]
    media_queue_wait: String,
}

impl MediaArgs {
    fn config(&self) -> Result<cityloop_service::attachments::MediaConfig> {
        let queue_wait = cityloop_domain::webhook::parse_duration(&self.media_queue_wait)
            .map_err(|e| anyhow::anyhow!("--media-queue-wait: {e}"))?;
        if self.media_decodes == 0 || self.media_max_side == 0 || self.media_max_pixels == 0 {
            bail!("--media-decodes, --media-max-side and --media-max-pixels must be above zero");
        }
        Ok(cityloop_service::attachments::MediaConfig {
            limits: cityloop_service::media::Limits {
                max_side: self.media_max_side,
                max_pixels: self.media_max_pixels,
                max_decode_bytes: self.media_decode_memory,
                max_icc_bytes: self.media_max_icc,
                max_metadata_bytes: self.media_max_metadata,
            },
            max_decodes: self.media_decodes,
            max_queue: self.media_queue,
            queue_wait,
        })
    }
}

impl ServeArgs {
    fn write_retry(&self) -> Result<std::time::Duration> {
        let d = cityloop_domain::webhook::parse_duration(&self.write_retry)
            .map_err(|e| anyhow::anyhow!("--write-retry: {e}"))?;
        if d > std::time::Duration::from_secs(25) {
            bail!("--write-retry: at most 25s (requests time out after 30 s)");
        }
        Ok(d)
    }

    fn media_dir(&self) -> std::path::PathBuf {
        self.media_dir
            .clone()
            .unwrap_or_else(|| cityloop_service::attachments::default_dir(&self.db.db))
    }
}

/// Outgoing webhook delivery (docs/API-DESIGN.md, "Webhooks").
/// Messages to citizens (docs/API-DESIGN.md, "Messages"); the channels themselves are
/// set by an admin.
#[derive(Args)]
struct MessageArgs {
    /// The `log` channel's file (the default channel): one line per message. Default:
    /// messages.log beside the SQLite database (in the working folder for PostgreSQL).
    #[arg(long, env = "CITYLOOP_MESSAGE_LOG")]
    message_log: Option<std::path::PathBuf>,
    /// Waits between retries of a failed message (ms, s, m, h); after the last, dead.
    #[arg(
        long,
        default_value = "1m,5m,30m,2h,12h",
        env = "CITYLOOP_MESSAGE_BACKOFF"
    )]
    message_backoff: String,
    /// Time limit of one attempt (gateway or SMTP server).
    #[arg(long, default_value = "10s", env = "CITYLOOP_MESSAGE_TIMEOUT")]
    message_timeout: String,
    /// How often the message worker looks for due messages.
    #[arg(long, default_value = "1s", env = "CITYLOOP_MESSAGE_POLL")]
    message_poll: String,
}

impl MessageArgs {
    fn log_path(&self, db: &str) -> std::path::PathBuf {
        self.message_log.clone().unwrap_or_else(|| {
            cityloop_service::attachments::default_dir(db).with_file_name("messages.log")
        })
    }

    fn sender(&self, db: &str) -> Result<(MessageSender, std::time::Duration)> {
        use cityloop_domain::webhook::{parse_backoff, parse_duration};
        let backoff = parse_backoff(&self.message_backoff)
            .map_err(|e| anyhow::anyhow!("--message-backoff: {e}"))?;
        let timeout = parse_duration(&self.message_timeout)
            .map_err(|e| anyhow::anyhow!("--message-timeout: {e}"))?;
        let poll = parse_duration(&self.message_poll)
            .map_err(|e| anyhow::anyhow!("--message-poll: {e}"))?;
        if timeout.is_zero() || poll.is_zero() {
            anyhow::bail!("--message-timeout and --message-poll must be above zero");
        }
        let sender = MessageSender::new(MessageConfig {
            backoff,
            timeout,
            log_path: self.log_path(db),
            ..MessageConfig::default()
        })?;
        Ok((sender, poll))
    }
}

#[derive(Args)]
struct WebhookArgs {
    /// Waits between retries of a failed delivery (ms, s, m, h); after the last, a dead letter.
    #[arg(
        long,
        default_value = "1m,5m,30m,2h,12h",
        env = "CITYLOOP_WEBHOOK_BACKOFF"
    )]
    webhook_backoff: String,
    /// Time limit of one delivery attempt.
    #[arg(long, default_value = "10s", env = "CITYLOOP_WEBHOOK_TIMEOUT")]
    webhook_timeout: String,
    /// How often the delivery worker looks for due deliveries.
    #[arg(long, default_value = "1s", env = "CITYLOOP_WEBHOOK_POLL")]
    webhook_poll: String,
    /// Allow webhook receivers on loopback, private, link-local and other special
    /// addresses (off by default: such URLs are refused when saved and when delivered).
    #[arg(long, env = "CITYLOOP_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
}

impl WebhookArgs {
    fn sender(&self) -> Result<(WebhookSender, std::time::Duration)> {
        use cityloop_domain::webhook::{parse_backoff, parse_duration};
        let backoff = parse_backoff(&self.webhook_backoff)
            .map_err(|e| anyhow::anyhow!("--webhook-backoff: {e}"))?;
        let timeout = parse_duration(&self.webhook_timeout)
            .map_err(|e| anyhow::anyhow!("--webhook-timeout: {e}"))?;
        let poll = parse_duration(&self.webhook_poll)
            .map_err(|e| anyhow::anyhow!("--webhook-poll: {e}"))?;
        if timeout.is_zero() || poll.is_zero() {
            anyhow::bail!("--webhook-timeout and --webhook-poll must be above zero");
        }
        let sender = WebhookSender::new(WebhookConfig {
            backoff,
            timeout,
            allow_private: self.webhook_allow_private,
            ..WebhookConfig::default()
        })?;
        Ok((sender, poll))
    }
}

#[derive(Args)]
struct DemoArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Demo only: run the clock this far ahead of real time (e.g. `3d`, `36h`, `-90m`), to
    /// show deadlines turning yellow and red and the escalations that follow without waiting.
    #[arg(long, env = "CITYLOOP_DEMO_CLOCK_OFFSET", value_parser = parse_offset, allow_hyphen_values = true)]
    clock_offset: Option<chrono::Duration>,
    /// Start a new demo file without the sample history (演示数据): the district, its
    /// accounts and no cases. Without it, a new file gets a few thousand generated cases
    /// over the last months (external reference `demo:<n>`, description 【演示】).
    #[arg(long, env = "CITYLOOP_DEMO_EMPTY")]
    empty: bool,
    /// How many sample cases a new demo file gets (with `--history-days` of history).
    #[arg(long, default_value_t = cityloop_service::demo_history::DEFAULT_CASES, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    history_cases: u32,
    /// Days of sample history.
    #[arg(long, default_value_t = cityloop_service::demo_history::DEFAULT_DAYS, value_parser = clap::value_parser!(u32).range(1..=3650))]
    history_days: u32,
}

/// `<integer><s|m|h|d>`, optionally negative.
fn parse_offset(s: &str) -> std::result::Result<chrono::Duration, String> {
    let bad = || format!("{s:?}: expected a whole number and a unit s, m, h or d (e.g. 3d, -90m)");
    let t = s.trim();
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: i64 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let secs = match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3600),
        'd' => n.checked_mul(86_400),
        _ => None,
    }
    .filter(|v| v.abs() <= 3650 * 86_400)
    .ok_or_else(bad)?;
    Ok(chrono::Duration::seconds(secs))
}

#[derive(Subcommand)]
enum TerritoryCmd {
    /// Validate GeoJSON layers and, only if every feature passes, store them.
    /// Each file may be gzip-compressed (.gz). An OSM-derived road file loads as it is
    /// (ways are split into segments at intersections).
    Import {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        district: Option<std::path::PathBuf>,
        #[arg(long)]
        neighbours: Option<std::path::PathBuf>,
        #[arg(long)]
        streets: Option<std::path::PathBuf>,
        #[arg(long)]
        communities: Option<std::path::PathBuf>,
        #[arg(long)]
        grids: Option<std::path::PathBuf>,
        #[arg(long)]
        roads: Option<std::path::PathBuf>,
    },
    /// Write the stored layers as GeoJSON files into a folder.
    Export {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Durable case-creation throughput and latency, beside the database's own floor.
    Intake {
        /// Database to measure on; default: a fresh SQLite file in a temporary folder.
        /// A PostgreSQL URL should name an empty scratch database.
        #[arg(long)]
        db: Option<String>,
        /// Cases to create per run.
        #[arg(long, default_value_t = 2000)]
        ops: usize,
        /// Concurrent clients, comma-separated (one run each), e.g. `1,8,64,256`.
        #[arg(long, default_value = "1,8", value_delimiter = ',')]
        clients: Vec<usize>,
        /// A second database measured in the same run, client count by client count,
        /// with its cost as a ratio to `--db` (e.g. the Patroni cluster with a synchronous
        /// standby against a single server; docs/BENCHMARKS.md).
        #[arg(long)]
        compare_db: Option<String>,
    },
    /// Login time for a known username and for an unknown one (they should match: an
    /// unknown name is verified against a dummy argon2 hash).
    Login {
        /// Attempts per kind.
        #[arg(long, default_value_t = 40)]
        ops: usize,
    },
    /// A month's rankings over a generated history (SQLite), beside the naive GROUP BY.
    Rankings {
        /// SQLite file to generate into; default: a fresh file in a temporary folder.
        #[arg(long)]
        db: Option<std::path::PathBuf>,
        /// Cases in the generated history (spread over twelve months).
        #[arg(long, default_value_t = 10_000_000)]
        cases: i64,
    },
    /// Decoding the largest accepted photo through our checks, beside the plain decode:
    /// time and peak memory.
    Media {
        /// Runs per photo.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The Open311 list (`GET requests`): first and deep pages by page and by cursor at
    /// many cases, on SQLite and (with --pg) PostgreSQL, beside the query it replaced.
    Open311List {
        /// SQLite file to generate into; default: a fresh file in a temporary folder.
        #[arg(long)]
        db: Option<std::path::PathBuf>,
        /// PostgreSQL URL of an empty scratch database to measure on as well.
        #[arg(long)]
        pg: Option<String>,
        /// Cases to generate (4 of 5 published), spread over the last 80 days.
        #[arg(long, default_value_t = 1_000_000)]
        cases: i64,
    },
    /// `cityloop verify` over a generated history (SQLite), beside plain SHA-256.
    Verify(bench_verify::Args),
    /// `cityloop import` of a records file (default Boston 311) into a fresh demo
    /// database, beside the checking pass alone: rows/s and peak memory.
    Import(bench_import::Args),
    /// The maps on a large road network: layer and cluster answers per zoom (p50/p99) over
    /// random phone-sized views, and reverse geocoding per point.
    Map {
        /// SQLite file to generate into; default: a fresh file in a temporary folder.
        #[arg(long)]
        db: Option<std::path::PathBuf>,
        /// PostgreSQL URL of an empty scratch database to measure on as well.
        #[arg(long)]
        pg: Option<String>,
        /// Open cases to generate (3 of 10 generated cases are open).
        #[arg(long, default_value_t = 100_000)]
        cases: i64,
        /// OSM road file; default ../shared/data/geo/phoenix_az303_osm_roads.geojson.gz.
        #[arg(long)]
        roads: Option<std::path::PathBuf>,
    },
    /// Case search (number, phone tail, two-character words, filters) at many generated
    /// cases with Chinese descriptions, on SQLite and (with --pg) PostgreSQL: p50/p99,
    /// beside a plain `LIKE '%…%'` scan.
    Search {
        /// SQLite file to generate into; default: a fresh file in a temporary folder.
        #[arg(long)]
        db: Option<std::path::PathBuf>,
        /// PostgreSQL URL of an empty scratch database to measure on as well.
        #[arg(long)]
        pg: Option<String>,
        /// Skip SQLite (measure only --pg).
        #[arg(long)]
        no_sqlite: bool,
        /// Cases to generate, spread over the last year.
        #[arg(long, default_value_t = 1_000_000)]
        cases: usize,
    },
    /// Matching patrol trails to road segments per 1,000 points on a large road network,
    /// beside the brute-force match (every segment against every trail piece).
    Patrol {
        /// OSM road file; default ../shared/data/geo/phoenix_az303_osm_roads.geojson.gz.
        #[arg(long)]
        roads: Option<std::path::PathBuf>,
        /// Trails of 1,000 points matched with the index.
        #[arg(long, default_value_t = 200)]
        trails: usize,
        /// Of those, how many are also matched by brute force.
        #[arg(long, default_value_t = 3)]
        brute_trails: usize,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add an account; the password is read from standard input (one line).
    Add {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        username: String,
        /// admin, operator, dispatcher, inspector, supervisor, handler, road_chief
        #[arg(long)]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        /// The unit's code (required for handlers).
        #[arg(long)]
        unit: Option<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CITYLOOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colour codes only on a terminal: a log written to a file or a pipe stays plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Sensors {
            cmd: SensorsCmd::ReplayDemo { url },
        } => replay_demo(&url).await,
        Cmd::Demo(DemoArgs {
            serve: args,
            clock_offset,
            empty,
            history_cases,
            history_days,
        }) => {
            let media = args.media.config()?;
            let store = open(&args.db.db, true).await?;
            let loaded = load_demo(&store)
                .await
                .context("loading the demo district")?;
            let mut svc = Services::load(store)
                .await?
                .with_media_dir(args.media_dir())
                .with_media_config(media);
            svc.write_retry = args.write_retry()?;
            if let Some(off) = clock_offset {
                let base = svc.clock();
                svc = svc.with_clock(std::sync::Arc::new(move || base() + off));
            }
            let history = if loaded && !empty {
                let started = std::time::Instant::now();
                let sum = svc
                    .generate_demo_history(cityloop_service::demo_history::HistoryOptions {
                        cases: history_cases,
                        days: history_days,
                        ..Default::default()
                    })
                    .await
                    .context("generating the demo history")?;
                tracing::info!(
                    cases = sum.cases,
                    events = sum.events,
                    ms = started.elapsed().as_millis() as u64,
                    "demo history generated"
                );
                Some(sum)
            } else {
                None
            };
            let listener = bind(args.addr).await?;
            print_demo_banner(&listener, &args.db.db, loaded)?;
            if let Some(h) = history {
                println!(
                    "  history:  {} sample cases (演示数据, external_ref demo:<n>) reported {} – {}; `--empty` starts without them",
                    h.cases,
                    h.from.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default(),
                    h.to.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default(),
                );
            }
            println!(
                "  messages: {} (the log channel: receipts, 回访 invitations, codes; see README.md)",
                args.messages.log_path(&args.db.db).display()
            );
            if let Some(off) = clock_offset {
                println!(
                    "  clock:    offset {} h from real time (--clock-offset; demo only)",
                    off.num_minutes() as f64 / 60.0
                );
            }
            serve(listener, svc, &args).await
        }
        Cmd::Serve(args) => {
            let media = args.media.config()?;
            let store = open(&args.db.db, false).await?;
            let mut svc = Services::load(store)
                .await?
                .with_media_dir(args.media_dir())
                .with_media_config(media);
            svc.write_retry = args.write_retry()?;
            let listener = bind(args.addr).await?;
            println!(
                "cityloop serving {} on http://{}",
                svc.district.name,
                listener.local_addr()?
            );
            serve(listener, svc, &args).await
        }
        Cmd::Migrate(db) => {
            let store = open(&db.db, true).await?;
            println!(
                "database {} is at the current schema ({:?})",
                db.db,
                store.backend()
            );
            Ok(())
        }
        Cmd::Copy { from, to } => {
            let src = open(&from, false).await?;
            let dst = open(&to, true).await?;
            let report = cityloop_service::copy::copy(src, dst).await?;
            for (table, n) in &report.counts {
                println!("  {table:<18} {n}");
            }
            println!(
                "copied {} cases with {} events; event-chain checksum {} matches on both sides",
                report.cases, report.events, report.checksum
            );
            Ok(())
        }
        Cmd::Territory {
            cmd:
                TerritoryCmd::Import {
                    db,
                    district,
                    neighbours,
                    streets,
                    communities,
                    grids,
                    roads,
                },
        } => {
            let store = open(&db.db, false).await?;
            let mut texts = std::collections::HashMap::new();
            for (name, path) in [
                ("district", district),
                ("neighbours", neighbours),
                ("streets", streets),
                ("communities", communities),
                ("grids", grids),
                ("roads", roads),
            ] {
                if let Some(p) = path {
                    let text = cityloop_geo::layers::read_layer_file(&p)
                        .with_context(|| format!("--{name} {}", p.display()))?;
                    texts.insert(name.to_owned(), text);
                }
            }
            if texts.is_empty() {
                bail!("name at least one layer file (--district, --neighbours, --streets, --communities, --grids, --roads)");
            }
            match cityloop_service::territory::import(&*store, &texts).await {
                Ok(t) => {
                    println!(
                        "imported: {} streets, {} communities, {} grids, {} road segments",
                        t.streets().len(),
                        t.communities().len(),
                        t.grids().len(),
                        t.segments().len()
                    );
                    Ok(())
                }
                Err(cityloop_service::territory::ImportError::Invalid(errs)) => {
                    for e in &errs {
                        eprintln!("  {e}");
                    }
                    bail!("{} problem(s); nothing was imported", errs.len())
                }
                Err(e) => Err(e.into()),
            }
        }
        Cmd::Territory {
            cmd: TerritoryCmd::Export { db, dir },
        } => {
            let store = open(&db.db, false).await?;
            let layers = cityloop_service::territory::export(&*store).await?;
            std::fs::create_dir_all(&dir)?;
            for (name, text) in &layers {
                let path = dir.join(format!("{name}.geojson"));
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Cmd::Bench {
            cmd:
                BenchCmd::Intake {
                    db,
                    ops,
                    clients,
                    compare_db,
                },
        } => match compare_db {
            None => bench_intake(db, ops, clients).await,
            Some(other) => bench_intake_compare(db, other, ops, clients).await,
        },
        Cmd::Bench {
            cmd: BenchCmd::Rankings { db, cases },
        } => bench_rankings::run(db, cases).await,
        Cmd::Bench {
            cmd: BenchCmd::Media { runs },
        } => bench_media::run(runs),
        Cmd::Bench {
            cmd: BenchCmd::Open311List { db, pg, cases },
        } => bench_open311::run(db, pg, cases).await,
        Cmd::Bench {
            cmd: BenchCmd::Verify(args),
        } => bench_verify::run(args).await,
        Cmd::Bench {
            cmd: BenchCmd::Import(args),
        } => bench_import::run(args).await,
        Cmd::Bench {
            cmd:
                BenchCmd::Map {
                    db,
                    pg,
                    cases,
                    roads,
                },
        } => bench_map::run(db, pg, cases, roads).await,
        Cmd::Bench {
            cmd:
                BenchCmd::Search {
                    db,
                    pg,
                    no_sqlite,
                    cases,
                },
        } => bench_search::run(db, pg, cases, no_sqlite).await,
        Cmd::Verify(args) => ops::verify(args).await,
        Cmd::Import(args) => import_cmd::run(args).await,
        Cmd::Backup(args) => ops::backup(args).await,
        Cmd::Restore(args) => ops::restore(args).await,
        Cmd::Bench {
            cmd: BenchCmd::Login { ops },
        } => bench_login(ops).await,
        Cmd::Bench {
            cmd:
                BenchCmd::Patrol {
                    roads,
                    trails,
                    brute_trails,
                },
        } => bench_patrol::run(roads, trails, brute_trails),
        Cmd::Apikey {
            cmd: ApikeyCmd::Add { db, name },
        } => {
            let svc = Services::load(open(&db.db, false).await?).await?;
            let key = svc.add_api_key(&name).await?;
            eprintln!("Open311 API key for {name:?} (shown once; only its hash is stored):");
            println!("{key}");
            Ok(())
        }
        Cmd::Calendar {
            cmd: CalendarCmd::Load { db, file },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let notice: cityloop_domain::calendar::YearNotice = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a year notice document", file.display()))?;
            let svc = Services::load(open(&db.db, false).await?).await?;
            let loaded = svc
                .load_calendar_year(None, notice)
                .await
                .with_context(|| format!("{}: not loaded", file.display()))?;
            println!(
                "{} the notice for {}",
                if loaded.replaced {
                    "replaced"
                } else {
                    "loaded"
                },
                loaded.year
            );
            print_coverage(&loaded.coverage);
            Ok(())
        }
        Cmd::Calendar {
            cmd: CalendarCmd::Status { db },
        } => {
            let svc = Services::load(open(&db.db, false).await?).await?;
            print_coverage(&svc.calendar_coverage());
            Ok(())
        }
        Cmd::User {
            cmd:
                UserCmd::Add {
                    db,
                    username,
                    role,
                    display_name,
                    unit,
                },
        } => {
            let store = open(&db.db, false).await?;
            let svc = Services::load(store.clone()).await?;
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let unit_id = match unit {
                None => None,
                Some(code) => Some(
                    store
                        .list_units()
                        .await?
                        .into_iter()
                        .find(|u| u.code == code)
                        .with_context(|| format!("--unit: no unit with code {code:?}"))?
                        .id,
                ),
            };
            eprintln!("password for {username} (one line on standard input):");
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let p = svc
                .add_user(NewUser {
                    display_name: display_name.unwrap_or_else(|| username.clone()),
                    username,
                    role,
                    unit_id,
                    password,
                })
                .await?;
            println!("added {} ({}) id {}", p.username, p.role, p.id);
            Ok(())
        }
    }
}

mod bench_import;
mod bench_map;
mod bench_media;
mod bench_open311;
mod bench_patrol;
mod bench_rankings;
mod bench_search;
mod bench_verify;
mod import_cmd;
mod ops;

fn print_coverage(c: &cityloop_domain::calendar::Coverage) {
    let years: Vec<String> = c.years.iter().map(i32::to_string).collect();
    println!(
        "years covered: {}",
        if years.is_empty() {
            "none".to_owned()
        } else {
            years.join(", ")
        }
    );
    if let (Some(end), Some(left)) = (c.coverage_end, c.days_left) {
        println!("coverage ends: {end} ({left} days from {})", c.today);
    }
    if let Some(w) = c.warning {
        println!("warning: {w}");
    }
}

async fn bench_intake(db: Option<String>, ops: usize, clients: Vec<usize>) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let url = db.unwrap_or_else(|| tmp.path().join("bench.db").display().to_string());
    let store = open(&url, true).await?;
    load_demo(&store).await?;
    let svc = Services::load(store.clone()).await?;
    println!(
        "cityloop bench intake on {:?} ({ops} operations per run)",
        store.backend()
    );
    println!(
        "{}",
        cityloop_service::bench::batched_floor(&store, ops).await?
    );
    for &c in &clients {
        println!(
            "{}",
            cityloop_service::bench::raw_floor(&store, ops, c).await?
        );
        println!("{}", cityloop_service::bench::intake(&svc, ops, c).await?);
    }
    match store.backend() {
        cityloop_store::Backend::Postgres => native_client_floor("psql", &url, ops)?,
        cityloop_store::Backend::Sqlite => native_client_floor("sqlite3", &url, ops)?,
    }
    Ok(())
}

/// `bench intake --compare-db`: the same runs on two databases, alternating per client
/// count so both see the same machine, and the second's throughput as a ratio to the
/// first's (below 1: the second is slower by that factor).
async fn bench_intake_compare(
    db: Option<String>,
    other: String,
    ops: usize,
    clients: Vec<usize>,
) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let url = db.unwrap_or_else(|| tmp.path().join("bench.db").display().to_string());
    let mut sides = Vec::new();
    for u in [&url, &other] {
        let store = open(u, true).await?;
        load_demo(&store).await?;
        let svc = Services::load(store.clone()).await?;
        sides.push((store, svc));
    }
    println!("cityloop bench intake: {url:?} against {other:?} ({ops} operations per run)");
    for &c in &clients {
        let mut runs = Vec::new();
        for (i, (store, svc)) in sides.iter().enumerate() {
            let floor = cityloop_service::bench::raw_floor(store, ops, c).await?;
            let intake = cityloop_service::bench::intake(svc, ops, c).await?;
            let side = if i == 0 { "db" } else { "compare-db" };
            println!("[{side}] {floor}");
            println!("[{side}] {intake}");
            runs.push((floor, intake));
        }
        println!(
            "ratio compare-db / db at {c} clients: cases/s {:.2}, 1-row floor {:.2}, p99 {:.2}×",
            runs[1].1.per_second() / runs[0].1.per_second().max(1e-9),
            runs[1].0.per_second() / runs[0].0.per_second().max(1e-9),
            runs[1].1.p99.as_secs_f64() / runs[0].1.p99.as_secs_f64().max(1e-9),
        );
    }
    Ok(())
}

async fn bench_login(ops: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let url = tmp.path().join("bench.db").display().to_string();
    let store = open(&url, true).await?;
    load_demo(&store).await?;
    let svc = Services::load(store).await?;
    if ops == 0 {
        bail!("--ops must be at least 1");
    }
    println!("cityloop bench login ({ops} wrong-password attempts per kind, one address each)");
    for (label, user) in [
        ("known username", "dispatcher"),
        ("unknown username", "no-such-user"),
    ] {
        let mut times = Vec::with_capacity(ops);
        for i in 0..ops {
            // A fresh address each time: the throttle never answers instead.
            let client = std::net::IpAddr::from([198, 18, (i / 256) as u8, (i % 256) as u8]);
            let t = std::time::Instant::now();
            let r = svc.login(user, "wrong-password", client).await;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            if !matches!(r, Err(cityloop_service::ServiceError::Unauthorized(_))) {
                bail!("expected a refused login, got {r:?}");
            }
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        println!(
            "{label:<18} mean {mean:7.2} ms   median {:7.2} ms   p90 {:7.2} ms",
            times[times.len() / 2],
            times[times.len() * 9 / 10]
        );
    }
    Ok(())
}

/// Times `ops` single-row autocommit INSERTs of case-sized rows through the database's
/// own command-line client, when it is installed.
fn native_client_floor(client: &str, url: &str, ops: usize) -> Result<()> {
    use std::io::Write;
    let payload = "x".repeat(1500);
    let mut sql = String::new();
    let (args, setup): (Vec<String>, &str) = if client == "psql" {
        (
            vec![url.to_owned(), "-q".into(), "-v".into(), "ON_ERROR_STOP=1".into()],
            "DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor (id BIGINT PRIMARY KEY, body TEXT NOT NULL);\n",
        )
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url).to_owned();
        (
            vec![path],
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n",
        )
    };
    sql.push_str(setup);
    for i in 0..ops {
        sql.push_str(&format!(
            "INSERT INTO bench_floor (id, body) VALUES ({i}, '{payload}');\n"
        ));
    }
    sql.push_str("DROP TABLE bench_floor;\n");
    let start = std::time::Instant::now();
    let child = std::process::Command::new(client)
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) => {
            println!("floor via {client}: skipped ({client} is not installed)");
            return Ok(());
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(sql.as_bytes())?;
    }
    let status = child.wait()?;
    let secs = start.elapsed().as_secs_f64();
    if status.success() {
        println!(
            "{:<44} {:>7} ops   1 clients  {:>9.0} /s  (mean {:.3} ms)",
            format!("floor: {client} 1-row autocommit INSERT"),
            ops,
            ops as f64 / secs,
            secs * 1e3 / ops as f64
        );
    } else {
        println!("floor via {client}: failed ({status})");
    }
    Ok(())
}

async fn open(db: &str, create: bool) -> Result<Arc<dyn Store>> {
    cityloop_store::open(db, create).await.map_err(|e| match e {
        cityloop_store::StoreError::Unavailable(m) if m.starts_with("no database file") => anyhow::anyhow!(
            "{m}; create it with `cityloop migrate --db {db}` or start the demo with `cityloop demo --db {db}`"
        ),
        other => anyhow::Error::new(other),
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            bail!(
                "address {addr} is already in use; stop the other program or pass --addr HOST:PORT"
            )
        }
        Err(e) => Err(e).with_context(|| format!("cannot listen on {addr}")),
    }
}

fn print_demo_banner(listener: &TcpListener, db: &str, loaded: bool) -> Result<()> {
    let addr = listener.local_addr()?;
    println!("cityloop demo — 二七区 (Erqi District, Zhengzhou)");
    println!(
        "  database: {db} ({})",
        if loaded {
            "created with the demo district"
        } else {
            "reopened"
        }
    );
    println!("  URL:      http://{addr}/");
    println!("  accounts (password \"{DEMO_PASSWORD}\"): admin, operator, dispatcher, inspector, supervisor,");
    println!("            handler-<unit> (e.g. handler-hw, handler-jd010), roadchief-district, roadchief1-<street>, roadchief2-<street>");
    println!("  Open311 API key: {DEMO_API_KEY}");
    println!("  territory and demo staff are demo data (示意数据); see README.md");
    Ok(())
}

async fn serve(listener: TcpListener, svc: Services, args: &ServeArgs) -> Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let (sender, poll) = args.webhooks.sender()?;
    let (messages, message_poll) = args.messages.sender(&args.db.db)?;
    let (net_config, limits) = args.net.http()?;
    let mut svc = svc
        .with_rate_limits(args.net.rates()?)
        .with_webhook_allow_private(args.webhooks.webhook_allow_private);
    if let Some(url) = &args.read_db {
        let reads = cityloop_store::open_replica(url)
            .await
            .context("opening the read replica (--read-db)")?;
        tracing::info!("rankings read from the replica");
        svc = svc.with_read_store(reads);
    }
    svc.ensure_public_page_key()
        .await
        .context("issuing the public page's API key")?;
    svc.ensure_query_code_key()
        .await
        .context("making the query-code key")?;
    let (every, policy) = args.maintenance.parse()?;
    if let Some(every) = every {
        tokio::spawn(ops::maintenance(svc.clone(), every, policy));
    }
    tokio::spawn(scheduler(svc.clone()));
    tokio::spawn(webhook_worker(svc.clone(), sender, poll));
    tokio::spawn(message_worker(svc.clone(), messages, message_poll));
    start_sensors(&svc, &args.sensors)?;
    let live = svc.live.clone();
    let app = cityloop_http::router(AppState::with_net(svc, net_config));
    let shutdown = async move {
        shutdown_signal().await;
        // Open live streams (SSE) end at once instead of holding the shutdown grace.
        live.close();
    };
    cityloop_http::server::serve(listener, app, limits, shutdown)
        .await
        .context("server failed")
}

/// The deadline scheduler: every `CITYLOOP_SCHEDULER_SECS` seconds (default 60) it fires
/// due escalations. Each escalation is recorded once in the store, so restarts and
/// overlapping passes never fire one twice. Once a (local) day, and at start-up, it logs
/// the calendar coverage warning when there is one. The first pass runs at start-up, or
/// after `CITYLOOP_SCHEDULER_DELAY_SECS` when set; on Unix, `SIGUSR1` runs a pass at once
/// (docs/OPERATIONS.md; the browser test uses both to see an escalation arrive live).
async fn scheduler(svc: Services) {
    let env_secs = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    let secs = env_secs("CITYLOOP_SCHEDULER_SECS")
        .filter(|s| *s > 0)
        .unwrap_or(60);
    let period = std::time::Duration::from_secs(secs);
    let first = tokio::time::Instant::now()
        + std::time::Duration::from_secs(env_secs("CITYLOOP_SCHEDULER_DELAY_SECS").unwrap_or(0));
    let mut tick = tokio::time::interval_at(first, period);
    #[cfg(unix)]
    let mut usr1 =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).ok();
    let mut coverage_log = cityloop_service::calendar::CoverageLog::default();
    loop {
        #[cfg(unix)]
        {
            let now = async {
                match usr1.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => {}
                _ = now => tracing::info!("SIGUSR1: a scheduler pass now"),
            }
        }
        #[cfg(not(unix))]
        tick.tick().await;
        let coverage = svc.calendar_coverage();
        if coverage_log.due(&coverage) {
            if let Some(w) = coverage.warning {
                tracing::warn!(
                    years = ?coverage.years,
                    coverage_end = ?coverage.coverage_end,
                    days_left = ?coverage.days_left,
                    "calendar coverage: {w}"
                );
            }
        }
        match svc.escalate_due().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(escalations = n, "scheduler pass"),
            Err(e) => tracing::warn!(error = %e, "scheduler pass failed; retrying next tick"),
        }
    }
}

/// Starts the MQTT subscriber (when a broker is configured) and the offline check.
fn start_sensors(svc: &Services, args: &SensorArgs) -> Result<()> {
    if let Some(url) = &args.mqtt_url {
        let district = args
            .mqtt_district
            .clone()
            .unwrap_or_else(|| svc.district.code.clone());
        let cfg = cityloop_service::sensors::mqtt::MqttConfig::from_url(
            url,
            &args.mqtt_client_id,
            &district,
        )
        .map_err(|e| anyhow::anyhow!("--mqtt-url: {e}"))?;
        tracing::info!(broker = %url, filter = %cfg.filter(), "sensor intake: MQTT");
        cityloop_service::sensors::mqtt::spawn(svc.clone(), cfg);
    }
    svc.sensors
        .set_raw_days(args.sensor_raw_days)
        .map_err(|e| anyhow::anyhow!("--sensor-raw-days: {e}"))?;
    let pruner = svc.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = pruner.sensor_prune_pass().await {
                tracing::warn!(error = %e, "pruning raw sensor readings failed; retrying next hour");
            }
        }
    });
    let every = cityloop_domain::webhook::parse_duration(&args.sensor_offline_check)
        .map_err(|e| anyhow::anyhow!("--sensor-offline-check: {e}"))?
        .max(std::time::Duration::from_millis(100));
    let svc = svc.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = svc.sensor_offline_pass().await {
                tracing::warn!(error = %e, "sensor offline check failed; retrying next tick");
            }
        }
    });
    Ok(())
}

/// The webhook delivery worker: every `poll` it sends the due deliveries of the outbox.
/// A delivery interrupted by a crash is retried after its lease expires (at least once;
/// receivers dedupe on `X-Cityloop-Delivery`).
async fn webhook_worker(svc: Services, sender: WebhookSender, poll: std::time::Duration) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match svc.deliver_webhooks(&sender).await {
            Ok(p) if p == DeliveryPass::default() => {}
            Ok(p) => tracing::info!(
                delivered = p.delivered,
                retried = p.retried,
                dead = p.dead,
                "webhook pass"
            ),
            Err(e) => tracing::warn!(error = %e, "webhook pass failed; retrying next tick"),
        }
    }
}

/// The message worker: every `poll` it hands the due messages to their channels. A
/// message interrupted by a crash is tried again after its lease expires (at least once).
async fn message_worker(svc: Services, sender: MessageSender, poll: std::time::Duration) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match svc.deliver_messages(&sender).await {
            Ok(p) if p == DeliveryPass::default() => {}
            Ok(p) => tracing::info!(
                delivered = p.delivered,
                retried = p.retried,
                dead = p.dead,
                "message pass"
            ),
            Err(e) => tracing::warn!(error = %e, "message pass failed; retrying next tick"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

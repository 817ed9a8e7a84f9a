//! Command line and environment: every setting is a flag with a matching `TALLY_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::AuthConfig;
use crate::connections::ConnectionLimits;
use crate::domain::UserId;
use crate::jobs::JobSettings;
use crate::live::StreamLimits;
use crate::logging::LogFormat;
use crate::store::{Projection, SqliteOptions, Store, StoreError};

mod parse;
mod public_url;
use parse::{check_postgres_url, parse_duration, parse_listen, parse_schedule};
pub use public_url::{PublicUrl, parse_public_url};

/// tally: task activity turned into live dashboard figures.
#[derive(Debug, Parser)]
#[command(name = "tally", version, about)]
pub struct Cli {
    /// How log lines look: `text`, or `json` (one object per line).
    #[arg(long, env = "TALLY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: CliCommand,
}

/// Each subcommand takes only the settings it uses, so its `--help` lists only those.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Serve the HTTP API (creating and migrating the database if needed).
    Serve(Box<Settings>),
    /// Create or migrate the database, then exit.
    Migrate(Database),
    /// Print a token for a user, signed with the configured HS256 secret (or the one
    /// generated in the data directory).
    Token {
        /// The user id the token names (its `sub`).
        #[arg(long)]
        user: String,
        /// How long the token is valid: e.g. 90s, 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        ttl: chrono::Duration,
        /// Print a link that opens the dashboard page signed in (`http://<listen>/#token=…`)
        /// instead of the bare token.
        #[arg(long)]
        link: bool,
        /// The address `tally serve` listens on, for `--link`: IP:PORT or HOST:PORT.
        #[arg(long, env = "TALLY_LISTEN", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
        listen: SocketAddr,
        #[command(flatten)]
        keys: Keys,
        /// Where the generated JWT secret lives.
        #[arg(long, env = "TALLY_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Rebuild read models from the event log while the server keeps running.
    Rebuild {
        /// Which read model to swap in (`all`: every one).
        #[arg(long, default_value = "all", value_parser = projection_names())]
        projection: String,
        #[command(flatten)]
        database: Database,
    },
    /// Compare the read models with the event log; exit 1 on drift.
    Verify {
        /// Rewrite the drifted rows, in one transaction.
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        database: Database,
    },
    /// Speak MCP on stdin and stdout as one user, for AI assistants that launch a local
    /// command; safe beside a running `tally serve` on the same database.
    Mcp {
        /// The user the assistant acts as (what a token's `sub` would name).
        #[arg(long, value_parser = UserId::parse)]
        user: UserId,
        #[command(flatten)]
        database: Database,
    },
    /// Fill the store through the real command path, for demos and benchmarks. Adds to what
    /// is there.
    Seed {
        /// Users seed-0 … seed-{N-1}.
        #[arg(long, default_value_t = 10)]
        users: usize,
        /// Tasks per user.
        #[arg(long, default_value_t = 100)]
        tasks: usize,
        /// Teams seed-team-0 … seed-team-{N-1}, each made by a seed user.
        #[arg(long, default_value_t = 0)]
        teams: usize,
        /// Members per team, its admin included (at most --users).
        #[arg(long, default_value_t = 10)]
        team_size: usize,
        #[command(flatten)]
        database: Database,
    },
}

/// `--projection`: the name of one read model, or `all` (see [`Projection::chosen`]).
fn projection_names() -> PossibleValuesParser {
    let names = Projection::ALL.map(Projection::name);
    PossibleValuesParser::new(names.into_iter().chain(["all"]))
}

/// Where the data is: every subcommand that opens the store takes these.
#[derive(Debug, Clone, Args)]
pub struct Database {
    /// Database URL: sqlite://PATH or postgres://… [default: sqlite://<data dir>/tally.db]
    #[arg(long, env = "TALLY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL URL for what needs a session of its own (migrations, a rebuild's lock) when
    /// `--database-url` goes through a transaction pooler (`pgbouncer=true`).
    #[arg(long, env = "TALLY_DATABASE_DIRECT_URL", hide_env_values = true)]
    pub database_direct_url: Option<String>,
    /// Where the SQLite database and the generated JWT secret live.
    #[arg(long, env = "TALLY_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// SQLite durability: `full` survives power loss; `normal` only a process crash, faster.
    #[arg(long, env = "TALLY_SQLITE_SYNC", default_value = "full")]
    pub sqlite_sync: SqliteSync,
}

/// Which tokens are valid.
#[derive(Debug, Clone, Args)]
pub struct Keys {
    /// HS256 secret (at least 32 bytes) that signs and checks tokens; instead of a public key.
    #[arg(
        long,
        env = "TALLY_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "jwt_public_key_file"
    )]
    pub jwt_secret: Option<String>,
    /// PEM public key (RS256, ES256 or EdDSA) for tokens from an identity provider.
    #[arg(long, env = "TALLY_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// Required `iss` claim, when set.
    #[arg(long, env = "TALLY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "TALLY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

/// What `tally serve` runs with.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub database: Database,
    #[command(flatten)]
    pub keys: Keys,
    /// PostgreSQL hot standbys (streaming replicas) that take reads once they have replayed
    /// far enough, comma-separated; the primary takes the rest.
    #[arg(
        long,
        env = "TALLY_DATABASE_READ_URL",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub database_read_url: Vec<String>,
    /// Address the server listens on: IP:PORT or HOST:PORT (`0.0.0.0:8080`: every address).
    #[arg(long, env = "TALLY_LISTEN", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Serve `GET /metrics` on this address only (not on `--listen`), e.g. 127.0.0.1:9090.
    #[arg(long, env = "TALLY_METRICS_LISTEN", value_parser = parse_listen)]
    pub metrics_listen: Option<SocketAddr>,
    /// Origins a browser may call the API from, comma-separated (e.g.
    /// `https://app.example.com,http://localhost:5173`); none: CORS off.
    #[arg(long, env = "TALLY_CORS_ORIGINS", value_parser = crate::http::cors::parse_origins)]
    pub cors_origins: Option<crate::http::cors::Origins>,
    /// The URL clients reach this server at, when not `http://<Host>` (behind a proxy, on a
    /// public name), e.g. `https://tally.example.com`: `/mcp`'s metadata and 401 name it, and
    /// `/mcp` accepts its host besides loopback ones.
    #[arg(long, env = "TALLY_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<PublicUrl>,
    /// Cron (6 fields, UTC) of the day/week roll-over job; `off` disables it.
    #[arg(long, env = "TALLY_JOB_ROLL_OVER", default_value = "0 0 0 * * *", value_parser = parse_schedule)]
    pub job_roll_over: String,
    /// Cron of the sampled verify job; `off` disables it.
    #[arg(long, env = "TALLY_JOB_SAMPLE_VERIFY", default_value = "0 30 * * * *", value_parser = parse_schedule)]
    pub job_sample_verify: String,
    /// Users the sampled verify checks per tick.
    #[arg(long, env = "TALLY_JOB_SAMPLE_USERS", default_value_t = 100)]
    pub job_sample_users: u32,
    /// Cron of the idempotency-key expiry job; `off` disables it.
    #[arg(long, env = "TALLY_JOB_EXPIRE_KEYS", default_value = "0 15 * * * *", value_parser = parse_schedule)]
    pub job_expire_keys: String,
    /// Connections served at once; more wait until one closes.
    #[arg(
        long,
        env = "TALLY_MAX_CONNECTIONS",
        default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: u32,
    /// How long a client has to send a request's headers after connecting or after its last
    /// response (so also how long an idle keep-alive connection stays open): 10s, 1m, …
    #[arg(
        long,
        env = "TALLY_HEADER_READ_TIMEOUT",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub header_read_timeout: chrono::Duration,
    /// How long writing to a client may make no progress (it reads nothing) before its
    /// connection is closed: a response, and also a dashboard stream's events and keep-alives
    /// and the last bytes of a response or stream that has ended: 30s, 1m, …
    #[arg(
        long,
        env = "TALLY_WRITE_TIMEOUT",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub write_timeout: chrono::Duration,
    /// Dashboard streams one user may have open on this server at once; more are answered 503.
    #[arg(
        long,
        env = "TALLY_STREAMS_PER_USER",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub streams_per_user: u32,
    /// Dashboard streams open on this server at once; more are answered 503. Each holds a
    /// connection, so keep it below `--max-connections`.
    #[arg(
        long,
        env = "TALLY_MAX_STREAMS",
        default_value_t = 256,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_streams: u32,
    /// Memory for dashboard rows kept on this server, in MiB, on PostgreSQL (SQLite keeps
    /// its own, per worker thread): a read of a kept row is no round trip. 0 keeps none.
    #[arg(
        long,
        env = "TALLY_READ_CACHE_MB",
        default_value_t = DEFAULT_READ_CACHE_MB,
        value_parser = clap::value_parser!(u32).range(0..=1_048_576)
    )]
    pub read_cache_mb: u32,
}

/// `TALLY_READ_CACHE_MB`'s default: about 200,000 users' rows.
pub const DEFAULT_READ_CACHE_MB: u32 = 64;

/// SQLite's `synchronous` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSync {
    Full,
    Normal,
}

impl Database {
    /// The database URL, defaulting to a file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("tally.db").display()))
    }

    /// Opens (creating and migrating where needed) the configured database.
    pub async fn open_store(&self) -> Result<Arc<dyn Store>, StoreError> {
        self.open_store_with_standbys(&[]).await
    }

    /// [`open_store`](Self::open_store), with hot standbys to read from (`tally serve`'s
    /// `TALLY_DATABASE_READ_URL`).
    pub async fn open_store_with_standbys(
        &self,
        read_urls: &[String],
    ) -> Result<Arc<dyn Store>, StoreError> {
        let url = self.database_url();
        if !url.starts_with("sqlite:") {
            check_postgres_url("TALLY_DATABASE_URL", &url)?;
        }
        let direct_url = self.database_direct_url.as_deref();
        if let Some(direct) = direct_url {
            check_postgres_url("TALLY_DATABASE_DIRECT_URL", direct)?;
            if url.starts_with("sqlite:") {
                tracing::warn!("TALLY_DATABASE_DIRECT_URL is for PostgreSQL: ignored with SQLite");
            }
        }
        // An empty list (`TALLY_DATABASE_READ_URL=`) or entry (a trailing comma) names none.
        let read_urls: Vec<String> = read_urls
            .iter()
            .filter(|url| !url.trim().is_empty())
            .cloned()
            .collect();
        for read_url in &read_urls {
            check_postgres_url("TALLY_DATABASE_READ_URL", read_url)?;
        }
        if url.starts_with("sqlite:") && !read_urls.is_empty() {
            tracing::warn!("TALLY_DATABASE_READ_URL is for PostgreSQL: ignored with SQLite");
        }
        let read_urls = match url.starts_with("sqlite:") {
            true => &[][..],
            false => &read_urls[..],
        };
        crate::store::open_with(&url, direct_url, read_urls, self.sqlite()).await
    }

    pub fn sqlite(&self) -> SqliteOptions {
        SqliteOptions {
            full_sync: self.sqlite_sync == SqliteSync::Full,
            ..SqliteOptions::default()
        }
    }
}

impl Keys {
    pub fn auth(&self) -> AuthConfig {
        AuthConfig {
            secret: self.jwt_secret.clone(),
            public_key_file: self.jwt_public_key_file.clone(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
        }
    }
}

impl Settings {
    pub fn jobs(&self) -> JobSettings {
        let schedule = |cron: &str| (cron != "off").then(|| cron.to_owned());
        JobSettings {
            roll_over: schedule(&self.job_roll_over),
            sample_verify: schedule(&self.job_sample_verify),
            expire_keys: schedule(&self.job_expire_keys),
            sample_users: self.job_sample_users,
        }
    }

    pub fn stream_limits(&self) -> StreamLimits {
        StreamLimits {
            per_user: self.streams_per_user as usize,
            per_node: self.max_streams as usize,
        }
    }

    pub fn connections(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections as usize,
            header_read_timeout: self
                .header_read_timeout
                .to_std()
                .expect("a positive duration"),
            write_timeout: self.write_timeout.to_std().expect("a positive duration"),
        }
    }
}

//! Service configuration: layered files, environment overrides, validation at start.
//!
//! Layers, later ones winning:
//! 1. `base.toml` in the configuration folder: every setting, with safe local defaults;
//! 2. `local.toml` or `production.toml`, chosen by `SAFEQUIZ_ENV` (default `local`);
//! 3. `SAFEQUIZ__SECTION__KEY` environment variables (e.g. `SAFEQUIZ__HOT__SHARDS=8`);
//! 4. the operators' shortcuts `SAFEQUIZ_HTTP_ADDR`, `SAFEQUIZ_REDIS_URL`, `SAFEQUIZ_REDIS_CLUSTER`,
//!    `SAFEQUIZ_DATABASE_URL` and `SAFEQUIZ_SECRET`, which always win.
//!
//! Everything is checked before the service starts and all problems are reported at once, each
//! naming the file or variable that set the key. Production refuses the default or a short
//! secret, an SQLite file under a temporary folder and a public address without trusted
//! proxies; `serve` also checks Redis's AOF there (`startup::production_checks`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use safequiz_redis::RedisSettings;
use safequiz_sql::{Backend, DatabaseSettings};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::client_address::ProxyNetwork;

/// The secret `base.toml` ships with; fine on a laptop, refused in production.
pub const DEFAULT_SECRET: &str = "local-development-secret-not-for-production";

/// Shortest secret production accepts, in bytes.
pub const MIN_PRODUCTION_SECRET_BYTES: usize = 32;

/// The operators' shortcut variables and the keys they set.
pub const SHORTCUTS: [(&str, &str); 5] = [
    ("SAFEQUIZ_HTTP_ADDR", "http.addr"),
    ("SAFEQUIZ_REDIS_URL", "redis.url"),
    ("SAFEQUIZ_REDIS_CLUSTER", "redis.cluster"),
    ("SAFEQUIZ_DATABASE_URL", "database.url"),
    ("SAFEQUIZ_SECRET", "auth.secret"),
];

/// Which overlay file is in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    /// A developer's machine: `local.toml`.
    Local,
    /// A real deployment: `production.toml`; refuses default secrets.
    Production,
}

impl Environment {
    /// Reads `SAFEQUIZ_ENV` (`local` when unset).
    pub fn parse(name: &str) -> Option<Environment> {
        match name {
            "local" => Some(Environment::Local),
            "production" => Some(Environment::Production),
            _ => None,
        }
    }

    /// The overlay file's stem.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Production => "production",
        }
    }
}

/// Every setting of the service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP listener.
    pub http: HttpSettings,
    /// Redis, the hot state.
    pub redis: RedisSettings,
    /// SQL, the durable record.
    pub database: DatabaseSettings,
    /// Token signing.
    pub auth: AuthSettings,
    /// Hot-state layout.
    pub hot: HotSettings,
    /// The stream-to-SQL flusher.
    pub flusher: FlusherSettings,
    /// The automatic-submission sweeper.
    pub sweeper: SweeperSettings,
    /// Where campaigns and banks are read from.
    pub data: DataSettings,
    /// The service's clock (test only: production refuses an offset).
    #[serde(default)]
    pub clock: ClockSettings,
    /// Request limits: registrations, a participant's requests, live streams.
    #[serde(default)]
    pub limits: LimitSettings,
}

/// The `[limits]` section (docs/design.md §2.7, docs/operations.md "Limits"): what one client
/// may ask before `429 rate_limited` (or `503 too_many_streams`). A count of 0 turns that limit
/// off. The defaults leave a 20,000 attempts/s peak behind a few proxies untouched: a whole
/// enterprise behind one NAT may register at nine o'clock, so the per-address limit is
/// generous; one phone registers a few times at most, so its limit is tight.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Registrations to one campaign from one client address per `address_window_secs`, across
    /// every replica (counted in Redis). The address is the TCP peer, or behind one of
    /// `http.trusted_proxies` the client it forwards for.
    pub registrations_per_address: u64,
    /// The window of `registrations_per_address`, in seconds, from its first registration.
    pub address_window_secs: u64,
    /// Registrations to one campaign with one phone per `phone_window_secs`, across every
    /// replica (counted in Redis under the keyed phone hash).
    pub registrations_per_phone: u64,
    /// The window of `registrations_per_phone`, in seconds.
    pub phone_window_secs: u64,
    /// Requests carrying one participant's token per `participant_window_secs`, counted in each
    /// replica's memory (no Redis call on the hot path; docs/design.md §2.7): with N replicas
    /// behind a balancer a participant gets at most N times this.
    pub participant_requests: u64,
    /// The window of `participant_requests`, in seconds.
    pub participant_window_secs: u64,
    /// Live leaderboard streams (SSE) open at once on this replica; one more is `503
    /// too_many_streams` with `Retry-After`.
    pub live_streams_per_replica: u64,
}

impl LimitSettings {
    /// The limits as the start's configuration line shows them (`0` is off).
    pub fn summary(&self) -> String {
        format!(
            "limits.registrations_per_address={}/{}s limits.registrations_per_phone={}/{}s \
             limits.participant_requests={}/{}s limits.live_streams_per_replica={}",
            self.registrations_per_address,
            self.address_window_secs,
            self.registrations_per_phone,
            self.phone_window_secs,
            self.participant_requests,
            self.participant_window_secs,
            self.live_streams_per_replica,
        )
    }
}

impl Default for LimitSettings {
    fn default() -> LimitSettings {
        LimitSettings {
            registrations_per_address: 3_000,
            address_window_secs: 60,
            registrations_per_phone: 20,
            phone_window_secs: 3_600,
            participant_requests: 600,
            participant_window_secs: 60,
            live_streams_per_replica: 5_000,
        }
    }
}

/// The `[clock]` section: lets the load kit play campaign days without waiting for them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// Seconds added to the system clock (`SAFEQUIZ__CLOCK__OFFSET_SECS`); 0 in every real
    /// deployment. Production refuses any other value: the server's clock decides every
    /// deadline and day (docs/design.md §2.2), so it must be the real one.
    #[serde(default)]
    pub offset_secs: i64,
}

impl ClockSettings {
    /// The clock these settings describe: the system clock, moved by the offset.
    pub fn clock(&self) -> crate::clock::Clock {
        crate::clock::Clock::system_with_offset(self.offset_secs)
    }
}

/// The `[http]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to listen on, e.g. `127.0.0.1:8080`; port 0 picks a free port (tests).
    pub addr: String,
    /// Largest JSON body accepted, in bytes; larger bodies get `413`.
    pub max_body_bytes: usize,
    /// Worker threads of the HTTP server; 0 means one per core.
    pub workers: usize,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` / `Forwarded`
    /// headers name the client; from anyone else those headers are ignored. Parsed at start
    /// into [`crate::http::client_address::TrustedProxies`].
    pub trusted_proxies: Vec<String>,
    /// Milliseconds a public board (unit or individual leaderboard) is served from one
    /// computation before it is computed again; plain GETs and live streams share it.
    pub board_snapshot_ms: u64,
    /// Milliseconds a client has, from connecting (or from its previous request on a kept-alive
    /// connection), to send a request's whole head; a slower one gets `408` and the connection
    /// is closed, so a client trickling headers cannot hold a connection.
    #[serde(default = "default_client_request_timeout_ms")]
    pub client_request_timeout_ms: u64,
    /// Seconds an idle kept-alive connection stays open; 0 closes each after one request.
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: u64,
}

fn default_client_request_timeout_ms() -> u64 {
    5_000
}

fn default_keep_alive_secs() -> u64 {
    75
}

/// The `[auth]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Key for HMAC-signed tokens and keyed phone hashes. Changing it logs everybody out.
    pub secret: SecretString,
    /// Hours a participant token stays valid.
    pub participant_token_ttl_hours: u32,
    /// Hours an organizer session lasts before logging in again.
    pub organizer_session_hours: u32,
    /// The id of `secret`, written into every token it signs (`2.<key id>.…`), so that after a
    /// rotation a token names the secret that verifies it: 1 to 16 of `A-Z a-z 0-9 _ -`.
    #[serde(default = "default_key_id")]
    pub key_id: String,
    /// The secret before the last rotation: tokens it signed (its `previous_key_id`, or tokens
    /// of the format before key ids) keep verifying until `previous_valid_until`.
    #[serde(default)]
    pub previous_secret: Option<SecretString>,
    /// The key id of `previous_secret`.
    #[serde(default)]
    pub previous_key_id: Option<String>,
    /// The instant (RFC 3339, e.g. `2026-07-01T00:00:00+08:00`) after which tokens signed with
    /// `previous_secret` are refused as expired.
    #[serde(default)]
    pub previous_valid_until: Option<String>,
    /// The key of the phone hashes, when it is not `secret`: registered phones are found by
    /// their keyed hash, so it must stay what it was when they registered. Before the first
    /// rotation set it to the secret in force (rotations are refused without it).
    #[serde(default)]
    pub phone_secret: Option<SecretString>,
    /// Consecutive failed logins after which an organizer account is locked (0: never); counted
    /// in SQL per account, beside the Redis rate limits (issue 20, 等保 level 3).
    #[serde(default = "default_lockout_failures")]
    pub organizer_lockout_failures: u32,
    /// Minutes a locked account stays locked.
    #[serde(default = "default_lockout_minutes")]
    pub organizer_lockout_minutes: u32,
    /// Minutes without a request after which an organizer's sessions end (0: never).
    #[serde(default = "default_idle_minutes")]
    pub organizer_idle_minutes: u32,
    /// Days a password may be used before it must be changed (0: never).
    #[serde(default = "default_password_days")]
    pub organizer_password_days: u32,
    /// Whether every organizer must use a second factor (TOTP) to log in.
    #[serde(default)]
    pub organizer_totp_required: bool,
}

fn default_lockout_failures() -> u32 {
    5
}

fn default_lockout_minutes() -> u32 {
    30
}

fn default_idle_minutes() -> u32 {
    30
}

fn default_password_days() -> u32 {
    90
}

fn default_key_id() -> String {
    DEFAULT_KEY_ID.to_owned()
}

/// The key id of `auth.secret` when none is configured.
pub const DEFAULT_KEY_ID: &str = "k1";

/// The previous signing secret and until when it is accepted (`auth.previous_*`).
#[derive(Clone, Debug)]
pub struct PreviousSecret {
    /// Its key id.
    pub key_id: String,
    /// The secret.
    pub secret: SecretString,
    /// The instant after which its tokens are refused.
    pub valid_until: jiff::Timestamp,
}

impl AuthSettings {
    /// Whether the secret is the one `base.toml` ships with.
    pub fn secret_is_default(&self) -> bool {
        self.secret.expose_secret() == DEFAULT_SECRET
    }

    /// The previous secret, when a rotation is configured and its settings are complete and
    /// readable (validation reports them otherwise).
    pub fn previous(&self) -> Option<PreviousSecret> {
        Some(PreviousSecret {
            key_id: self.previous_key_id.clone()?,
            secret: self.previous_secret.clone()?,
            valid_until: self.previous_valid_until.as_deref()?.parse().ok()?,
        })
    }
}

/// The `[hot]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotSettings {
    /// Shards participants are spread over (`hash(participant) % shards`); each shard's keys share
    /// one hash tag. Fixed for the life of a campaign: changing it moves participants.
    pub shards: u16,
}

/// The `[flusher]` section: the worker that copies finalized attempts from Redis streams to SQL.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlusherSettings {
    /// Run a flusher inside `safequiz serve` (else run `safequiz flush` separately).
    pub enabled: bool,
    /// Most stream entries read from one shard in a flusher's pass; a transaction takes the
    /// entries of the shards read until it holds this many (so at most twice this).
    pub batch_rows: u32,
    /// Longest wait for a batch to fill, in milliseconds.
    pub batch_max_ms: u64,
    /// Seconds a flusher's lease on a shard lasts unless it takes it again: how long the shards
    /// of a flusher that died wait before another takes them.
    pub claim_idle_secs: u64,
    /// Refusals by SQL after which an entry goes to the dead-letter stream.
    pub max_deliveries: u32,
}

/// The `[sweeper]` section: the worker that submits attempts whose client vanished.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweeperSettings {
    /// Run a sweeper inside `safequiz serve`.
    pub enabled: bool,
    /// Milliseconds between sweeps of the deadline index.
    pub interval_ms: u64,
}

/// The `[data]` section: folders relative to the configuration folder.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    /// Folder of campaign files.
    pub campaigns_dir: PathBuf,
    /// Folder of question banks (with `categories.toml`).
    pub banks_dir: PathBuf,
}

/// Everything wrong with a configuration, one line per problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Each problem, naming the file or variable, the key and what is wrong.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the configuration has {} problem(s):",
            self.problems.len()
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A loaded configuration: the settings and where they came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The settings.
    pub settings: Settings,
    /// The environment in force.
    pub environment: Environment,
    /// The configuration folder, to resolve `data` folders against.
    pub dir: PathBuf,
}

impl Loaded {
    /// `data.campaigns_dir`, resolved against the configuration folder.
    pub fn campaigns_dir(&self) -> PathBuf {
        self.dir.join(&self.settings.data.campaigns_dir)
    }

    /// `data.banks_dir`, resolved against the configuration folder.
    pub fn banks_dir(&self) -> PathBuf {
        self.dir.join(&self.settings.data.banks_dir)
    }

    /// The settings as a log line, secrets redacted.
    pub fn redacted_summary(&self) -> String {
        let s = &self.settings;
        format!(
            "environment={} http.addr={} http.trusted_proxies=[{}] redis.url={} redis.cluster={} \
             redis.packed_entries={} database.url={} hot.shards={} auth.key_id={}{}{} {}",
            self.environment.as_str(),
            s.http.addr,
            s.http.trusted_proxies.join(","),
            s.redis
                .urls()
                .into_iter()
                .map(redact_url)
                .collect::<Vec<_>>()
                .join(","),
            s.redis.cluster,
            s.redis.packed_entries,
            redact_url(s.database.url.expose_secret()),
            s.hot.shards,
            s.auth.key_id,
            match s.auth.previous() {
                Some(previous) => format!(
                    " auth.previous_key_id={} auth.previous_valid_until={}",
                    previous.key_id, previous.valid_until
                ),
                None => String::new(),
            },
            if s.clock.offset_secs == 0 {
                String::new()
            } else {
                format!(" clock.offset_secs={} (test only)", s.clock.offset_secs)
            },
            s.limits.summary(),
        )
    }
}

/// Loads the configuration folder `dir` with the process environment.
pub fn load(dir: &Path) -> Result<Loaded, ConfigError> {
    let env_name = std::env::var("SAFEQUIZ_ENV").unwrap_or_else(|_| "local".to_owned());
    let Some(environment) = Environment::parse(&env_name) else {
        return Err(ConfigError {
            problems: vec![format!(
                "SAFEQUIZ_ENV is `{env_name}`; it must be `local` or `production`"
            )],
        });
    };
    let base = dir.join("base.toml");
    if !base.is_file() {
        return Err(ConfigError {
            problems: vec![format!(
                "{}: file not found (is --config the configuration folder?)",
                base.display()
            )],
        });
    }
    let overlay = dir.join(format!("{}.toml", environment.as_str()));
    let figment = Figment::new()
        .merge(Toml::file_exact(&base))
        .merge(Toml::file(&overlay))
        .merge(Env::prefixed("SAFEQUIZ__").split("__"))
        .merge(Env::raw().only(&SHORTCUTS.map(|(var, _)| var)).map(|var| {
            SHORTCUTS
                .iter()
                .find(|(name, _)| var == *name)
                .map_or_else(|| var.into(), |(_, key)| (*key).into())
        }));

    let settings: Settings = figment.extract().map_err(|error| ConfigError {
        problems: error.into_iter().map(|e| e.to_string()).collect(),
    })?;
    let problems = validate(&settings, environment, &figment);
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    Ok(Loaded {
        settings,
        environment,
        dir: dir.to_owned(),
    })
}

fn validate(settings: &Settings, environment: Environment, figment: &Figment) -> Vec<String> {
    let mut problems = Vec::new();
    let mut report = |key: &str, message: String| {
        problems.push(format!(
            "key `{key}` (set in {}): {message}",
            origin(figment, key)
        ));
    };
    if settings.http.addr.parse::<SocketAddr>().is_err() {
        report(
            "http.addr",
            format!(
                "`{}` is not an address like 127.0.0.1:8080",
                settings.http.addr
            ),
        );
    }
    if !(1024..=16 * 1024 * 1024).contains(&settings.http.max_body_bytes) {
        report(
            "http.max_body_bytes",
            "must be between 1024 and 16777216".to_owned(),
        );
    }
    if !(100..=60_000).contains(&settings.http.client_request_timeout_ms) {
        report(
            "http.client_request_timeout_ms",
            "must be between 100 and 60000".to_owned(),
        );
    }
    if settings.http.keep_alive_secs > 3_600 {
        report(
            "http.keep_alive_secs",
            "must be between 0 and 3600".to_owned(),
        );
    }
    if !(10..=60_000).contains(&settings.http.board_snapshot_ms) {
        report(
            "http.board_snapshot_ms",
            "must be between 10 and 60000".to_owned(),
        );
    }
    for (index, entry) in settings.http.trusted_proxies.iter().enumerate() {
        if let Err(error) = ProxyNetwork::parse(entry) {
            report(&format!("http.trusted_proxies[{index}]"), error.to_string());
        }
    }
    let redis_urls = settings.redis.urls();
    if redis_urls.is_empty()
        || redis_urls
            .iter()
            .any(|url| !url.starts_with("redis://") && !url.starts_with("rediss://"))
    {
        report(
            "redis.url",
            "must start with redis:// or rediss:// (with redis.cluster, each comma-separated \
             seed node)"
                .to_owned(),
        );
    } else if redis_urls.len() > 1 && !settings.redis.cluster {
        report(
            "redis.url",
            format!(
                "lists {} URLs; several seed nodes are a Redis Cluster: set redis.cluster = true \
                 (SAFEQUIZ_REDIS_CLUSTER=1)",
                redis_urls.len()
            ),
        );
    }
    if Backend::of_url(settings.database.url.expose_secret()).is_none() {
        report(
            "database.url",
            "must start with sqlite:// or postgres://".to_owned(),
        );
    }
    if !(1..=1024).contains(&settings.hot.shards) {
        report(
            "hot.shards",
            format!(
                "{} is out of range; it must be between 1 and 1024",
                settings.hot.shards
            ),
        );
    }
    if settings.auth.participant_token_ttl_hours == 0 {
        report(
            "auth.participant_token_ttl_hours",
            "must be at least 1".to_owned(),
        );
    }
    if !(1..=72).contains(&settings.auth.organizer_session_hours) {
        report(
            "auth.organizer_session_hours",
            "must be between 1 and 72".to_owned(),
        );
    }
    let secret = settings.auth.secret.expose_secret();
    if secret.is_empty() {
        report("auth.secret", "must not be empty".to_owned());
    }
    for (key, problem) in rotation_problems(&settings.auth, environment) {
        report(key, problem);
    }
    if environment == Environment::Production {
        for (key, problem) in production_problems(settings) {
            report(key, problem);
        }
    }
    if environment == Environment::Production
        && (secret == DEFAULT_SECRET || secret.len() < MIN_PRODUCTION_SECRET_BYTES)
    {
        report(
            "auth.secret",
            format!(
                "production refuses the default secret and any secret shorter than {MIN_PRODUCTION_SECRET_BYTES} bytes; \
                 set SAFEQUIZ_SECRET to a long random value"
            ),
        );
    }
    if !(1..=10_000).contains(&settings.flusher.batch_rows) {
        report(
            "flusher.batch_rows",
            "must be between 1 and 10000".to_owned(),
        );
    }
    if !(10..=60_000).contains(&settings.flusher.batch_max_ms) {
        report(
            "flusher.batch_max_ms",
            "must be between 10 and 60000".to_owned(),
        );
    }
    if settings.flusher.max_deliveries == 0 {
        report("flusher.max_deliveries", "must be at least 1".to_owned());
    }
    if settings.clock.offset_secs.unsigned_abs() > 10 * 365 * 86_400 {
        report(
            "clock.offset_secs",
            "must be within ten years of the system clock".to_owned(),
        );
    }
    for (key, secs) in [
        (
            "limits.address_window_secs",
            settings.limits.address_window_secs,
        ),
        (
            "limits.phone_window_secs",
            settings.limits.phone_window_secs,
        ),
        (
            "limits.participant_window_secs",
            settings.limits.participant_window_secs,
        ),
    ] {
        if !(1..=86_400).contains(&secs) {
            report(key, "must be between 1 and 86400".to_owned());
        }
    }
    if !(10..=60_000).contains(&settings.sweeper.interval_ms) {
        report(
            "sweeper.interval_ms",
            "must be between 10 and 60000".to_owned(),
        );
    }
    problems
}

/// Whether `id` can name a signing key inside a token: 1 to 16 of `A-Z a-z 0-9 _ -` (no dot,
/// which separates a token's fields).
pub fn is_key_id(id: &str) -> bool {
    (1..=16).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What is wrong with `auth.key_id` and a rotation (`auth.previous_*`, `auth.phone_secret`).
fn rotation_problems(auth: &AuthSettings, environment: Environment) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if !is_key_id(&auth.key_id) {
        problems.push((
            "auth.key_id",
            format!(
                "`{}` must be 1 to 16 letters, digits, `_` or `-`",
                auth.key_id
            ),
        ));
    }
    let given = [
        auth.previous_secret.is_some(),
        auth.previous_key_id.is_some(),
        auth.previous_valid_until.is_some(),
    ];
    if given.iter().any(|given| *given) && !given.iter().all(|given| *given) {
        problems.push((
            "auth.previous_secret",
            "a rotation needs all of auth.previous_secret, auth.previous_key_id and \
             auth.previous_valid_until"
                .to_owned(),
        ));
    }
    if let Some(id) = &auth.previous_key_id
        && (!is_key_id(id) || *id == auth.key_id)
    {
        problems.push((
            "auth.previous_key_id",
            format!(
                "`{id}` must be 1 to 16 letters, digits, `_` or `-`, and differ from auth.key_id"
            ),
        ));
    }
    if let Some(until) = &auth.previous_valid_until
        && until.parse::<jiff::Timestamp>().is_err()
    {
        problems.push((
            "auth.previous_valid_until",
            format!("`{until}` is not an instant like 2026-07-01T00:00:00+08:00"),
        ));
    }
    if let Some(previous) = &auth.previous_secret {
        if previous.expose_secret() == auth.secret.expose_secret() {
            problems.push((
                "auth.previous_secret",
                "is the same as auth.secret: a rotation changes the secret".to_owned(),
            ));
        }
        if auth.phone_secret.is_none() {
            problems.push((
                "auth.phone_secret",
                "must be set during a rotation, to the secret the registered phones were hashed \
                 with (the secret before the first rotation), or no registered phone is \
                 recognized any more"
                    .to_owned(),
            ));
        }
    }
    // After a rotation's window the `previous_*` settings go, but the phones registered before
    // it were hashed with the first secret: without `phone_secret` every returning participant
    // would silently register again. A key id other than the first says a rotation happened.
    if auth.previous_secret.is_none()
        && auth.key_id != DEFAULT_KEY_ID
        && auth.phone_secret.is_none()
    {
        problems.push((
            "auth.phone_secret",
            format!(
                "must stay set after a rotation (auth.key_id is {}, not {DEFAULT_KEY_ID}), to the \
                 secret the registered phones were hashed with, or no registered phone is \
                 recognized any more",
                auth.key_id
            ),
        ));
    }
    if environment == Environment::Production
        && let Some(phone) = &auth.phone_secret
        && phone.expose_secret().len() < MIN_PRODUCTION_SECRET_BYTES
    {
        problems.push((
            "auth.phone_secret",
            format!("production refuses a key shorter than {MIN_PRODUCTION_SECRET_BYTES} bytes"),
        ));
    }
    problems
}

/// Production refusals beyond the secret: settings that run but lose data or trust clients.
fn production_problems(settings: &Settings) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if settings.clock.offset_secs != 0 {
        problems.push((
            "clock.offset_secs",
            format!(
                "is {}; production refuses a clock offset (it exists for the load kit only): \
                 remove it",
                settings.clock.offset_secs
            ),
        ));
    }
    if let Some(path) = sqlite_path(settings.database.url.expose_secret())
        && let Some(folder) = temporary_folder(&path)
    {
        problems.push((
            "database.url",
            format!(
                "production refuses an SQLite file under the temporary folder {} (cleared at \
                 reboot or by tmp cleaners): put it on persistent storage, or use PostgreSQL",
                folder.display()
            ),
        ));
    }
    if let Ok(addr) = settings.http.addr.parse::<SocketAddr>()
        && is_public(addr.ip())
        && settings.http.trusted_proxies.is_empty()
    {
        problems.push((
            "http.trusted_proxies",
            format!(
                "is empty while http.addr `{}` is public: production runs behind reverse \
                 proxies, and without listing them every client shares a proxy's address (login \
                 limits) and request ids from the edge are dropped; list the proxies, or listen \
                 on a private or loopback address",
                settings.http.addr
            ),
        ));
    }
    problems
}

/// The file an `sqlite://` URL names, made absolute against the working directory; `None` for
/// another database. An in-memory database counts as a temporary one (`/dev/shm`).
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return Some(PathBuf::from("/dev/shm/:memory:"));
    }
    let path = Path::new(path);
    Some(if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    })
}

/// The temporary folder `path` lies under, if any: the system's (`TMPDIR`), `/tmp`, `/var/tmp`
/// or `/dev/shm` (memory), symbolic links of the existing part of the path resolved.
fn temporary_folder(path: &Path) -> Option<PathBuf> {
    let resolved = path
        .ancestors()
        .find_map(|ancestor| {
            let real = ancestor.canonicalize().ok()?;
            Some(real.join(path.strip_prefix(ancestor).ok()?))
        })
        .unwrap_or_else(|| path.to_owned());
    let mut folders = vec![std::env::temp_dir()];
    folders.extend(["/tmp", "/var/tmp", "/dev/shm"].map(PathBuf::from));
    folders.into_iter().find(|folder| {
        let folder = folder.canonicalize().unwrap_or_else(|_| folder.clone());
        folder != Path::new("/") && (resolved.starts_with(&folder) || path.starts_with(&folder))
    })
}

/// Whether listening on `ip` faces the internet: every interface (`0.0.0.0`, `::`) or a
/// globally routable address; loopback, private (RFC 1918, unique local `fc00::/7`), shared
/// (`100.64.0.0/10`) and link-local addresses are not.
fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Where the value of `key` came from: a file path or an environment variable. A list item
/// (`key[2]`) comes from wherever its list was set.
fn origin(figment: &Figment, key: &str) -> String {
    let key = key.split_once('[').map_or(key, |(list, _)| list);
    match figment.find_metadata(key) {
        Some(metadata) => match &metadata.source {
            Some(figment::Source::File(path)) => path.display().to_string(),
            _ => metadata.name.to_string(),
        },
        None => "no file".to_owned(),
    }
}

/// `scheme://user:password@host/...` with the password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::{Environment, Settings, redact_url, validate};

    /// The problems of the shipped `base.toml` with `redis.url` and `redis.cluster` set.
    fn redis_problems(url: &str, cluster: impl serde::Serialize) -> Vec<String> {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/base.toml");
        let figment = Figment::new()
            .merge(Toml::file_exact(base))
            .merge(("redis.url", url))
            .merge(("redis.cluster", cluster));
        let settings: Settings = figment.extract().expect("the shipped settings parse");
        validate(&settings, Environment::Local, &figment)
            .into_iter()
            .filter(|problem| problem.contains("redis.url"))
            .collect()
    }

    #[test]
    fn the_cluster_switch_reads_as_operators_write_it() {
        let seeds = "redis://10.0.0.5:7000,redis://10.0.0.6:7000";
        for on in [
            serde_json::json!(true),
            serde_json::json!(1),
            serde_json::json!("1"),
            serde_json::json!("yes"),
            serde_json::json!("ON"),
        ] {
            assert_eq!(redis_problems(seeds, &on), Vec::<String>::new(), "{on}");
        }
        for off in [
            serde_json::json!(false),
            serde_json::json!(0),
            serde_json::json!("no"),
        ] {
            let problems = redis_problems(seeds, &off);
            assert_eq!(
                problems.len(),
                1,
                "{off} turns the cluster off: {problems:?}"
            );
        }
    }

    #[test]
    fn attempt_entries_are_packed_unless_an_upgrade_turns_it_off() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/base.toml");
        let packed = |value: Option<serde_json::Value>| {
            let mut figment = Figment::new().merge(Toml::file_exact(&base));
            if let Some(value) = value {
                figment = figment.merge(("redis.packed_entries", value));
            }
            let settings: Settings = figment.extract().expect("the shipped settings parse");
            settings.redis.packed_entries
        };
        assert!(packed(None), "the shipped default");
        for off in [
            serde_json::json!(false),
            serde_json::json!("false"),
            serde_json::json!("0"),
        ] {
            assert!(!packed(Some(off.clone())), "{off}");
        }
    }

    #[test]
    fn a_cluster_takes_several_seed_nodes_and_one_redis_takes_one_url() {
        let cases = [
            ("redis://127.0.0.1:6379/0", false, None, "one Redis"),
            (
                "redis://10.0.0.5:7000",
                true,
                None,
                "a cluster from one seed",
            ),
            (
                "redis://10.0.0.5:7000, redis://10.0.0.6:7000,rediss://10.0.0.7:7000",
                true,
                None,
                "a cluster from several seeds",
            ),
            (
                "redis://10.0.0.5:7000,redis://10.0.0.6:7000",
                false,
                Some("several seed nodes are a Redis Cluster: set redis.cluster = true"),
                "a list without cluster",
            ),
            (
                "redis://10.0.0.5:7000,http://10.0.0.6:7000",
                true,
                Some("must start with redis:// or rediss://"),
                "one seed is not a Redis URL",
            ),
            (
                ",",
                true,
                Some("must start with redis:// or rediss://"),
                "no URL at all",
            ),
        ];
        for (url, cluster, expected, why) in cases {
            let problems = redis_problems(url, cluster);
            match expected {
                None => assert!(problems.is_empty(), "{why}: {problems:?}"),
                Some(text) => assert!(
                    problems.len() == 1 && problems[0].contains(text),
                    "{why}: expected {text:?} in {problems:?}"
                ),
            }
        }
    }

    #[test]
    fn production_refuses_a_clock_offset_and_local_takes_it() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/base.toml");
        let problems = |environment: Environment, offset: i64| {
            let figment = Figment::new()
                .merge(Toml::file_exact(&base))
                .merge(("auth.secret", "a-long-random-production-secret-0123456789"))
                .merge(("clock.offset_secs", offset));
            let settings: Settings = figment.extract().expect("the shipped settings parse");
            validate(&settings, environment, &figment)
        };
        assert_eq!(problems(Environment::Local, 86_400), Vec::<String>::new());
        assert_eq!(problems(Environment::Production, 0), Vec::<String>::new());
        let refused = problems(Environment::Production, 86_400);
        assert!(
            refused.len() == 1
                && refused[0].contains("clock.offset_secs")
                && refused[0].contains("production refuses a clock offset"),
            "{refused:?}"
        );
    }

    #[test]
    fn redact_url_hides_only_the_password() {
        let cases = [
            (
                "postgres://quiz:s3cret@db:5432/quiz",
                "postgres://quiz:***@db:5432/quiz",
                "password hidden",
            ),
            (
                "redis://127.0.0.1:6379/0",
                "redis://127.0.0.1:6379/0",
                "no credentials",
            ),
            (
                "sqlite://.local/safequiz.sqlite",
                "sqlite://.local/safequiz.sqlite",
                "file path",
            ),
            (
                "redis://:pw@host:6379",
                "redis://:***@host:6379",
                "password without user",
            ),
        ];
        for (url, expected, why) in cases {
            assert_eq!(redact_url(url), expected, "{why}");
        }
    }
}

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
//! naming the file or variable that set the key. Production refuses the default secret.

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
}

impl AuthSettings {
    /// Whether the secret is the one `base.toml` ships with.
    pub fn secret_is_default(&self) -> bool {
        self.secret.expose_secret() == DEFAULT_SECRET
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
    /// Most stream entries written to SQL in one transaction.
    pub batch_rows: u32,
    /// Longest wait for a batch to fill, in milliseconds.
    pub batch_max_ms: u64,
    /// Seconds an entry may stay pending with a dead consumer before another claims it.
    pub claim_idle_secs: u64,
    /// Deliveries after which an entry that keeps failing goes to the dead-letter stream.
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
             database.url={} hot.shards={}",
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
            redact_url(s.database.url.expose_secret()),
            s.hot.shards,
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
    if !(10..=60_000).contains(&settings.sweeper.interval_ms) {
        report(
            "sweeper.interval_ms",
            "must be between 10 and 60000".to_owned(),
        );
    }
    problems
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
fn redact_url(url: &str) -> String {
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

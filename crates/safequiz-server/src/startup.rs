//! Building and running the service: bind, serve, stop when the shutdown future fires.
//!
//! `safequiz serve` and the test app's `TestApp` both go through [`Application::build`], so tests
//! run exactly the server operators run. One shutdown future is given to
//! [`Application::run_until`]: HTTP stops gracefully first, then the sweeper, the flusher (or,
//! without a flusher, the preparation of the record), the board writer and the placement check
//! are told through one `watch` channel, finish their pass and are awaited before it returns.
//!
//! On a Redis Cluster the service checks at start, once Redis answers, that each campaign's
//! shards land on more than one primary, and warns in the log when they do not (`/readyz` says
//! so too); see docs/operations.md for choosing `hot.shards`.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use jiff::SignedDuration;
use safequiz_redis::HotState;
use safequiz_sql::Store;
use tokio::sync::watch;

use crate::auth::AuthKeys;
use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::config::Settings;
use crate::http::client_address::{InvalidProxy, TrustedProxies};
use crate::http::request_id::RequestIds;
use crate::http::snapshots::{MAX_BOARDS, Snapshots};
use crate::http::{AppState, routes};
use crate::metrics::{Metrics, RequestMetrics};
use crate::workers;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Redis pool could not be created.
    #[error(transparent)]
    Redis(#[from] safequiz_redis::RedisError),
    /// The database pool could not be created.
    #[error(transparent)]
    Store(#[from] safequiz_sql::StoreError),
    /// An entry of `http.trusted_proxies` is not an address or network (configuration
    /// validation reports it first; settings changed in code after validation reach this).
    #[error("key `http.trusted_proxies`: {0}")]
    TrustedProxies(#[from] InvalidProxy),
}

/// A bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    sweep_interval: Option<Duration>,
    flusher: Option<workers::flusher::FlusherOptions>,
    /// For the metrics poller's own connection.
    redis: safequiz_redis::RedisSettings,
}

impl Application {
    /// Connects the pools (lazily: a dependency that is down makes `/readyz` fail, not the
    /// start), binds `settings.http.addr` and prepares the server.
    pub fn build(
        settings: &Settings,
        catalogue: Arc<Catalogue>,
        clock: Clock,
    ) -> Result<Application, StartupError> {
        let state = build_state(settings, catalogue, clock)?;
        let listener =
            TcpListener::bind(&settings.http.addr).map_err(|source| StartupError::Bind {
                addr: settings.http.addr.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.http.addr.clone(),
                source,
            })?
            .port();
        let max_body_bytes = settings.http.max_body_bytes;
        let shared = state.clone();
        // Runs once on each worker thread: each worker gets Redis connections of its own.
        let mut server = HttpServer::new(move || {
            let worker = AppState {
                hot: shared.hot.with_own_connections(),
                ..shared.clone()
            };
            // Outermost: the request id covers every log line and error body of the request.
            let request_ids = RequestIds::new(worker.trusted_proxies.clone());
            // Inside it: requests counted by the route pattern that matched them.
            let request_metrics = RequestMetrics::new(Arc::clone(&worker.metrics));
            App::new()
                .wrap(request_metrics)
                .wrap(request_ids)
                .app_data(web::Data::new(worker))
                .configure(routes::configure(max_body_bytes))
        })
        .disable_signals()
        .shutdown_timeout(10)
        // Slow clients are cut: the head within `http.client_request_timeout_ms` (else 408),
        // idle kept-alive connections after `http.keep_alive_secs`.
        .client_request_timeout(Duration::from_millis(
            settings.http.client_request_timeout_ms,
        ))
        .keep_alive(match settings.http.keep_alive_secs {
            0 => actix_web::http::KeepAlive::Disabled,
            secs => actix_web::http::KeepAlive::Timeout(Duration::from_secs(secs)),
        });
        if settings.http.workers > 0 {
            server = server.workers(settings.http.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                addr: settings.http.addr.clone(),
                source,
            })?
            .run();
        let sweep_interval = settings
            .sweeper
            .enabled
            .then(|| Duration::from_millis(settings.sweeper.interval_ms));
        let flusher = settings.flusher.enabled.then(|| flusher_options(settings));
        Ok(Application {
            port,
            server,
            state,
            sweep_interval,
            flusher,
            redis: settings.redis.clone(),
        })
    }

    /// The state every handler and worker shares (tests call workers' `*_once` with it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The port actually bound (useful when the address asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` completes, then stops gracefully: in-flight requests finish and
    /// the workers finish their pass.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let (stop_workers, workers_stopped) = watch::channel(false);
        let sweeper = self.sweep_interval.map(|interval| {
            tokio::spawn(workers::sweeper::run(
                self.state.clone(),
                interval,
                workers_stopped.clone(),
            ))
        });
        let flusher = match self.flusher.clone() {
            Some(options) => tokio::spawn(workers::flusher::run(
                self.state.clone(),
                options,
                workers_stopped.clone(),
            )),
            // Without a flusher, the record is still migrated for the organizer pages.
            None => {
                let (state, mut stopped) = (self.state.clone(), workers_stopped.clone());
                tokio::spawn(async move {
                    workers::flusher::prepare_until_done(&state, &mut stopped).await;
                })
            }
        };
        // The question counters of what the flusher writes are folded beside it.
        let questions = self.flusher.as_ref().map(|_| {
            tokio::spawn(workers::questions::run(
                self.state.clone(),
                workers_stopped.clone(),
            ))
        });
        let boards = tokio::spawn(workers::boards::run(
            self.state.clone(),
            consumer_name(),
            workers_stopped.clone(),
        ));
        // Observations are written and the signals computed beside the flusher; a replica that
        // only serves ships its observations and leaves that work to a flusher's process.
        let fair_play = tokio::spawn(workers::fair_play::run(
            self.state.clone(),
            self.flusher
                .as_ref()
                .map(|options| options.consumer.clone()),
            workers_stopped.clone(),
        ));
        let placement = tokio::spawn(log_placement(self.state.clone(), workers_stopped.clone()));
        let poller = tokio::spawn(crate::metrics::run_poller(
            self.state.clone(),
            self.redis.clone(),
            workers_stopped.clone(),
        ));
        let handle = self.server.handle();
        let server = self.server;
        tokio::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            () = shutdown => {
                // The server future itself carries out the stop command, so it must keep being
                // polled while the stop is awaited.
                let ((), result) = tokio::join!(handle.stop(true), &mut server);
                result
            }
        };
        // Receivers see the change even if they are mid-pass; a send error only means every
        // worker has already gone.
        let _ = stop_workers.send(true);
        for (name, task) in [
            ("sweeper", sweeper),
            ("flusher", Some(flusher)),
            ("question fold", questions),
            ("board writer", Some(boards)),
            ("fair play", Some(fair_play)),
            ("placement check", Some(placement)),
            ("metrics poller", Some(poller)),
        ] {
            if let Some(task) = task
                && let Err(error) = task.await
            {
                tracing::error!(error = %error, worker = name, "a worker task failed");
            }
        }
        result
    }
}

/// On a Redis Cluster, logs where each campaign's shards live once Redis answers, with a warning
/// for a campaign whose shards all live on one of several primaries; retries every second until
/// Redis answers or the service stops. On a single Redis there is nothing to check.
async fn log_placement(state: AppState, mut stopped: watch::Receiver<bool>) {
    if !state.hot.is_cluster() {
        return;
    }
    loop {
        let mut placements = Vec::with_capacity(state.catalogue.campaigns.len());
        let mut failed = None;
        for campaign in &state.catalogue.campaigns {
            match state.hot.placement(&campaign.id, state.shards).await {
                Ok(placement) => placements.push((campaign.id.as_str(), placement)),
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        match failed {
            None => {
                for (campaign, placement) in placements {
                    match placement.warning(campaign) {
                        Some(warning) => tracing::warn!(campaign.id = campaign, "{warning}"),
                        None => tracing::info!(
                            campaign.id = campaign,
                            redis.primaries = placement.primaries,
                            shards.per_primary = ?placement.shards_per_primary(),
                            "the campaign's shards spread over the cluster's primaries"
                        ),
                    }
                }
                return;
            }
            Some(error) => {
                tracing::debug!(error = %error, "placement check: Redis does not answer yet");
            }
        }
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// What a production start learned about Redis's persistence (`CONFIG GET appendonly` on each
/// URL of `redis.url`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RedisPersistence {
    /// Nodes that answered `appendonly no`: production refuses to start.
    pub refusals: Vec<String>,
    /// Nodes that could not be checked (unreachable, or `CONFIG` refused as on many managed
    /// services): a warning, the operator checks by other means.
    pub warnings: Vec<String>,
}

/// Asks each node `redis.url` lists whether AOF is on. Without AOF a Redis restart loses every
/// open attempt and every stream entry not yet flushed (docs/operations.md), so production
/// refuses `appendonly no`; a node that does not answer within `redis.wait_secs`, or refuses
/// `CONFIG`, is only warned about: a dependency that is down fails `/readyz`, not the start.
/// On a Redis Cluster only the listed seed nodes are asked: list every primary to check them all.
pub async fn check_redis_persistence(settings: &safequiz_redis::RedisSettings) -> RedisPersistence {
    let wait = Duration::from_secs(settings.wait_secs.max(1));
    let mut found = RedisPersistence::default();
    for url in settings.urls() {
        let node = crate::config::redact_url(url);
        let answer = tokio::time::timeout(wait, async {
            let client = redis::Client::open(url)?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            redis::cmd("CONFIG")
                .arg("GET")
                .arg("appendonly")
                .query_async::<Vec<String>>(&mut connection)
                .await
        })
        .await;
        match answer {
            Err(_) => found.warnings.push(format!(
                "Redis {node} did not answer within {} s: its AOF (appendonly) is not checked",
                wait.as_secs()
            )),
            Ok(Err(error)) if error.is_io_error() || error.is_connection_refusal() => {
                found.warnings.push(format!(
                    "Redis {node} is not reachable ({error}): its AOF (appendonly) is not checked"
                ));
            }
            Ok(Err(error)) => found.warnings.push(format!(
                "Redis {node} refused CONFIG GET appendonly ({error}): check by other means that \
                 AOF is on"
            )),
            Ok(Ok(reply)) => match reply.get(1).map(String::as_str) {
                Some("yes") => {}
                other => found.refusals.push(format!(
                    "Redis {node} runs without AOF (appendonly {}): a restart would lose open \
                     attempts and unflushed results; set appendonly yes (appendfsync everysec)",
                    other.unwrap_or("unknown")
                )),
            },
        }
    }
    found
}

/// The state handlers and workers share, with lazily connecting pools: `serve` builds it inside
/// [`Application::build`]; `flush` and the recovery commands build it alone.
pub fn build_state(
    settings: &Settings,
    catalogue: Arc<Catalogue>,
    clock: Clock,
) -> Result<AppState, StartupError> {
    let boards = Arc::new(Snapshots::new(
        Duration::from_millis(settings.http.board_snapshot_ms),
        MAX_BOARDS,
    ));
    Ok(AppState {
        catalogue,
        hot: HotState::connect(&settings.redis)?,
        store: Store::connect_lazy(&settings.database)?,
        clock,
        auth: AuthKeys::from_settings(&settings.auth),
        shards: settings.hot.shards,
        token_ttl: SignedDuration::from_hours(i64::from(settings.auth.participant_token_ttl_hours)),
        session_ttl: SignedDuration::from_hours(i64::from(settings.auth.organizer_session_hours)),
        max_body_bytes: settings.http.max_body_bytes,
        trusted_proxies: TrustedProxies::parse(&settings.http.trusted_proxies)?,
        boards: Arc::clone(&boards),
        broadcaster: Arc::new(workers::broadcaster::Broadcaster::new(boards)),
        record_ready: Arc::new(AtomicBool::new(false)),
        fold_wanted: Arc::new(tokio::sync::Notify::new()),
        metrics: Arc::new(Metrics::new()),
        limits: Arc::new(crate::http::limits::Limits::new(&settings.limits)),
        login_policy: crate::http::organizer::security::LoginPolicy::from_settings(&settings.auth),
        fair_play: Arc::new(crate::http::fair_play::FairPlay::new(&settings.auth.secret)),
    })
}

/// The flusher's options from `[flusher]`, with this process's consumer name.
pub fn flusher_options(settings: &Settings) -> workers::flusher::FlusherOptions {
    workers::flusher::FlusherOptions {
        consumer: consumer_name(),
        batch_rows: settings.flusher.batch_rows as usize,
        idle: Duration::from_millis(settings.flusher.batch_max_ms),
        claim_idle: Duration::from_secs(settings.flusher.claim_idle_secs),
        max_deliveries: settings.flusher.max_deliveries,
    }
}

/// This process's flusher's and board writer's name, which their leases carry: host and process
/// id, unique among replicas. A restarted process has a new name; the shards the old name held
/// are taken when its leases run out (the flusher's after `flusher.claim_idle_secs`).
fn consumer_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}", std::process::id())
}

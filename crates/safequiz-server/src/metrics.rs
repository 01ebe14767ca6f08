//! What operators watch: the service's Prometheus metrics (docs/operations.md "What to watch").
//!
//! One [`Metrics`] per service (in [`AppState`]), kept with `prometheus-client` and encoded by
//! `GET /metrics` (`http::health::metrics`). Three kinds of figures, each gathered where it is
//! cheapest:
//!
//! - **Per request**, by the [`RequestMetrics`] middleware: requests by route *pattern* (never
//!   the raw path, so the label set is bounded by the route table) and status class, latency per
//!   route, and 503 answers (Redis unreachable, or not ready). Each worker thread resolves a
//!   route's counters once and keeps them in a map of its own, so a request costs the route
//!   pattern actix builds, one map lookup, one atomic add and one histogram observation.
//! - **Polled** every [`POLL_INTERVAL`] by [`run_poller`], never per request: open attempts
//!   (the deadline indexes' sizes), how far past its grace the oldest still-open attempt is (the
//!   sweeper's lateness) and the dead-letter streams' lengths, per campaign.
//! - **Per sweeper pass** (`workers::sweeper`): passes by outcome, attempts finalized, the last
//!   pass's instant and its duration.
//!
//! The flusher's lag and `safequiz_redis_up` are still read from Redis at each scrape (see
//! `http::health::metrics`), as before this module existed.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use safequiz_redis::keys::{Shard, ShardKeys};
use safequiz_redis::{Connection, RedisError, RedisSettings};
use tokio::sync::watch;

use crate::http::AppState;

/// How often [`run_poller`] reads the deadline indexes and dead-letter streams.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Upper bounds of the request latency buckets, in seconds: the hot path answers in about a
/// millisecond, exports take seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of the sweeper pass duration buckets, in seconds.
const SWEEP_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0];

/// The route label of a request no route matched (the JSON 404), or that failed before a
/// response existed.
const UNMATCHED: &str = "unmatched";

/// Status classes, indexed by `status / 100 - 1`.
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CampaignLabels {
    campaign: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric the service keeps between scrapes, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    unavailable: Family<RouteLabels, Counter>,
    open_attempts: Family<CampaignLabels, Gauge>,
    overdue: Family<CampaignLabels, FloatGauge>,
    dead_letters: Family<CampaignLabels, Gauge>,
    board_lag: Family<CampaignLabels, FloatGauge>,
    last_poll: FloatGauge,
    sweeper_passes: Family<OutcomeLabels, Counter>,
    sweeper_finalized: Counter,
    sweeper_last_pass: FloatGauge,
    sweeper_duration: Histogram,
    redis_errors: Family<SourceLabels, Counter>,
    flush_failing: Gauge,
    flush_failure: std::sync::Mutex<Option<jiff::Timestamp>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set, every metric registered (families appear once they have a series).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "safequiz_http_requests",
            "HTTP requests answered, by route pattern and status class",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "safequiz_http_request_duration_seconds",
            "Time from a request's arrival to its response head, by route pattern",
            latency.clone(),
        );
        let unavailable = Family::<RouteLabels, Counter>::default();
        registry.register(
            "safequiz_http_unavailable",
            "503 answers by route pattern: Redis unreachable, or the service not ready",
            unavailable.clone(),
        );
        let open_attempts = Family::<CampaignLabels, Gauge>::default();
        registry.register(
            "safequiz_open_attempts",
            "Attempts started and not yet finalized (the deadline indexes' sizes), by campaign",
            open_attempts.clone(),
        );
        let overdue = Family::<CampaignLabels, FloatGauge>::default();
        registry.register(
            "safequiz_sweeper_overdue_seconds",
            "How long past its grace the oldest still-open attempt is, by campaign (0 when none \
             is due); the sweeper's lateness",
            overdue.clone(),
        );
        let dead_letters = Family::<CampaignLabels, Gauge>::default();
        registry.register(
            "safequiz_dead_letters",
            "Stream entries the flusher set aside as unusable (dead-letter streams' length), by \
             campaign",
            dead_letters.clone(),
        );
        let board_lag = Family::<CampaignLabels, FloatGauge>::default();
        registry.register(
            "safequiz_board_writer_lag_seconds",
            "How long ago the oldest finalized attempt the board writer has yet to apply to the \
             individual boards was written, by campaign (0 when none); normally under a second",
            board_lag.clone(),
        );
        let last_poll = FloatGauge::default();
        registry.register(
            "safequiz_hot_poll_timestamp_seconds",
            "When the open-attempt, overdue and dead-letter figures were last read from Redis \
             (Unix time; 0 before the first read)",
            last_poll.clone(),
        );
        let sweeper_passes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "safequiz_sweeper_passes",
            "Sweeper passes by outcome (ok, error)",
            sweeper_passes.clone(),
        );
        let sweeper_finalized = Counter::default();
        registry.register(
            "safequiz_sweeper_finalized_attempts",
            "Attempts the sweeper finalized after their grace ended",
            sweeper_finalized.clone(),
        );
        let sweeper_last_pass = FloatGauge::default();
        registry.register(
            "safequiz_sweeper_last_pass_timestamp_seconds",
            "When this replica's sweeper last finished a pass without error (Unix time; 0 \
             before the first)",
            sweeper_last_pass.clone(),
        );
        let sweeper_duration = Histogram::new(SWEEP_BUCKETS);
        registry.register(
            "safequiz_sweeper_pass_duration_seconds",
            "How long one sweeper pass over every campaign and shard took",
            sweeper_duration.clone(),
        );
        let redis_errors = Family::<SourceLabels, Counter>::default();
        registry.register(
            "safequiz_redis_errors",
            "Redis calls that failed outside a request, by worker (sweeper, poller, scrape)",
            redis_errors.clone(),
        );
        let flush_failing = Gauge::default();
        registry.register(
            "safequiz_flush_failing",
            "1 while this replica's flusher's last pass failed on SQL (unreachable, read-only, \
             full): results wait in the Redis streams; 0 once a pass succeeds",
            flush_failing.clone(),
        );
        Metrics {
            registry,
            flush_failing,
            flush_failure: std::sync::Mutex::new(None),
            requests,
            latency,
            unavailable,
            open_attempts,
            overdue,
            dead_letters,
            board_lag,
            last_poll,
            sweeper_passes,
            sweeper_finalized,
            sweeper_last_pass,
            sweeper_duration,
            redis_errors,
        }
    }

    /// Appends every kept metric to `text` in the `OpenMetrics` text format, without the final
    /// `# EOF` (the scrape adds its own figures first).
    pub fn encode(&self, text: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::text::encode_registry(text, &self.registry)
    }

    /// A route's handles, made on the first request of that route.
    fn route(&self, route: &str) -> RouteMetrics {
        let labels = RouteLabels {
            route: route.to_owned(),
        };
        RouteMetrics {
            latency: self.latency.get_or_create_owned(&labels),
            unavailable: self.unavailable.get_or_create_owned(&labels),
            by_class: std::array::from_fn(|class| {
                self.requests.get_or_create_owned(&RequestLabels {
                    route: route.to_owned(),
                    status: STATUS_CLASSES[class],
                })
            }),
        }
    }

    /// A Redis call outside a request failed (`source`: sweeper, poller, scrape).
    pub fn redis_error(&self, source: &'static str) {
        self.redis_errors
            .get_or_create(&SourceLabels { source })
            .inc();
    }

    /// One flusher pass ended: `failed_on_sql` when SQL refused or did not answer (the entries
    /// stay pending in Redis), at `now`. A pass that failed on Redis says nothing about SQL and
    /// is not reported here.
    pub fn flush_pass(&self, failed_on_sql: bool, now: jiff::Timestamp) {
        self.flush_failing.set(i64::from(failed_on_sql));
        let mut since = self
            .flush_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (failed_on_sql, *since) {
            (true, None) => *since = Some(now),
            (false, _) => *since = None,
            (true, Some(_)) => {}
        }
    }

    /// Since when this replica's flusher has been failing on SQL, if it is (`/readyz`).
    pub fn flush_failing_since(&self) -> Option<jiff::Timestamp> {
        *self
            .flush_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One sweeper pass ended: `finalized` attempts, or an error; `now_secs` is the clock's
    /// Unix time at its end.
    pub fn sweeper_pass<E>(&self, outcome: &Result<usize, E>, took: Duration, now_secs: f64) {
        self.sweeper_duration.observe(took.as_secs_f64());
        let outcome = match outcome {
            Ok(finalized) => {
                self.sweeper_finalized.inc_by(*finalized as u64);
                self.sweeper_last_pass.set(now_secs);
                "ok"
            }
            Err(_) => {
                self.redis_error("sweeper");
                "error"
            }
        };
        self.sweeper_passes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}

/// One route's handles, resolved once per worker thread.
struct RouteMetrics {
    latency: Histogram,
    unavailable: Counter,
    by_class: [Counter; 5],
}

impl RouteMetrics {
    fn record(&self, status: StatusCode, took: Duration) {
        self.latency.observe(took.as_secs_f64());
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.by_class[class].inc();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            self.unavailable.inc();
        }
    }
}

/// The middleware factory counting every request: registered in `startup`, inside the
/// request-id middleware.
#[derive(Clone)]
pub struct RequestMetrics {
    metrics: Arc<Metrics>,
}

impl RequestMetrics {
    /// Counts into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> RequestMetrics {
        RequestMetrics { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestMetricsService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<RequestMetricsService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(RequestMetricsService {
            service,
            routes: Rc::new(Routes {
                metrics: Arc::clone(&self.metrics),
                resolved: RefCell::default(),
            }),
        }))
    }
}

/// One worker thread's route handles: no lock, no atomic reference count per request.
struct Routes {
    metrics: Arc<Metrics>,
    resolved: RefCell<HashMap<String, Rc<RouteMetrics>>>,
}

impl Routes {
    fn record(&self, route: Option<&str>, status: StatusCode, took: Duration) {
        let route = route.unwrap_or(UNMATCHED);
        let found = self.resolved.borrow().get(route).cloned();
        let handles = found.unwrap_or_else(|| {
            let made = Rc::new(self.metrics.route(route));
            self.resolved
                .borrow_mut()
                .insert(route.to_owned(), Rc::clone(&made));
            made
        });
        handles.record(status, took);
    }
}

/// The middleware around the application.
pub struct RequestMetricsService<S> {
    service: S,
    routes: Rc<Routes>,
}

impl<S, B> Service<ServiceRequest> for RequestMetricsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Timed<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        Timed {
            started: Instant::now(),
            routes: Rc::clone(&self.routes),
            inner: self.service.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The service's future, then the request counted under the route that matched it.
    pub struct Timed<F> {
        #[pin]
        inner: F,
        started: Instant,
        routes: Rc<Routes>,
    }
}

impl<F, B> Future for Timed<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let took = this.started.elapsed();
        match &result {
            Ok(response) => {
                // actix walks its resource tree by the indexes routing recorded: no regex. A
                // named route (the hot ones, `routes::hot`) is named by its whole pattern and
                // read in place; another's pattern is joined into a new `String`.
                let request = response.request();
                let route = request
                    .match_name()
                    .map(Cow::Borrowed)
                    .or_else(|| request.match_pattern().map(Cow::Owned));
                this.routes
                    .record(route.as_deref(), response.status(), took);
            }
            Err(error) => {
                this.routes
                    .record(None, error.as_response_error().status_code(), took);
            }
        }
        Poll::Ready(result)
    }
}

/// Reads the polled figures every [`POLL_INTERVAL`] until `shutdown` turns true, over a Redis
/// connection of its own (opened again after an error).
pub async fn run_poller(
    state: AppState,
    redis: RedisSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connection: Option<Connection> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        if connection.is_none() {
            match Connection::open(&redis.urls(), redis.cluster).await {
                Ok(opened) => connection = Some(opened),
                Err(error) => {
                    state.metrics.redis_error("poller");
                    tracing::debug!(error = %error, "metrics poller: Redis does not answer");
                    continue;
                }
            }
        }
        if let Some(open) = connection.as_mut()
            && let Err(error) = poll_once(&state, open).await
        {
            state.metrics.redis_error("poller");
            tracing::debug!(error = %error, "metrics poller: reading Redis failed");
            connection = None;
        }
    }
}

/// One read of every campaign's shards: one pipeline per shard (its keys share a hash tag, so
/// this works on a cluster too).
pub async fn poll_once(state: &AppState, connection: &mut Connection) -> Result<(), RedisError> {
    let now = state.clock.now();
    let now_ms = now.as_millisecond();
    for campaign in &state.catalogue.campaigns {
        let (mut open, mut dead, mut oldest_deadline) = (0_i64, 0_i64, None::<f64>);
        let mut oldest_unapplied: Option<i64> = None;
        for shard in Shard::all(state.shards) {
            let keys = ShardKeys::new(&campaign.id, shard);
            let next =
                safequiz_redis::board_writer::unapplied_ids(connection, &campaign.id, shard, 1)
                    .await?;
            if let Some(written) = next
                .first()
                .and_then(|id| id.split('-').next()?.parse::<i64>().ok())
            {
                oldest_unapplied = Some(oldest_unapplied.map_or(written, |o| o.min(written)));
            }
            let (count, first, letters): (i64, Vec<(String, f64)>, i64) = redis::pipe()
                .cmd("ZCARD")
                .arg(keys.deadlines())
                .cmd("ZRANGE")
                .arg(keys.deadlines())
                .arg(0)
                .arg(0)
                .arg("WITHSCORES")
                .cmd("XLEN")
                .arg(keys.dead_letters())
                .query_async(connection)
                .await?;
            open += count;
            dead += letters;
            if let Some((_, deadline)) = first.first() {
                oldest_deadline =
                    Some(oldest_deadline.map_or(*deadline, |oldest| oldest.min(*deadline)));
            }
        }
        let labels = CampaignLabels {
            campaign: campaign.id.clone(),
        };
        let metrics = &state.metrics;
        metrics.open_attempts.get_or_create(&labels).set(open);
        metrics.dead_letters.get_or_create(&labels).set(dead);
        // Stream ids come from Redis's clock, so the lag is read against the machine's, not the
        // service's (which tests may move).
        let wall_ms = jiff::Timestamp::now().as_millisecond();
        metrics.board_lag.get_or_create(&labels).set(
            oldest_unapplied.map_or(0.0, |written| (wall_ms - written).max(0) as f64 / 1000.0),
        );
        let overdue_ms =
            oldest_deadline.map_or(0.0, |deadline| (now_ms as f64 - deadline).max(0.0));
        metrics
            .overdue
            .get_or_create(&labels)
            .set(overdue_ms / 1000.0);
    }
    state
        .metrics
        .last_poll
        .set(now.as_millisecond() as f64 / 1000.0);
    Ok(())
}

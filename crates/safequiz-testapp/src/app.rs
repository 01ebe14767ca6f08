//! `TestApp`: the real service on port 0 with its own redis-server (or Redis Cluster) and SQLite
//! file or PostgreSQL database.

use std::sync::Arc;

use jiff::Timestamp;
use safequiz_server::catalogue::Catalogue;
use safequiz_server::clock::Clock;
use safequiz_server::config;
use safequiz_server::http::AppState;
use safequiz_server::startup::Application;
use secrecy::SecretString;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

use safequiz_testkit::{Database, PostgresCluster, TcpProxy, config_dir, eventually};

use crate::topology::{TestRedis, Topology};

/// A change a test makes to the settings before the service starts.
type Adjustment = Box<dyn FnOnce(&mut config::Settings) + Send>;

/// Options for [`TestApp::spawn`]; every test starts from the shipped configuration.
#[derive(Default)]
pub struct TestAppBuilder {
    shards: Option<u16>,
    clock_at: Option<Timestamp>,
    sweeper: Option<bool>,
    flusher: Option<bool>,
    database: Database,
    topology: Topology,
    time_limit_secs: Option<u32>,
    public_rankings: Option<safequiz_domain::campaign::PublicRankings>,
    shipped_board_levels: bool,
    trusted_proxies: Option<Vec<String>>,
    redis_proxy: bool,
    adjust: Option<Adjustment>,
    organizations: bool,
    campaigns: Option<CampaignAdjustment>,
}

/// A change a test makes to every served campaign before the service starts.
type CampaignAdjustment = Box<dyn Fn(&mut safequiz_domain::campaign::Campaign) + Send>;

impl TestAppBuilder {
    /// Spreads participants over `shards` shards (hot-state tests use 4).
    pub fn shards(mut self, shards: u16) -> TestAppBuilder {
        self.shards = Some(shards);
        self
    }

    /// Uses a manual clock standing at `at` instead of the system clock.
    pub fn clock_at(mut self, at: Timestamp) -> TestAppBuilder {
        self.clock_at = Some(at);
        self
    }

    /// Turns the background sweeper on or off (on, as shipped, by default); tests that check
    /// finalization on read turn it off so that only the request under test can finalize.
    pub fn sweeper(mut self, enabled: bool) -> TestAppBuilder {
        self.sweeper = Some(enabled);
        self
    }

    /// Turns the in-process flusher on or off (on by default); tests of `safequiz flush` or of
    /// a stopped flusher turn it off.
    pub fn flusher(mut self, enabled: bool) -> TestAppBuilder {
        self.flusher = Some(enabled);
        self
    }

    /// Gives every campaign these public rankings (`public_rankings`: fair play tests).
    pub fn public_rankings(
        mut self,
        rankings: safequiz_domain::campaign::PublicRankings,
    ) -> TestAppBuilder {
        self.public_rankings = Some(rankings);
        self
    }

    /// Serves the campaigns' individual boards as their files keep them (`individual_board_levels`:
    /// the national campaign keeps its national board only). Without it every campaign keeps a
    /// board for every unit, which most tests of the boards, ranks and recovery exercise.
    pub fn shipped_board_levels(mut self) -> TestAppBuilder {
        self.shipped_board_levels = true;
        self
    }

    /// Gives every campaign attempts of `secs` seconds (browser tests wait for a deadline).
    pub fn time_limit_secs(mut self, secs: u32) -> TestAppBuilder {
        self.time_limit_secs = Some(secs);
        self
    }

    /// Believes the forwarding headers of requests from `proxies` (`http.trusted_proxies`;
    /// none, as shipped, by default). Requests from the tests come from `127.0.0.1`.
    pub fn trusted_proxies(mut self, proxies: &[&str]) -> TestAppBuilder {
        self.trusted_proxies = Some(proxies.iter().map(|proxy| (*proxy).to_owned()).collect());
        self
    }

    /// Reaches Redis through a [`TcpProxy`] (`TestApp::redis_proxy`), so a test can cut it
    /// (one redis-server only).
    pub fn redis_proxy(mut self) -> TestAppBuilder {
        self.redis_proxy = true;
        self
    }

    /// Also serves [`ORG_CAMPAIGN`], a campaign whose one entry takes self-registered
    /// organizations under the shipped region tree (issue 18).
    pub fn organizations(mut self) -> TestAppBuilder {
        self.organizations = true;
        self
    }

    /// Changes every campaign served after loading it (scoring policies, certificates,
    /// windows: issue 18 tests).
    pub fn campaigns(
        mut self,
        adjust: impl Fn(&mut safequiz_domain::campaign::Campaign) + Send + 'static,
    ) -> TestAppBuilder {
        self.campaigns = Some(Box::new(adjust));
        self
    }

    /// Changes any setting last, after the builder's own (e.g. `[limits]`).
    pub fn settings(
        mut self,
        adjust: impl FnOnce(&mut config::Settings) + Send + 'static,
    ) -> TestAppBuilder {
        self.adjust = Some(Box::new(adjust));
        self
    }

    /// Records into `database` (SQLite by default).
    pub fn database(mut self, database: Database) -> TestAppBuilder {
        self.database = database;
        self
    }

    /// Runs on `topology`: one redis-server (the default) or a Redis Cluster of 3 primaries and
    /// 3 replicas, reached by configuration alone (`redis.cluster`, seed nodes in `redis.url`).
    pub fn topology(mut self, topology: Topology) -> TestAppBuilder {
        self.topology = topology;
        self
    }

    /// Starts Redis, creates a fresh database and runs the service on a free port.
    pub async fn spawn(self) -> TestApp {
        let redis = TestRedis::start(self.topology);
        let data = tempfile::tempdir().expect("a temporary folder can be created");
        let mut loaded = config::load(&config_dir()).expect("the shipped configuration loads");
        let settings = &mut loaded.settings;
        settings.http.addr = "127.0.0.1:0".to_owned();
        settings.http.workers = 2;
        settings.redis.url = SecretString::from(redis.url());
        settings.redis.cluster = redis.is_cluster();
        let mut redis_proxy = None;
        if self.redis_proxy {
            assert!(
                !redis.is_cluster(),
                "a Redis proxy stands before one redis-server"
            );
            let url = redis.url();
            let port: u16 = url
                .trim_end_matches(|c: char| !c.is_ascii_digit())
                .rsplit(':')
                .next()
                .and_then(|rest| rest.split('/').next())
                .and_then(|port| port.parse().ok())
                .expect("the Redis URL names a port");
            let proxy = TcpProxy::start(port).await;
            settings.redis.url =
                SecretString::from(url.replace(&format!(":{port}"), &format!(":{}", proxy.port())));
            redis_proxy = Some(proxy);
        }
        let mut sql_proxy = None;
        let database_url = match self.database {
            Database::Sqlite => {
                format!("sqlite://{}", data.path().join("safequiz.sqlite").display())
            }
            Database::Postgres => {
                let cluster = PostgresCluster::get();
                let url = cluster.fresh_database().await;
                let proxy = TcpProxy::start(cluster.port()).await;
                let url = url.replace(
                    &format!(":{}/", cluster.port()),
                    &format!(":{}/", proxy.port()),
                );
                sql_proxy = Some(proxy);
                url
            }
        };
        settings.database.url = SecretString::from(database_url.clone());
        if let Some(shards) = self.shards {
            settings.hot.shards = shards;
        }
        if let Some(enabled) = self.sweeper {
            settings.sweeper.enabled = enabled;
        }
        if let Some(enabled) = self.flusher {
            settings.flusher.enabled = enabled;
        }
        if let Some(proxies) = self.trusted_proxies {
            settings.http.trusted_proxies = proxies;
        }
        // Flush promptly and claim a stopped flusher's entries after a second, so tests of
        // the record wait for fractions of a second, not for production's patience.
        settings.flusher.batch_max_ms = 20;
        settings.flusher.claim_idle_secs = 1;
        // Sweep often, so automatic submission is observed within a fraction of a second.
        settings.sweeper.interval_ms = 50;
        if let Some(adjust) = self.adjust {
            adjust(settings);
        }
        let mut catalogue =
            Catalogue::load(&loaded.dir, &loaded.banks_dir(), &loaded.campaigns_dir())
                .expect("the shipped banks and campaigns load");
        if self.organizations {
            let campaign = organizations_campaign(&loaded.dir, &catalogue.banks);
            catalogue.campaigns.push(Arc::new(campaign));
        }
        if let Some(secs) = self.time_limit_secs {
            for campaign in &mut catalogue.campaigns {
                Arc::get_mut(campaign)
                    .expect("a freshly loaded campaign has one owner")
                    .time_limit_secs = secs;
            }
        }
        if !self.shipped_board_levels {
            for campaign in &mut catalogue.campaigns {
                Arc::get_mut(campaign)
                    .expect("a freshly loaded campaign has one owner")
                    .individual_boards = safequiz_domain::board::IndividualBoards::EVERY_LEVEL;
            }
        }
        if let Some(rankings) = self.public_rankings {
            for campaign in &mut catalogue.campaigns {
                Arc::get_mut(campaign)
                    .expect("a freshly loaded campaign has one owner")
                    .public_rankings = rankings;
            }
        }
        if let Some(adjust) = &self.campaigns {
            for campaign in &mut catalogue.campaigns {
                adjust(Arc::get_mut(campaign).expect("a freshly loaded campaign has one owner"));
            }
        }
        let catalogue = Arc::new(catalogue);
        let clock = self.clock_at.map_or_else(Clock::system, Clock::manual);
        let app = Application::build(&loaded.settings, catalogue.clone(), clock.clone())
            .expect("the application builds with test settings");
        let port = app.port();
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        // As a load balancer waits for `/readyz`: the record's tables (organizers, units with
        // their headcounts) exist before a test uses them.
        eventually(
            "the service has prepared its record",
            std::time::Duration::from_secs(30),
            || async {
                state
                    .record_ready
                    .load(std::sync::atomic::Ordering::Acquire)
                    .then_some(())
            },
        )
        .await;
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            clock,
            redis,
            catalogue,
            state,
            database_url,
            sql_proxy,
            redis_proxy,
            _data: data,
            _stop: stop,
        }
    }
}

/// A running service with its own Redis and SQLite; everything stops when it is dropped.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A client for requests to it.
    pub client: reqwest::Client,
    /// The service's clock (manual when built with `clock_at`).
    pub clock: Clock,
    /// Its Redis: one redis-server, or a cluster.
    pub redis: TestRedis,
    /// The banks and campaigns it serves (to look up correct answers).
    pub catalogue: Arc<Catalogue>,
    /// Its shared state, for calling workers directly (`sweep_once`).
    pub state: AppState,
    /// The URL of its SQL database.
    pub database_url: String,
    /// For PostgreSQL, the proxy the service reaches it through, to cut it.
    pub sql_proxy: Option<TcpProxy>,
    /// With `redis_proxy`, the proxy the service reaches Redis through, to cut it.
    pub redis_proxy: Option<TcpProxy>,
    _data: TempDir,
    _stop: oneshot::Sender<()>,
}

impl TestApp {
    /// A builder starting from the shipped configuration.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// `spawn` with the default options.
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    /// Waits until the service's board writer has applied every finalized attempt of every
    /// campaign to the individual boards (it runs every 100 ms; see `workers::boards`).
    pub async fn boards_caught_up(&self) {
        for campaign in &self.state.catalogue.campaigns {
            eventually(
                "the board writer has applied every entry",
                std::time::Duration::from_secs(10),
                || async {
                    let behind = self
                        .state
                        .hot
                        .board_backlog(&campaign.id, self.state.shards, 1)
                        .await
                        .expect("the board backlog");
                    (behind == 0).then_some(())
                },
            )
            .await;
        }
    }

    /// Waits until the service's flusher has written and acknowledged every stream entry
    /// (reconcile reports entries not yet in SQL), and the question fold beside it has folded
    /// every batch the flusher queued: after it, an idle service starts no SQL transaction, so
    /// a test may block its runtime (running the binary) without holding a write lock that
    /// the binary would wait for.
    pub async fn record_caught_up(&self) {
        eventually(
            "the flusher has written every entry and the question fold folded it",
            std::time::Duration::from_secs(30),
            || async {
                let lag = safequiz_server::http::health::flush_lag(&self.state)
                    .await
                    .ok()?;
                for campaign in &self.catalogue.campaigns {
                    let pending = self
                        .state
                        .store
                        .questions_pending(&campaign.id)
                        .await
                        .ok()?;
                    if pending > 0 {
                        return None;
                    }
                }
                (lag.pending == 0 && lag.undelivered == 0).then_some(())
            },
        )
        .await;
    }

    /// `GET path`, returning the response.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the test server answers")
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the test server answers")
    }

    /// Registers `name` with `phone` in `unit` for the shipped campaign and returns the
    /// participant id and token; panics unless the registration succeeds.
    pub async fn register(&self, name: &str, phone: &str, unit: &str) -> Participant {
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/campaigns/{CAMPAIGN}/participants"),
                None,
                Some(&json!({"name": name, "phone": phone, "unit_id": unit, "consent": true})),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON body");
        assert!(status.is_success(), "registration failed: {status} {body}");
        Participant {
            id: body["participant_id"].as_u64().expect("an id"),
            token: body["token"].as_str().expect("a token").to_owned(),
        }
    }

    /// Starts (or resumes) today's attempt; returns the status and body.
    pub async fn start_attempt(&self, participant: &Participant) -> (u16, Value) {
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/campaigns/{CAMPAIGN}/attempts"),
                Some(&participant.token),
                None,
            )
            .await;
        status_and_json(response).await
    }

    /// Saves `choices` for question `index`; returns the status and body (`Null` for 204).
    pub async fn save_answer(
        &self,
        participant: &Participant,
        attempt: &str,
        index: usize,
        choices: &[&str],
    ) -> (u16, Value) {
        self.put_answer(participant, attempt, index, json!({ "choices": choices }))
            .await
    }

    /// Saves an answer as the participant's page does, with the attempt's `save_ticket`
    /// (`ticket`); returns the status and body.
    pub async fn save_answer_with_ticket(
        &self,
        participant: &Participant,
        attempt: &str,
        index: usize,
        choices: &[&str],
        ticket: &str,
    ) -> (u16, Value) {
        let body = json!({ "choices": choices, "ticket": ticket });
        self.put_answer(participant, attempt, index, body).await
    }

    async fn put_answer(
        &self,
        participant: &Participant,
        attempt: &str,
        index: usize,
        body: Value,
    ) -> (u16, Value) {
        let response = self
            .request(
                reqwest::Method::PUT,
                &format!("/api/v1/attempts/{attempt}/answers/{index}"),
                Some(&participant.token),
                Some(&body),
            )
            .await;
        status_and_json(response).await
    }

    /// Submits `attempt`, with `body` when given; returns the status and body.
    pub async fn submit(
        &self,
        participant: &Participant,
        attempt: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/attempts/{attempt}/submit"),
                Some(&participant.token),
                body,
            )
            .await;
        status_and_json(response).await
    }

    /// `GET path` with the participant's token; returns the status and body.
    pub async fn get_as(&self, participant: &Participant, path: &str) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::GET, path, Some(&participant.token), None)
            .await;
        status_and_json(response).await
    }

    /// `GET path` without a token; returns the status and body.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        status_and_json(self.get(path).await).await
    }

    /// The display keys of the correct options of `question` (a question of an attempt as the
    /// API shows it), found from the bank by option text.
    pub fn correct_keys(&self, question: &Value) -> Vec<String> {
        correct_keys(&self.catalogue, question)
    }

    /// Some display keys that are wrong for `question`: another single option, or for multiple
    /// choice the correct set missing one.
    pub fn wrong_keys(&self, question: &Value) -> Vec<String> {
        wrong_keys(&self.catalogue, question)
    }

    /// Registers `count` participants (phones from `first_phone` on) spread over `units`, and
    /// plays one attempt each: answers the first question rightly and the second wrongly, then
    /// submits. Runs `concurrency` participants at a time; returns each submit's result once the
    /// board writer has applied them all.
    pub async fn play(
        &self,
        first_phone: u64,
        count: usize,
        units: &[&str],
        concurrency: usize,
    ) -> Vec<Value> {
        let mut results = Vec::with_capacity(count);
        let indices: Vec<usize> = (0..count).collect();
        for chunk in indices.chunks(concurrency.max(1)) {
            let plays = chunk.iter().map(|&i| async move {
                let phone = format!("13{:09}", first_phone + i as u64);
                let me = self
                    .register("测试者", &phone, units[i % units.len()])
                    .await;
                let (status, attempt) = self.start_attempt(&me).await;
                assert_eq!(status, 201, "{attempt}");
                let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
                let right = self.correct_keys(&attempt["questions"][0]);
                let wrong = self.wrong_keys(&attempt["questions"][1]);
                let body = json!({ "answers": { "0": right, "1": wrong } });
                let (status, result) = self.submit(&me, &id, Some(&body)).await;
                assert_eq!(status, 200, "{result}");
                result
            });
            results.extend(futures_util::future::join_all(plays).await);
        }
        self.boards_caught_up().await;
        results
    }
}

impl TestApp {
    /// Creates an organizer account for `unit` of the shipped campaign with a one-time
    /// password, as `safequiz organizer add` does; returns that password.
    pub async fn add_organizer(&self, unit: &str, username: &str) -> String {
        let password = safequiz_server::accounts::one_time_password();
        let hash = safequiz_server::accounts::hash_password(&password).expect("a hash");
        self.state
            .store
            .add_organizer(&safequiz_sql::organizers::NewOrganizer {
                campaign_id: CAMPAIGN,
                scope: &unit.parse().expect("a unit id or the whole campaign"),
                username,
                password_hash: &hash,
                created_at_ms: self.clock.now().as_millisecond(),
            })
            .await
            .expect("the account is added");
        password
    }

    /// Logs in; returns the status and body.
    pub async fn organizer_login(&self, username: &str, password: &str) -> (u16, Value) {
        let response = self
            .request(
                reqwest::Method::POST,
                "/api/v1/organizer/login",
                None,
                Some(&json!({"username": username, "password": password})),
            )
            .await;
        status_and_json(response).await
    }

    /// An organizer of `unit` who has logged in and replaced the one-time password: the
    /// session token every figure endpoint accepts.
    pub async fn organizer(&self, unit: &str, username: &str) -> String {
        let one_time = self.add_organizer(unit, username).await;
        let (status, body) = self.organizer_login(username, &one_time).await;
        assert_eq!(status, 200, "{body}");
        let token = body["token"].as_str().expect("a token").to_owned();
        let response = self
            .request(
                reqwest::Method::PUT,
                "/api/v1/organizer/password",
                Some(&token),
                Some(&json!({"current_password": one_time, "new_password": "anquan2026yue"})),
            )
            .await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("a new token").to_owned()
    }
}

/// The campaign [`TestAppBuilder::organizations`] adds: organizations register under the
/// shipped regions, participants under them (staff, 五进, principal persons).
pub const ORG_CAMPAIGN: &str = "org-test";

/// Builds [`ORG_CAMPAIGN`] over the shipped banks and region tree.
fn organizations_campaign(
    config_dir: &std::path::Path,
    banks: &[safequiz_domain::bank::Bank],
) -> safequiz_domain::campaign::Campaign {
    use safequiz_domain::campaign::{Campaign, parse_campaign_file};
    let text = format!(
        r#"
id = "{ORG_CAMPAIGN}"
title = "水利安全生产知识竞赛（测试）"
opens_at = "2026-01-01T00:00:00+08:00"
closes_at = "2027-07-01T00:00:00+08:00"
time_limit_secs = 150
questions_per_attempt = 5
attempts_per_day = 1
points_per_question = 1
banks = ["accident-prevention", "hazard-identification", "evacuation", "self-rescue", "rescue-drills", "emergency-response"]

[[entries]]
id = "org"
name = "水利单位"
kind = "organizations"
units = "units/regions.tsv"
"#
    );
    let file = parse_campaign_file(&text).expect("the test campaign parses");
    let regions = std::fs::read_to_string(config_dir.join("units/regions.tsv"))
        .expect("the shipped region tree is readable");
    let regions =
        safequiz_domain::units::parse_unit_file(&regions).expect("the shipped region tree parses");
    Campaign::build(file, &[regions], banks).expect("the test campaign is valid")
}

/// The campaign the shipped configuration serves.
pub const CAMPAIGN: &str = "safety-month";

/// The shipped banks and campaigns, as the service loads them (for tests of the built binary,
/// which answer questions without a `TestApp`).
pub fn shipped_catalogue() -> Catalogue {
    let loaded = config::load(&config_dir()).expect("the shipped configuration loads");
    Catalogue::load(&loaded.dir, &loaded.banks_dir(), &loaded.campaigns_dir())
        .expect("the shipped banks and campaigns load")
}

/// The display keys of the correct options of `question` (a question of an attempt of the
/// shipped campaign as the API shows it), found from the bank by option text.
pub fn correct_keys(catalogue: &Catalogue, question: &Value) -> Vec<String> {
    let id = question["id"].as_str().expect("a question id");
    let campaign = catalogue.campaign(CAMPAIGN).expect("the campaign");
    let bank = campaign.pool.find(id).expect("the question is in the pool");
    question["options"]
        .as_array()
        .expect("options")
        .iter()
        .filter(|option| {
            let text = option["text"].as_str().expect("option text");
            let original = bank
                .options
                .iter()
                .position(|o| o == text)
                .expect("the option text is in the bank");
            bank.answer.contains(original)
        })
        .map(|option| option["key"].as_str().expect("key").to_owned())
        .collect()
}

/// Some display keys that are wrong for `question`: another single option, or for multiple
/// choice the correct set missing one.
pub fn wrong_keys(catalogue: &Catalogue, question: &Value) -> Vec<String> {
    let correct = correct_keys(catalogue, question);
    if question["kind"] == "multiple" {
        return correct[1..].to_vec();
    }
    let wrong = question["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|option| option["key"].as_str().expect("key").to_owned())
        .find(|key| !correct.contains(key))
        .expect("a question has a wrong option");
    vec![wrong]
}

/// A registered participant.
#[derive(Clone, Debug)]
pub struct Participant {
    /// The participant id.
    pub id: u64,
    /// Their bearer token.
    pub token: String,
}

/// The status and JSON body of a response (`Value::Null` when the body is empty).
pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON body")
    };
    (status, body)
}

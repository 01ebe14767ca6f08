//! `TestApp`: the real service on port 0 with its own redis-server and SQLite file.

use std::sync::Arc;

use jiff::Timestamp;
use safequiz_server::catalogue::Catalogue;
use safequiz_server::clock::Clock;
use safequiz_server::config;
use safequiz_server::startup::Application;
use secrecy::SecretString;
use tempfile::TempDir;
use tokio::sync::oneshot;

use crate::RedisServer;

/// Options for [`TestApp::spawn`]; every test starts from the shipped configuration.
#[derive(Default)]
pub struct TestAppBuilder {
    shards: Option<u16>,
    clock_at: Option<Timestamp>,
}

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

    /// Starts redis-server, creates a fresh SQLite file and runs the service on a free port.
    pub async fn spawn(self) -> TestApp {
        let redis = RedisServer::start();
        let data = tempfile::tempdir().expect("a temporary folder can be created");
        let mut loaded =
            config::load(&crate::config_dir()).expect("the shipped configuration loads");
        let settings = &mut loaded.settings;
        settings.http.addr = "127.0.0.1:0".to_owned();
        settings.http.workers = 2;
        settings.redis.url = SecretString::from(redis.url());
        let sqlite = data.path().join("safequiz.sqlite");
        settings.database.url = SecretString::from(format!("sqlite://{}", sqlite.display()));
        if let Some(shards) = self.shards {
            settings.hot.shards = shards;
        }
        let catalogue = Catalogue::load(&loaded.dir, &loaded.banks_dir(), &loaded.campaigns_dir())
            .expect("the shipped banks and campaigns load");
        let clock = self.clock_at.map_or_else(Clock::system, Clock::manual);
        let app = Application::build(&loaded.settings, Arc::new(catalogue), clock.clone())
            .expect("the application builds with test settings");
        let port = app.port();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            clock,
            redis,
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
    /// Its redis-server.
    pub redis: RedisServer,
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

    /// `GET path`, returning the response.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the test server answers")
    }
}

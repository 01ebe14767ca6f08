//! `/metrics`: what operators watch (docs/operations.md "What to watch"). Each figure moves
//! after the requests and events that should move it, under the right labels, and the whole page
//! parses as Prometheus/OpenMetrics text.

use std::collections::HashMap;
use std::time::Duration;

use jiff::SignedDuration;
use safequiz_redis::keys::{Shard, ShardKeys};
use safequiz_testapp::{CAMPAIGN, TestApp, eventually};

use super::{DURING, at};

/// One sample: its name and its labels sorted, as `name{a="1",b="2"}`.
type Samples = HashMap<String, f64>;

/// Parses an exposition in the text format strictly enough to catch a malformed page: every
/// sample line is `name[{label="value",...}] value`, belongs to a family a `# TYPE` line
/// declared before it, and the page ends with `# EOF`. Returns the samples by their key.
fn parse(text: &str) -> Samples {
    let valid_name = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    };
    let mut families: HashMap<String, String> = HashMap::new();
    let mut samples = Samples::new();
    let mut saw_eof = false;
    for line in text.lines() {
        assert!(!saw_eof, "nothing follows # EOF: {line:?}");
        if line == "# EOF" {
            saw_eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(valid_name(name), "family name {name:?}");
            assert!(
                [
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "unknown",
                    "info"
                ]
                .contains(&kind),
                "type {kind:?}"
            );
            families.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').expect("# HELP name text");
            assert!(valid_name(name), "family name {name:?}");
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment {line:?}");
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("value of {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = Vec::new();
                for pair in body.split("\",").filter(|pair| !pair.is_empty()) {
                    let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                    assert!(valid_name(key), "label name {key:?} in {line:?}");
                    labels.push(format!("{key}=\"{}\"", value.trim_end_matches('"')));
                }
                labels.sort();
                (name, labels)
            }
        };
        assert!(valid_name(name), "sample name {name:?}");
        let family = ["_total", "_bucket", "_count", "_sum", ""]
            .iter()
            .find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                families.contains_key(base).then_some(base)
            });
        assert!(family.is_some(), "{name} has no # TYPE line before it");
        samples.insert(format!("{name}{{{}}}", labels.join(",")), value);
    }
    assert!(saw_eof, "the page ends with # EOF");
    samples
}

async fn scrape(app: &TestApp) -> Samples {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    parse(&response.text().await.expect("text"))
}

fn value(samples: &Samples, key: &str) -> Option<f64> {
    samples.get(key).copied()
}

/// A service on four shards during the campaign, its sweeper off (the tests sweep by hand).
async fn app() -> TestApp {
    TestApp::builder()
        .shards(4)
        .clock_at(at(DURING))
        .sweeper(false)
        .spawn()
        .await
}

fn requests(route: &str, status: &str) -> String {
    format!("safequiz_http_requests_total{{route=\"{route}\",status=\"{status}\"}}")
}

fn campaign_gauge(name: &str) -> String {
    format!("{name}{{campaign=\"{CAMPAIGN}\"}}")
}

/// The attempt's four routes are named by their whole patterns (`routes::hot`), which the
/// metrics read in place: each is counted under its pattern, as every other route is.
#[tokio::test]
async fn the_attempts_named_routes_are_counted_under_their_patterns() {
    let app = app().await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (status, attempt) = app.start_attempt(&me).await;
    assert_eq!(status, 201);
    let id = attempt["attempt_id"].as_str().expect("id").to_owned();
    let keys = app.correct_keys(&attempt["questions"][0]);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(app.save_answer(&me, &id, 0, &keys).await.0, 204);
    assert_eq!(
        app.get_as(&me, &format!("/api/v1/attempts/{id}")).await.0,
        200
    );
    assert_eq!(app.submit(&me, &id, None).await.0, 200);

    let samples = scrape(&app).await;
    for route in [
        "/api/v1/campaigns/{cid}/attempts",
        "/api/v1/attempts/{aid}/answers/{index}",
        "/api/v1/attempts/{aid}",
        "/api/v1/attempts/{aid}/submit",
    ] {
        assert_eq!(
            value(&samples, &requests(route, "2xx")),
            Some(1.0),
            "{route}"
        );
    }
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_and_status_class_with_latency() {
    let app = app().await;
    let before = scrape(&app).await;
    assert_eq!(value(&before, "safequiz_redis_up{}"), Some(1.0));
    assert_eq!(
        value(&before, "safequiz_flush_pending_entries{}"),
        Some(0.0)
    );

    let me = app.register("王五", "13900000001", "110101").await;
    let (status, attempt) = app.start_attempt(&me).await;
    assert_eq!(status, 201);
    let id = attempt["attempt_id"].as_str().expect("id").to_owned();
    for index in 0..2 {
        let keys = app.correct_keys(&attempt["questions"][index]);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        app.save_answer(&me, &id, index, &keys).await;
    }
    assert_eq!(app.get("/api/v1/no/such/thing").await.status(), 404);
    assert_eq!(
        app.get("/api/v1/attempts/not-an-id")
            .await
            .status()
            .as_u16()
            / 100,
        4
    );

    let after = scrape(&app).await;
    let answers = "/api/v1/attempts/{aid}/answers/{index}";
    assert_eq!(
        value(&after, &requests(answers, "2xx")),
        Some(2.0),
        "labelled by the pattern, not the path"
    );
    assert_eq!(
        value(&after, &requests("/api/v1/campaigns/{cid}/attempts", "2xx")),
        Some(1.0)
    );
    assert_eq!(
        value(
            &after,
            &requests("/api/v1/campaigns/{cid}/participants", "2xx")
        ),
        Some(1.0)
    );
    assert_eq!(value(&after, &requests("unmatched", "4xx")), Some(1.0));
    assert_eq!(
        value(&after, &requests("/api/v1/attempts/{aid}", "4xx")),
        Some(1.0)
    );
    assert!(
        !after.keys().any(|key| key.contains(&id)),
        "no raw path in any label"
    );
    // The first scrape itself was counted before the second was encoded.
    assert_eq!(value(&after, &requests("/metrics", "2xx")), Some(1.0));

    // The latency histogram of the answers route: two observations, cumulative buckets.
    let route = format!("route=\"{answers}\"");
    assert_eq!(
        value(
            &after,
            &format!("safequiz_http_request_duration_seconds_count{{{route}}}")
        ),
        Some(2.0)
    );
    let mut buckets: Vec<(f64, f64)> = after
        .iter()
        .filter(|(key, _)| {
            key.starts_with("safequiz_http_request_duration_seconds_bucket{")
                && key.contains(&route)
        })
        .map(|(key, count)| {
            let le = key
                .split("le=\"")
                .nth(1)
                .expect("le")
                .split('"')
                .next()
                .expect("le");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("le")
            };
            (le, *count)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 5, "{buckets:?}");
    assert!(
        buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
        "{buckets:?}"
    );
    assert_eq!(buckets.last(), Some(&(f64::INFINITY, 2.0)));
    let sum = value(
        &after,
        &format!("safequiz_http_request_duration_seconds_sum{{{route}}}"),
    )
    .expect("a sum");
    assert!(sum > 0.0 && sum < 10.0, "{sum}");

    // The polled figures: one open attempt, nothing overdue, no dead letters.
    let polled = eventually(
        "the poller counts the open attempt",
        Duration::from_secs(10),
        || async {
            let samples = scrape(&app).await;
            (value(&samples, &campaign_gauge("safequiz_open_attempts")) == Some(1.0))
                .then_some(samples)
        },
    )
    .await;
    assert_eq!(
        value(&polled, &campaign_gauge("safequiz_sweeper_overdue_seconds")),
        Some(0.0)
    );
    assert_eq!(
        value(&polled, &campaign_gauge("safequiz_dead_letters")),
        Some(0.0)
    );
    assert!(value(&polled, "safequiz_hot_poll_timestamp_seconds{}").expect("polled") > 0.0);

    // Past the grace with no sweeper: the oldest open attempt shows how late it is.
    app.clock
        .advance(SignedDuration::from_millis(152_000 + 30_000));
    eventually(
        "the overdue attempt shows",
        Duration::from_secs(10),
        || async {
            let samples = scrape(&app).await;
            let overdue = value(
                &samples,
                &campaign_gauge("safequiz_sweeper_overdue_seconds"),
            )?;
            (overdue >= 29.9).then_some(())
        },
    )
    .await;
    safequiz_server::workers::sweeper::sweep_once(&app.state)
        .await
        .expect("Redis answers");
    eventually(
        "the swept attempt leaves the figures",
        Duration::from_secs(10),
        || async {
            let samples = scrape(&app).await;
            let open = value(&samples, &campaign_gauge("safequiz_open_attempts"))?;
            let overdue = value(
                &samples,
                &campaign_gauge("safequiz_sweeper_overdue_seconds"),
            )?;
            (open == 0.0 && overdue == 0.0).then_some(())
        },
    )
    .await;

    // A dead letter (as the flusher writes one) shows in its campaign's count.
    let mut redis = app.redis.connection().await;
    let _: String = redis::cmd("XADD")
        .arg(ShardKeys::new(CAMPAIGN, Shard::all(4).nth(2).expect("shard")).dead_letters())
        .arg("*")
        .arg("reason")
        .arg("test")
        .query_async(&mut redis)
        .await
        .expect("XADD");
    eventually("the dead letter shows", Duration::from_secs(10), || async {
        let samples = scrape(&app).await;
        (value(&samples, &campaign_gauge("safequiz_dead_letters")) == Some(1.0)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn sweeper_passes_and_finalized_attempts_are_counted() {
    let app = TestApp::builder()
        .shards(4)
        .clock_at(at(DURING))
        .spawn()
        .await;
    let me = app.register("王五", "13900000001", "110101").await;
    let (status, _) = app.start_attempt(&me).await;
    assert_eq!(status, 201);
    app.clock.advance(SignedDuration::from_millis(152_001));
    let samples = eventually(
        "the sweeper's pass is counted",
        Duration::from_secs(10),
        || async {
            let samples = scrape(&app).await;
            (value(&samples, "safequiz_sweeper_finalized_attempts_total{}") == Some(1.0))
                .then_some(samples)
        },
    )
    .await;
    assert!(value(&samples, "safequiz_sweeper_passes_total{outcome=\"ok\"}").expect("ok") >= 1.0);
    assert!(
        value(&samples, "safequiz_sweeper_last_pass_timestamp_seconds{}").expect("a pass")
            >= at(DURING).as_second() as f64
    );
    assert!(value(&samples, "safequiz_sweeper_pass_duration_seconds_count{}").expect("n") >= 1.0);
}

#[tokio::test]
async fn answers_while_redis_is_down_count_as_unavailable() {
    let mut app = TestApp::builder().clock_at(at(DURING)).spawn().await;
    let me = app.register("王五", "13900000001", "110101").await;
    app.redis.stop();
    let me_route = "/api/v1/campaigns/{cid}/me";
    eventually(
        "a 503 while Redis is down",
        Duration::from_secs(15),
        || async {
            let (status, _) = app
                .get_as(&me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
                .await;
            (status == 503).then_some(())
        },
    )
    .await;
    let samples = scrape(&app).await;
    assert_eq!(value(&samples, "safequiz_redis_up{}"), Some(0.0));
    assert_eq!(
        value(&samples, "safequiz_flush_pending_entries{}"),
        None,
        "the lag is unknown, so absent"
    );
    let route = format!("route=\"{me_route}\"");
    let unavailable = value(
        &samples,
        &format!("safequiz_http_unavailable_total{{{route}}}"),
    )
    .expect("503s counted");
    assert!(unavailable >= 1.0);
    assert_eq!(
        value(&samples, &requests(me_route, "5xx")),
        Some(unavailable)
    );
    assert!(
        value(&samples, "safequiz_redis_errors_total{source=\"scrape\"}").expect("counted") >= 1.0
    );
}

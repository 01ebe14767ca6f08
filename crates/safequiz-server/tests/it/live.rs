//! Live boards over Server-Sent Events: the first board at once, a new one when it changes,
//! from the same snapshots as the plain GETs.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use safequiz_testapp::{CAMPAIGN, TestApp, eventually};
use serde_json::Value;

/// Reads `event: board` messages from an SSE response until `accept` takes one.
async fn next_board(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let read = async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let message: String = buffer.drain(..end + 2).collect();
                if let Some(data) = message.lines().find_map(|line| line.strip_prefix("data: ")) {
                    let board: Value = serde_json::from_str(data).expect("JSON data");
                    if accept(&board) {
                        return board;
                    }
                }
            }
            let chunk = body
                .next()
                .await
                .expect("the stream stays open")
                .expect("bytes");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(15), read)
        .await
        .expect("a board arrives in time")
}

fn points_of(board: &Value, unit: &str) -> u64 {
    board["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["unit_id"] == unit)
        .and_then(|item| item["points"].as_u64())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_unit_board_stream_sends_the_board_then_every_change_to_every_viewer() {
    let app = TestApp::builder().shards(4).spawn().await;
    let url = format!(
        "{}/api/v1/campaigns/{CAMPAIGN}/leaderboards/stream?board=units&parent=region",
        app.address
    );
    let first = app.client.get(&url).send().await.expect("stream");
    let second = app.client.get(&url).send().await.expect("stream");
    assert_eq!(first.status(), 200);
    assert!(
        first.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/event-stream"))
    );
    let (mut first, mut second) = (first.bytes_stream(), second.bytes_stream());
    let (mut first_buffer, mut second_buffer) = (String::new(), String::new());
    let initial = next_board(&mut first, &mut first_buffer, |_| true).await;
    assert_eq!(points_of(&initial, "110000"), 0);
    next_board(&mut second, &mut second_buffer, |_| true).await;
    assert_eq!(
        app.state.broadcaster.live_boards(),
        1,
        "two viewers share one poller"
    );

    let results = app.play(70_000, 3, &["110101"], 3).await;
    let points: u64 = results
        .iter()
        .map(|r| r["score"].as_u64().expect("score"))
        .sum();
    assert!(points > 0);

    for (body, buffer) in [
        (&mut first, &mut first_buffer),
        (&mut second, &mut second_buffer),
    ] {
        let updated = next_board(body, buffer, |board| points_of(board, "110000") == points).await;
        assert_eq!(updated["totals"]["attempts"], 3);
    }
}

#[tokio::test]
async fn an_individual_board_stream_takes_the_plain_boards_query_and_refuses_bad_ones() {
    let app = TestApp::builder().shards(4).spawn().await;
    let ok = app
        .get(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/stream?board=participants&unit=110000&limit=5"
        ))
        .await;
    assert_eq!(ok.status(), 200);
    let mut body = ok.bytes_stream();
    let mut buffer = String::new();
    let board = next_board(&mut body, &mut buffer, |_| true).await;
    assert_eq!(board["unit"], "110000");

    for (query, status) in [
        ("board=units", 400),
        ("board=teams&parent=region", 400),
        ("board=units&parent=nowhere", 404),
        ("board=participants&limit=0", 400),
    ] {
        let response = app
            .get(&format!(
                "/api/v1/campaigns/{CAMPAIGN}/leaderboards/stream?{query}"
            ))
            .await;
        assert_eq!(response.status().as_u16(), status, "{query}");
        let body: Value = response.json().await.expect("a JSON error");
        assert!(body["error"].is_string(), "{query}");
    }
}

#[tokio::test]
async fn a_stream_and_the_plain_board_share_one_snapshot() {
    let app = TestApp::builder().shards(4).spawn().await;
    app.play(83_000, 2, &["110101", "130102"], 2).await;
    let interval = app.state.boards.interval();
    let before = app.state.boards.computations();

    let started = Instant::now();
    let stream = app
        .get(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/stream?board=participants&limit=20"
        ))
        .await;
    assert_eq!(stream.status(), 200);
    let mut body = stream.bytes_stream();
    let mut buffer = String::new();
    let streamed = next_board(&mut body, &mut buffer, |_| true).await;
    let (status, fetched) = app
        .get_json(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/participants"
        ))
        .await;
    let elapsed = started.elapsed();

    assert_eq!(status, 200);
    assert_eq!(fetched, streamed, "the same board");
    assert_eq!(fetched["items"].as_array().expect("items").len(), 2);
    let computations = app.state.boards.computations() - before;
    // One computation for both, unless an interval passed between them.
    let allowed = 1 + (elapsed.as_millis() / interval.as_millis()) as u64;
    assert!(
        computations >= 1 && computations <= allowed,
        "{computations} computations in {elapsed:?}"
    );
    assert_eq!(app.state.broadcaster.live_boards(), 1);
}

#[tokio::test]
async fn boards_streams_and_standing_reflect_finished_attempts_within_the_interval() {
    let app = TestApp::builder().shards(4).spawn().await;
    let board = format!("/api/v1/campaigns/{CAMPAIGN}/leaderboards/units?parent=130100");
    let stream = app
        .get(&format!(
            "/api/v1/campaigns/{CAMPAIGN}/leaderboards/stream?board=units&parent=130100"
        ))
        .await;
    let mut body = stream.bytes_stream();
    let mut buffer = String::new();
    let first = next_board(&mut body, &mut buffer, |_| true).await;
    assert_eq!(first["totals"]["attempts"], 0);
    let (_, cached) = app.get_json(&board).await;
    assert_eq!(
        cached["totals"]["attempts"], 0,
        "the board is cached before the attempts"
    );

    let me = app.register("李四", "13800000001", "130102").await;
    let (_, attempt) = app.start_attempt(&me).await;
    let id = attempt["attempt_id"].as_str().expect("an id");
    let right = app.correct_keys(&attempt["questions"][0]);
    let (status, result) = app
        .submit(
            &me,
            id,
            Some(&serde_json::json!({ "answers": { "0": right } })),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    let points = result["score"].as_u64().expect("score");
    assert!(points > 0);

    // Within the interval, with room for a busy machine.
    let within = app.state.boards.interval() + Duration::from_secs(2);
    let (_, standing) = app
        .get_as(&me, &format!("/api/v1/campaigns/{CAMPAIGN}/me"))
        .await;
    assert_eq!(standing["points"], points, "my standing at once");
    assert!(
        standing["ranks"]
            .as_array()
            .expect("ranks")
            .iter()
            .all(|rank| rank["rank"] == 1),
        "{standing}"
    );
    let fetched = eventually("the board shows the attempt", within, || async {
        let (_, fetched) = app.get_json(&board).await;
        (fetched["totals"]["attempts"] == 1).then_some(fetched)
    })
    .await;
    assert_eq!(fetched["totals"]["points"], points);
    let streamed = tokio::time::timeout(
        within,
        next_board(&mut body, &mut buffer, |board| {
            board["totals"]["attempts"] == 1
        }),
    )
    .await
    .expect("the stream shows the attempt within the interval");
    assert_eq!(streamed, fetched, "the stream and the board agree");
}

//! Live boards over Server-Sent Events: the first board at once, a new one when it changes.

use std::time::Duration;

use futures_util::StreamExt;
use safequiz_testapp::{CAMPAIGN, TestApp};
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

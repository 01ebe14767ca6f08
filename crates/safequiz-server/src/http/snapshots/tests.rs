//! The snapshot cache alone: freshness, one computation per board in flight, shared failures,
//! change notification, the bound, and conditional responses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use futures_util::future::{join, join_all};
use tokio::sync::Semaphore;

use super::{Snapshots, publish};
use crate::http::error::ApiError;

const LONG: Duration = Duration::from_secs(3600);

fn cache(interval: Duration) -> Snapshots<u32> {
    Snapshots::new(interval, 64)
}

async fn body(text: &'static str) -> Result<Bytes, ApiError> {
    Ok(Bytes::from_static(text.as_bytes()))
}

#[tokio::test]
async fn a_fresh_snapshot_is_served_without_computing_again() {
    let snapshots = cache(LONG);

    let first = snapshots.get(&1, || body("[1]")).await.expect("computed");
    let second = snapshots.get(&1, || body("[2]")).await.expect("cached");

    assert_eq!(snapshots.computations(), 1);
    assert_eq!(second.body(), &Bytes::from_static(b"[1]"));
    assert_eq!(first.etag(), second.etag());
}

#[tokio::test]
async fn a_stale_snapshot_is_computed_again_with_a_new_tag_when_the_body_changed() {
    let snapshots = cache(Duration::ZERO);

    let first = snapshots.get(&1, || body("[1]")).await.expect("computed");
    let same = snapshots.get(&1, || body("[1]")).await.expect("computed");
    let changed = snapshots.get(&1, || body("[2]")).await.expect("computed");

    assert_eq!(snapshots.computations(), 3);
    assert_eq!(
        first.etag(),
        same.etag(),
        "the tag depends on the bytes only"
    );
    assert_ne!(first.etag(), changed.etag());
    assert_eq!(changed.body(), &Bytes::from_static(b"[2]"));
}

#[tokio::test]
async fn requests_arriving_during_a_computation_wait_for_it_instead_of_computing() {
    let snapshots = cache(LONG);
    let gate = Semaphore::new(0);
    let computed = AtomicUsize::new(0);
    let (gate, computed) = (&gate, &computed);
    let compute = move || async move {
        computed.fetch_add(1, Ordering::SeqCst);
        let _ = gate.acquire().await;
        body("[7]").await
    };

    // `join_all` polls every request once before the gate opens (closing the semaphore lets
    // every computation through): the first is computing and the 31 others are waiting for it.
    let requests = join_all((0..32).map(|_| snapshots.get(&7, compute)));
    let (answers, ()) = join(requests, async { gate.close() }).await;

    assert_eq!(computed.load(Ordering::SeqCst), 1);
    assert_eq!(snapshots.computations(), 1);
    for answer in answers {
        assert_eq!(answer.expect("shared").body(), &Bytes::from_static(b"[7]"));
    }
}

#[tokio::test]
async fn waiters_share_a_computation_that_took_longer_than_the_interval() {
    let snapshots = cache(Duration::ZERO);
    let gate = Semaphore::new(0);
    let gate = &gate;
    let compute = move || async move {
        let _ = gate.acquire().await;
        body("[8]").await
    };

    let requests = join_all((0..8).map(|_| snapshots.get(&8, compute)));
    let (answers, ()) = join(requests, async { gate.close() }).await;

    assert_eq!(snapshots.computations(), 1, "no queue of computations");
    assert!(answers.iter().all(Result::is_ok));
}

#[tokio::test]
async fn a_failed_computation_is_the_answer_of_everyone_who_waited_for_it_and_is_retried_after() {
    let snapshots = cache(LONG);
    let gate = Semaphore::new(0);
    let gate = &gate;
    let compute = move || async move {
        let _ = gate.acquire().await;
        Err::<Bytes, _>(ApiError::NotReady("服务繁忙，请稍后重试".to_owned()))
    };

    let requests = join_all((0..8).map(|_| snapshots.get(&3, compute)));
    let (answers, ()) = join(requests, async { gate.close() }).await;

    assert_eq!(snapshots.computations(), 1);
    for answer in answers {
        assert!(
            matches!(answer, Err(ApiError::NotReady(ref message)) if message == "服务繁忙，请稍后重试"),
            "{answer:?}"
        );
    }
    let later = snapshots.get(&3, || body("[3]")).await.expect("retried");
    assert_eq!(snapshots.computations(), 2);
    assert_eq!(later.body(), &Bytes::from_static(b"[3]"));
}

#[tokio::test]
async fn viewers_are_woken_only_when_the_body_changes() {
    let snapshots = cache(Duration::ZERO);
    let mut viewer = snapshots.subscribe(&5);
    assert!(viewer.borrow_and_update().is_none(), "nothing computed yet");

    snapshots.get(&5, || body("[1]")).await.expect("computed");
    assert!(viewer.has_changed().expect("open"), "the first board");
    viewer.borrow_and_update();

    snapshots.get(&5, || body("[1]")).await.expect("computed");
    assert!(!viewer.has_changed().expect("open"), "the same body again");

    snapshots.get(&5, || body("[2]")).await.expect("computed");
    assert!(viewer.has_changed().expect("open"), "a new body");
    let latest = viewer.borrow_and_update().clone().expect("a board");
    assert_eq!(latest.body(), &Bytes::from_static(b"[2]"));
}

#[tokio::test]
async fn the_cache_stays_within_its_bound_dropping_the_least_recently_asked_unwatched_boards() {
    let snapshots: Snapshots<u32> = Snapshots::new(LONG, 8);
    let _viewer = snapshots.subscribe(&0);
    for key in 0..8 {
        snapshots.get(&key, || body("[]")).await.expect("computed");
    }
    // Key 1 is asked again, so keys 2 and 3 are the least recently asked without a viewer.
    snapshots
        .slot(&1)
        .asked_ms
        .store(u64::MAX, Ordering::Relaxed);
    for key in 0..8 {
        if key > 1 {
            snapshots
                .slot(&key)
                .asked_ms
                .store(u64::from(key), Ordering::Relaxed);
        }
    }

    snapshots.get(&8, || body("[]")).await.expect("computed");

    assert_eq!(snapshots.len(), 7, "a quarter of the bound was dropped");
    let before = snapshots.computations();
    for kept in [0, 1, 4, 5, 6, 7, 8] {
        snapshots.get(&kept, || body("[]")).await.expect("cached");
    }
    assert_eq!(
        snapshots.computations(),
        before,
        "kept boards are still cached"
    );
    snapshots.get(&2, || body("[]")).await.expect("computed");
    assert_eq!(
        snapshots.computations(),
        before + 1,
        "a dropped board is computed again"
    );

    for key in 100..200 {
        snapshots.get(&key, || body("[]")).await.expect("computed");
        assert!(snapshots.len() <= 8, "bounded");
    }
    assert_eq!(snapshots.viewers(&0), 1, "a watched board is never dropped");
}

#[tokio::test]
async fn forgetting_makes_every_board_compute_again_and_keeps_its_viewers() {
    let snapshots = cache(LONG);
    let mut viewer = snapshots.subscribe(&1);
    snapshots.get(&1, || body("[1]")).await.expect("computed");
    viewer.borrow_and_update();

    snapshots.forget_all();
    let again = snapshots.get(&1, || body("[2]")).await.expect("computed");

    assert_eq!(snapshots.computations(), 2);
    assert_eq!(again.body(), &Bytes::from_static(b"[2]"));
    assert!(
        viewer.has_changed().expect("open"),
        "the viewer hears of it"
    );
}

#[tokio::test]
async fn a_request_naming_the_snapshot_gets_304_and_any_other_gets_the_body() {
    let snapshots = cache(LONG);
    let snapshot = snapshots.get(&1, || body("[1]")).await.expect("computed");
    let tag = snapshot.etag().to_owned();
    let cases = [
        (None, StatusCode::OK, "no condition"),
        (Some(tag.clone()), StatusCode::NOT_MODIFIED, "the same tag"),
        (
            Some(format!("W/{tag}")),
            StatusCode::NOT_MODIFIED,
            "weak comparison",
        ),
        (
            Some(format!("\"other\", {tag}")),
            StatusCode::NOT_MODIFIED,
            "in a list",
        ),
        (Some(String::from('*')), StatusCode::NOT_MODIFIED, "any"),
        (Some("\"other\"".to_owned()), StatusCode::OK, "another tag"),
        (
            Some(tag.trim_matches('"').to_owned()),
            StatusCode::OK,
            "unquoted",
        ),
    ];
    for (if_none_match, status, why) in cases {
        let mut request = TestRequest::get();
        if let Some(value) = if_none_match {
            request = request.insert_header(("If-None-Match", value));
        }

        let response = snapshots.respond(&snapshot, &request.to_http_request());

        assert_eq!(response.status(), status, "{why}");
        let header = |name: &str| response.headers().get(name).cloned().expect("a header");
        assert_eq!(header("etag"), tag.as_str(), "{why}");
        assert_eq!(header("cache-control"), "public, max-age=3600", "{why}");
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("a body");
        let want: &[u8] = if status == StatusCode::OK {
            b"[1]"
        } else {
            b""
        };
        assert_eq!(&body[..], want, "{why}");
    }
}

#[tokio::test]
async fn a_client_accepting_gzip_gets_the_compressed_body_with_its_own_tag() {
    let snapshots = cache(LONG);
    let text: &'static str = Box::leak(
        format!(
            "[{}]",
            (0..200)
                .map(|n| format!("{{\"rank\":{n},\"name\":\"张*三\"}}"))
                .collect::<Vec<_>>()
                .join(",")
        )
        .into_boxed_str(),
    );
    let snapshot = snapshots.get(&1, || body(text)).await.expect("computed");
    let respond = |accept: Option<&str>, if_none_match: Option<&str>| {
        let mut request = TestRequest::get();
        if let Some(value) = accept {
            request = request.insert_header(("Accept-Encoding", value));
        }
        if let Some(value) = if_none_match {
            request = request.insert_header(("If-None-Match", value));
        }
        snapshots.respond(&snapshot, &request.to_http_request())
    };
    let header = |response: &actix_web::HttpResponse, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("text").to_owned())
    };

    let zipped = respond(Some("gzip, deflate, br"), None);
    assert_eq!(zipped.status(), StatusCode::OK);
    assert_eq!(header(&zipped, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header(&zipped, "vary").as_deref(), Some("Accept-Encoding"));
    let gz_tag = header(&zipped, "etag").expect("a tag");
    assert_ne!(
        gz_tag,
        snapshot.etag(),
        "another representation, another tag"
    );
    let compressed = actix_web::body::to_bytes(zipped.into_body())
        .await
        .expect("a body");
    assert!(
        compressed.len() * 3 < text.len(),
        "{} bytes",
        compressed.len()
    );
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut plain,
    )
    .expect("gzip");
    assert_eq!(plain, text, "the same board");

    // Revalidation names the representation the client holds.
    assert_eq!(
        respond(Some("gzip"), Some(&gz_tag)).status(),
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        respond(None, Some(&gz_tag)).status(),
        StatusCode::OK,
        "the plain body's tag is another"
    );
    // No gzip asked, or refused with q=0: the plain body.
    for accept in [
        None,
        Some("identity"),
        Some("gzip;q=0, br"),
        Some("GZIP;Q=0.0"),
    ] {
        let response = respond(accept, None);
        assert_eq!(header(&response, "content-encoding"), None, "{accept:?}");
        assert_eq!(
            header(&response, "etag").as_deref(),
            Some(snapshot.etag()),
            "{accept:?}"
        );
    }
    assert_eq!(
        header(&respond(Some(&String::from('*')), None), "content-encoding").as_deref(),
        Some("gzip")
    );
}

#[test]
fn max_age_is_the_interval_in_whole_seconds_rounded_up() {
    for (interval_ms, header) in [
        (1000, "public, max-age=1"),
        (10, "public, max-age=1"),
        (1500, "public, max-age=2"),
    ] {
        let snapshots = cache(Duration::from_millis(interval_ms));
        assert_eq!(snapshots.cache_control, header, "{interval_ms} ms");
    }
}

#[test]
fn publishing_the_same_body_again_wakes_nobody() {
    let (sender, mut receiver) = tokio::sync::watch::channel(None);
    let at = tokio::time::Instant::now();
    publish(
        &sender,
        Arc::new(super::Snapshot::new(Bytes::from_static(b"[1]"), at)),
    );
    receiver.borrow_and_update();

    publish(
        &sender,
        Arc::new(super::Snapshot::new(Bytes::from_static(b"[1]"), at)),
    );

    assert!(!receiver.has_changed().expect("open"));
}

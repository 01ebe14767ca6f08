//! The attempt bodies written by hand (`json_writer`) against `serde_json`'s output for the same
//! values: their serde derives define the shape the OpenAPI document publishes, so the two must
//! be byte-equal, for every question of the shipped banks, answered or not, right or wrong.

use std::path::Path;

use actix_web::body::MessageBody;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use safequiz_redis::attempts::{AttemptId, AttemptResult, FinalQuestion};

use super::*;
use crate::catalogue::Catalogue;
use crate::config;

/// Attempts drawn per shipped campaign: enough that every question of the banks is shown.
const ATTEMPTS: usize = 1000;

fn written<T: WriteJson>(value: &T) -> String {
    let mut out = JsonWriter::with_capacity(0);
    value.write_json(&mut out);
    String::from_utf8(out.into_bytes()).expect("the writer writes UTF-8")
}

fn body_text(response: HttpResponse) -> String {
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
    );
    let bytes = response
        .into_body()
        .try_into_bytes()
        .unwrap_or_else(|_| panic!("a JSON body is in memory"));
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// A final record of `campaign` as the record keeps it: drawn like a start, each question
/// answered with its key, another choice or nothing.
fn attempt(campaign: &Campaign, number: u32, rng: &mut StdRng) -> AttemptRecord {
    let drawn = safequiz_domain::draw::draw(&campaign.pool, &campaign.plan, rng);
    let questions: Vec<FinalQuestion<'_>> = drawn
        .iter()
        .map(|drawn| {
            let question = campaign.pool.get(drawn.question).expect("a drawn index");
            let key = drawn.options.shown(question.answer);
            let every = (1u8 << question.options.len()) - 1;
            let chosen = match rng.random_range(0..3) {
                0 => key,
                1 => Choices::from_bits(rng.random_range(0..=every)),
                _ => Choices::NONE,
            };
            FinalQuestion {
                id: &question.id,
                order: drawn.options,
                key,
                chosen,
            }
        })
        .collect();
    let started_ms = campaign.opens_at.as_millisecond() + rng.random_range(0..86_400_000);
    let time_used_ms = rng.random_range(0..150_000);
    AttemptRecord::archived(
        AttemptId {
            participant: rng.random_range(1..10_000_000),
            number,
        },
        rng.random_range(0..40),
        started_ms,
        started_ms + 150_000,
        AttemptResult {
            points: rng.random_range(0..=5),
            correct: rng.random_range(0..=5),
            // Whole seconds sometimes: jiff then writes no fraction.
            finished_ms: started_ms + time_used_ms / 1000 * 1000,
            time_used_ms,
            auto_submitted: rng.random_bool(0.2),
        },
        questions,
    )
}

#[test]
fn the_attempt_bodies_written_by_hand_equal_what_serde_json_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let loaded = config::load(&dir).expect("the shipped settings load");
    let catalogue = Catalogue::load(&loaded.dir, &loaded.banks_dir(), &loaded.campaigns_dir())
        .expect("the shipped banks and campaigns load");
    let auth = AuthKeys::derive(&loaded.settings.auth.secret);
    let mut rng = StdRng::seed_from_u64(16);
    for campaign in &catalogue.campaigns {
        let mut shown_ids = std::collections::HashSet::new();
        for number in 1..=ATTEMPTS as u32 {
            let record = attempt(campaign, number, &mut rng);
            let now = timestamp(record.started_ms + rng.random_range(0..200_000));
            let questions = questions(campaign, &record).expect("shipped questions");
            shown_ids.extend(questions.iter().map(|shown| shown.question.id.clone()));

            let open = open_attempt(&auth, campaign, &record, &questions, now);
            let serde_open = serde_json::to_string(&open).expect("serializes");
            assert_eq!(written(&open), serde_open, "{}", campaign.id);
            let response =
                render_open(&auth, campaign, &record, now, StatusCode::CREATED).expect("renders");
            assert_eq!(response.status(), StatusCode::CREATED);
            assert_eq!(body_text(response), serde_open);

            let last = final_attempt(campaign, &record, &questions, now).expect("final");
            let serde_final = serde_json::to_string(&last).expect("serializes");
            assert_eq!(written(&last), serde_final, "{}", campaign.id);
            let response = render_final(campaign, &record, now).expect("renders");
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(body_text(response), serde_final);
        }
        assert_eq!(
            shown_ids.len(),
            campaign.pool.questions().len(),
            "every question of {} was written",
            campaign.id
        );
    }
}

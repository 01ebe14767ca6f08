//! Unit tests of the synthetic rows `seed` writes: they must be rows the flusher could have
//! written, scored by the domain's rule.

use std::path::PathBuf;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use safequiz_domain::bank::Choices;
use safequiz_domain::calendar;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::draw::OptionOrder;
use safequiz_domain::score::{self, is_full_marks};
use safequiz_server::catalogue::Catalogue;
use safequiz_server::config;
use safequiz_sql::record::StoredQuestion;

use super::{play, registration};

fn campaign() -> Arc<Campaign> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let loaded = config::load(&dir).expect("the shipped settings load");
    let catalogue = Catalogue::load(&loaded.dir, &loaded.banks_dir(), &loaded.campaigns_dir())
        .expect("the shipped banks and campaigns load");
    catalogue
        .campaign("safety-month")
        .expect("the shipped campaign")
        .clone()
}

#[test]
fn a_seeded_attempt_is_scored_by_the_domains_rule_from_its_own_answers() {
    let campaign = campaign();
    let first = calendar::day_number(campaign.day_of(campaign.opens_at));
    let mut rng = StdRng::seed_from_u64(3);

    for n in 1..=200 {
        let attempt = play(&campaign, &mut rng, 7, n, "130102", first + 2, first);

        let questions = StoredQuestion::decode_all(&attempt.questions).expect("questions decode");
        assert_eq!(questions.len(), campaign.questions_per_attempt());
        let correct = questions
            .iter()
            .filter(|q| {
                OptionOrder::from_slice(&q.order).is_some()
                    && score::is_correct(Choices::from_bits(q.key), Choices::from_bits(q.chosen))
            })
            .count() as u32;
        assert_eq!(attempt.correct as u32, correct, "attempt {n}");
        assert_eq!(
            attempt.points as u32,
            correct * campaign.points_per_question,
            "attempt {n}"
        );
        assert_eq!(
            attempt.full_marks,
            is_full_marks(correct, questions.len() as u32)
        );
        assert_eq!(
            (attempt.day, attempt.attempt_id.as_str()),
            (first + 2, &*format!("7-{n}"))
        );
        assert!(attempt.finished_at_ms > attempt.started_at_ms);
        assert_eq!(
            attempt.time_used_ms,
            attempt.finished_at_ms - attempt.started_at_ms
        );
    }
}

#[test]
fn a_seeded_registration_never_carries_a_real_phone() {
    let campaign = campaign();

    let row = registration(&campaign, 123_456, "130102");

    assert_eq!(row.phone_masked, "199****3456");
    assert_eq!(row.phone_hash, format!("{:064x}", 123_456));
    assert_eq!(
        (row.participant_id, row.unit_id.as_str()),
        (123_456, "130102")
    );
}

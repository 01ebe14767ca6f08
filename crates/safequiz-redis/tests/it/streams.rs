//! The stream entries the scripts write decode into the records `streams` defines, and entries
//! that are not such a record are refused with the reason.

use safequiz_domain::board::Finish;
use safequiz_redis::attempts::{AttemptId, SubmitOutcome};
use safequiz_redis::keys::Shard;
use safequiz_redis::participants::{RegisterOutcome, Registration};
use safequiz_redis::streams::{EntryError, ParticipantEntry, StreamEntry, StreamRecord, decode};

use crate::{
    CAMPAIGN, DAY, LIMIT_MS, PATH, SHARDS, T0, actor, choice, five_questions, hot_state,
    new_attempt, start_new,
};

#[tokio::test]
async fn a_registration_and_a_finalized_attempt_each_append_one_entry_that_decodes() {
    let (_redis, hot) = hot_state();
    let hash = [7u8; 16];
    let RegisterOutcome::Created { participant, .. } = hot
        .register(&Registration {
            campaign: CAMPAIGN,
            shards: SHARDS,
            phone_hash: &hash,
            name: "王五",
            phone_masked: "139****0001",
            unit: PATH[1],
            now_ms: T0,
        })
        .await
        .expect("register")
    else {
        panic!("a new phone creates a participant");
    };
    let me = actor(participant);
    let drawn = five_questions();
    start_new(&hot, &me, 1, &new_attempt(DAY, T0 + 1_000, &drawn)).await;
    let sent = [(0, choice("B")), (1, choice("AB")), (4, choice("F"))];
    let SubmitOutcome::Final(record) = hot
        .submit(&me, 1, &sent, T0 + 41_000)
        .await
        .expect("submit")
    else {
        panic!("a submit in time is final");
    };
    let shard = Shard::of_participant(participant, SHARDS);
    let cursor = hot
        .flush_hold(CAMPAIGN, shard, "test", 30_000)
        .await
        .expect("lease")
        .expect("no other flusher holds the shard");
    assert_eq!(cursor, "0-0", "nothing is written yet");

    let entries = hot
        .flush_read(CAMPAIGN, shard, &cursor, 100)
        .await
        .expect("XRANGE");

    assert_eq!(entries.len(), 2, "{entries:?}");
    let registered = decode(&entries[0]).expect("the registration decodes");
    assert_eq!(
        registered,
        StreamRecord::Participant(ParticipantEntry {
            participant,
            name: "王五",
            phone_masked: "139****0001",
            phone_hash: &"07".repeat(16),
            unit: PATH[1],
            registered_ms: T0,
            consent: None,
            guardian: None,
            phone_sealed: None,
        })
    );
    let StreamRecord::Attempt(attempt) = decode(&entries[1]).expect("the attempt decodes") else {
        panic!("the second entry is the attempt");
    };
    let result = record.result.expect("a result");
    assert_eq!(
        attempt.attempt,
        AttemptId {
            participant,
            number: 1
        }
    );
    assert_eq!(
        (
            attempt.participant,
            attempt.unit,
            attempt.day,
            attempt.attempts
        ),
        (participant, PATH[1], DAY, 1)
    );
    assert_eq!(
        (attempt.started_ms, attempt.deadline_ms),
        (T0 + 1_000, T0 + 1_000 + LIMIT_MS)
    );
    assert_eq!(
        attempt.finish,
        Finish {
            finished_ms: result.finished_ms,
            time_used_ms: result.time_used_ms
        }
    );
    assert_eq!(
        (attempt.points, attempt.correct, attempt.auto_submitted),
        (result.points, result.correct, false)
    );
    assert_eq!((attempt.points, attempt.correct), (2, 2));
    assert_eq!(attempt.questions.len(), drawn.len());
    for ((entry, drawn), stored) in attempt.questions.iter().zip(&drawn).zip(record.questions()) {
        let stored = stored.expect("the record decodes");
        assert_eq!(
            (entry.id, entry.order, entry.key),
            (drawn.id.as_str(), drawn.order, drawn.key)
        );
        assert_eq!(entry.chosen, stored.answer, "question {}", drawn.id);
    }
}

/// Field-value pairs of an entry.
type Fields<'a> = Vec<(&'a str, &'a str)>;

fn entry(fields: &[(&str, &str)]) -> StreamEntry {
    StreamEntry::with_fields("1-0", fields)
}

/// An attempt entry as written before its figures were packed into `values`: each a field.
const NAMED_ATTEMPT: [(&str, &str); 16] = [
    ("type", "attempt"),
    ("attempt", "5-1"),
    ("participant", "5"),
    ("unit", "110101"),
    ("day", "20613"),
    ("started", "1000"),
    ("deadline", "151000"),
    ("finished", "61000"),
    ("time_used", "60000"),
    ("points", "1"),
    ("correct", "1"),
    ("auto", "0"),
    ("questions", "q-1/10,q-2/01"),
    ("key", "12"),
    ("answers", "20"),
    ("attempts", "1"),
];

#[test]
fn entries_that_are_not_a_record_are_refused_with_the_reason() {
    let attempt = NAMED_ATTEMPT;
    let with = |field: &str, value: &'static str| -> Fields<'_> {
        attempt
            .iter()
            .map(|&(name, old)| (name, if name == field { value } else { old }))
            .collect()
    };
    let without = |field: &str| -> Fields<'_> {
        attempt
            .iter()
            .copied()
            .filter(|(name, _)| *name != field)
            .collect()
    };
    let cases: Vec<(Fields<'_>, EntryError, &str)> = vec![
        (vec![], EntryError::Missing("type"), "no type"),
        (
            vec![("type", "vote")],
            EntryError::UnknownType("vote".to_owned()),
            "a type this version does not know",
        ),
        (
            without("points"),
            EntryError::Missing("points"),
            "no points",
        ),
        (
            with("finished", "soon"),
            EntryError::Malformed("finished"),
            "an instant that is not a number",
        ),
        (
            with("attempt", "5"),
            EntryError::Malformed("attempt"),
            "an attempt id without its number",
        ),
        (
            with("key", "1"),
            EntryError::Questions,
            "a key shorter than the questions",
        ),
        (
            with("questions", "q-1/11,q-2/01"),
            EntryError::Questions,
            "an option order that is not a permutation",
        ),
        (
            vec![("type", "participant"), ("participant", "5")],
            EntryError::Missing("name"),
            "a registration without a name",
        ),
    ];
    assert!(
        matches!(decode(&entry(&attempt)), Ok(StreamRecord::Attempt(_))),
        "the table's base entry decodes"
    );
    for (fields, expected, why) in cases {
        assert_eq!(decode(&entry(&fields)), Err(expected), "{why}");
    }
}

#[test]
fn a_packed_attempt_and_one_written_before_the_packing_decode_alike() {
    // The board writer's fields ride along in the old form; the flusher does not read them.
    let mut named: Fields<'_> = NAMED_ATTEMPT.to_vec();
    named.extend([
        ("total_points", "3"),
        ("total_time", "90000"),
        ("last", "61000"),
        ("previous_last", "31000"),
        ("path", "110000,110101"),
    ]);
    let values = "110101,20613,1000,151000,61000,60000,1,1,0,1,3,90000,61000,31000,,";
    let packed = |values: &'static str| -> Fields<'static> {
        vec![
            ("type", "attempt"),
            ("attempt", "5-1"),
            ("values", values),
            ("questions", "q-1/10,q-2/01"),
            ("key", "12"),
            ("answers", "20"),
            ("path", "110000,110101"),
        ]
    };
    let named = entry(&named);
    let old = decode(&named).expect("an entry of the previous version decodes");
    assert_eq!(decode(&entry(&packed(values))), Ok(old.clone()));
    let StreamRecord::Attempt(attempt) = old else {
        panic!("an attempt");
    };
    assert_eq!(
        (
            attempt.participant,
            attempt.attempts,
            attempt.auto_submitted
        ),
        (5, 1, false)
    );
    assert_eq!(
        decode(&entry(&packed(
            "110101,20613,1000,151000,61000,60000,1,1,0,1,3,90000,61000,31000,-2,1"
        ))),
        Ok(StreamRecord::Attempt(attempt)),
        "unit_points and excluded are the board writer's"
    );

    let cases = [
        (
            "110101,20613,1000,151000,61000,60000,1,1,1,2,3,90000,61000,31000,",
            "a value short",
        ),
        (
            "110101,20613,1000,151000,61000,60000,1,1,1,2,3,90000,61000,31000,,,",
            "a value too many",
        ),
        (
            "110101,20613,1000,151000,soon,60000,1,1,1,2,3,90000,61000,31000,,",
            "an instant that is not a number",
        ),
        (
            ",20613,1000,151000,61000,60000,1,1,1,2,3,90000,61000,31000,,",
            "no unit",
        ),
    ];
    for (values, why) in cases {
        assert_eq!(
            decode(&entry(&packed(values))),
            Err(EntryError::Malformed("values")),
            "{why}"
        );
    }
}

#[test]
fn a_packed_registration_and_one_written_before_the_packing_decode_alike() {
    let record = [
        ("consent", "2026-2"),
        ("guardian", "王大明"),
        ("phone_sealed", "sealed-text"),
    ];
    let mut named: Fields<'_> = vec![
        ("type", "participant"),
        ("participant", "17"),
        ("name", "王小明"),
        ("phone_masked", "138****5678"),
        ("phone_hash", "00ff"),
        ("unit", "110101"),
        ("registered", "1780000000000"),
    ];
    named.extend(record);
    let packed = |person: &'static str| -> Fields<'static> {
        let mut fields = vec![("type", "participant"), ("person", person)];
        fields.extend(record);
        fields
    };
    let named = entry(&named);
    let old = decode(&named).expect("an entry of the previous version decodes");
    let StreamRecord::Participant(person) = &old else {
        panic!("a registration");
    };
    assert_eq!(
        (person.participant, person.name, person.guardian),
        (17, "王小明", Some("王大明"))
    );
    assert_eq!(
        decode(&entry(&packed(
            "17\t王小明\t138****5678\t00ff\t110101\t1780000000000"
        ))),
        Ok(old)
    );
    for (person, why) in [
        ("17\t王小明\t138****5678\t00ff\t110101", "a value short"),
        (
            "17\t王小明\t138****5678\t00ff\t110101\t1780000000000\tx",
            "a value too many",
        ),
        (
            "x\t王小明\t138****5678\t00ff\t110101\t1780000000000",
            "an id that is no number",
        ),
    ] {
        assert_eq!(
            decode(&entry(&packed(person))),
            Err(EntryError::Malformed("person")),
            "{why}"
        );
    }
}

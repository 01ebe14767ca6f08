//! `save.lua`: an answer is saved only when it is valid and in time.

use safequiz_domain::bank::{Choices, QuestionKind};
use safequiz_redis::attempts::{
    AttemptRecord, ReadOutcome, SaveOutcome, SaveTicket, SubmitOutcome,
};

use crate::{
    DAY, GRACE_MS, LIMIT_MS, T0, actor, choice, five_questions, hot_state, new_attempt, start_new,
};

fn answers(record: &AttemptRecord) -> Vec<Choices> {
    record
        .questions()
        .map(|question| question.expect("the attempt decodes").answer)
        .collect()
}

fn keys(text: &str, kind: QuestionKind, options: usize) -> Choices {
    Choices::parse_keys(text, kind, options).expect("valid keys")
}

#[tokio::test]
async fn valid_answers_are_saved_and_a_later_one_replaces_an_earlier_one() {
    let (_redis, hot) = hot_state();
    let me = actor(11);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let cases = [
        (0, "A", "a single choice"),
        (0, "D", "another single choice replaces it"),
        (1, "ABCDE", "every option of a multiple choice"),
        (2, "F", "false"),
        (4, "T", "true"),
        (3, "C", "a single choice"),
        (3, "", "nothing, which clears the answer"),
    ];

    for (index, keys, why) in cases {
        let outcome = hot
            .save(&me, 1, index, choice(keys), T0 + 1_000)
            .await
            .expect("Redis runs the save script");
        assert_eq!(outcome, SaveOutcome::Saved, "{why}");
    }

    let ReadOutcome::Open(record) = hot.read(&me, 1, T0 + 2_000).await.expect("read") else {
        panic!("the attempt is still open");
    };
    use QuestionKind::{Multiple, Single, TrueFalse};
    assert_eq!(
        answers(&record),
        vec![
            keys("D", Single, 4),
            keys("ABCDE", Multiple, 5),
            keys("F", TrueFalse, 2),
            Choices::NONE,
            keys("T", TrueFalse, 2),
        ]
    );
}

#[tokio::test]
async fn answers_a_question_cannot_take_are_refused_and_change_nothing() {
    let (_redis, hot) = hot_state();
    let me = actor(12);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let cases = [
        (1, 0, "E", SaveOutcome::BadChoice, "a fifth option of four"),
        (
            1,
            0,
            "AB",
            SaveOutcome::BadChoice,
            "two options of a single choice",
        ),
        (
            1,
            0,
            "T",
            SaveOutcome::BadChoice,
            "true for a single choice",
        ),
        (1, 1, "F", SaveOutcome::BadChoice, "a sixth option of five"),
        (1, 2, "A", SaveOutcome::BadChoice, "a letter for true/false"),
        (1, 2, "TF", SaveOutcome::BadChoice, "both true and false"),
        (1, 5, "A", SaveOutcome::BadIndex, "a sixth question of five"),
        (2, 0, "A", SaveOutcome::Missing, "an attempt never started"),
    ];

    for (number, index, keys, expected, why) in cases {
        let outcome = hot
            .save(&me, number, index, choice(keys), T0 + 1_000)
            .await
            .expect("Redis runs the save script");
        assert_eq!(outcome, expected, "{why}");
    }

    let ReadOutcome::Open(record) = hot.read(&me, 1, T0 + 2_000).await.expect("read") else {
        panic!("the attempt is still open");
    };
    assert_eq!(answers(&record), vec![Choices::NONE; 5]);
}

#[tokio::test]
async fn an_answer_counts_until_the_grace_ends_and_then_the_attempt_closes() {
    let (_redis, hot) = hot_state();
    let me = actor(13);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let accepts_until = T0 + LIMIT_MS + GRACE_MS;

    let last_moment = hot
        .save(&me, 1, 0, choice("B"), accepts_until)
        .await
        .expect("save");
    let too_late = hot
        .save(&me, 1, 2, choice("T"), accepts_until + 1)
        .await
        .expect("save");
    let after_final = hot
        .save(&me, 1, 2, choice("T"), accepts_until + 2)
        .await
        .expect("save");

    assert_eq!(last_moment, SaveOutcome::Saved);
    assert_eq!(too_late, SaveOutcome::Closed);
    assert_eq!(after_final, SaveOutcome::Closed);
    let ReadOutcome::Final(record) = hot.read(&me, 1, accepts_until + 3).await.expect("read")
    else {
        panic!("a save after the grace finalizes the attempt");
    };
    let result = record.result.expect("a result");
    assert!(result.auto_submitted);
    assert_eq!(
        (result.correct, result.points),
        (1, 1),
        "the answer saved in the grace counts, the late one does not"
    );
}

/// Every option set a key text can name (letters A-F, T/F, and keys of neither alphabet).
fn every_choice() -> Vec<&'static str> {
    vec![
        "", "A", "B", "D", "E", "F", "T", "AB", "AC", "ABCDE", "ABCDEF", "AT", "TF", "X", "FT",
    ]
}

#[tokio::test]
async fn a_listed_save_takes_exactly_the_answers_the_save_script_takes() {
    let (_redis, hot) = hot_state();
    let scripted = actor(21);
    let listed = actor(22);
    let attempt = new_attempt(DAY, T0, &five_questions());
    start_new(&hot, &scripted, 1, &attempt).await;
    let record = start_new(&hot, &listed, 1, &attempt).await;
    let fields = record.save_ticket_fields();
    let ticket = SaveTicket::parse(&fields).expect("the record's ticket fields parse");
    assert_eq!(ticket.accepts_until_ms, T0 + LIMIT_MS + GRACE_MS);

    for index in 0..6 {
        for keys in every_choice() {
            let by_script = hot
                .save(&scripted, 1, index, choice(keys), T0 + 1_000)
                .await
                .expect("Redis runs the save script");
            let why = format!("question {index}, keys {keys:?}");
            match ticket.answer(index, choice(keys)) {
                Some(bits) => {
                    assert_eq!(by_script, SaveOutcome::Saved, "{why}");
                    let saved = hot
                        .save_listed(&listed, 1, index, bits)
                        .await
                        .expect("Redis runs the LSET");
                    assert!(saved, "{why}: the open attempt's list takes it");
                }
                None => assert!(
                    matches!(by_script, SaveOutcome::BadChoice | SaveOutcome::BadIndex),
                    "{why}: the script refuses what the ticket refuses, got {by_script:?}"
                ),
            }
            let read = |who| hot.read(who, 1, T0 + 2_000);
            let (ReadOutcome::Open(a), ReadOutcome::Open(b)) = (
                read(&scripted).await.expect("read"),
                read(&listed).await.expect("read"),
            ) else {
                panic!("both attempts are open");
            };
            assert_eq!(answers(&a), answers(&b), "{why}: the same answers saved");
        }
    }
}

#[tokio::test]
async fn a_listed_save_writes_nothing_once_the_attempt_is_final_or_never_started() {
    let (_redis, hot) = hot_state();
    let me = actor(23);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    assert!(hot.save_listed(&me, 1, 0, 2).await.expect("LSET"));
    let SubmitOutcome::Final(before) = hot.submit(&me, 1, &[], T0 + 5_000).await.expect("submit")
    else {
        panic!("the submit finalizes the attempt");
    };
    assert_eq!(answers(&before)[0], keys("B", QuestionKind::Single, 4));

    assert!(
        !hot.save_listed(&me, 1, 0, 1).await.expect("LSET"),
        "a final attempt has no list"
    );
    assert!(
        !hot.save_listed(&me, 2, 0, 1).await.expect("LSET"),
        "an attempt never started has no list"
    );
    let ReadOutcome::Final(after) = hot.read(&me, 1, T0 + 6_000).await.expect("read") else {
        panic!("the attempt is final");
    };
    assert_eq!(answers(&after), answers(&before), "nothing changed");
    assert_eq!(
        hot.save(&me, 1, 0, choice("A"), T0 + 6_000)
            .await
            .expect("save"),
        SaveOutcome::Closed,
        "the checked save says why"
    );
}

#[tokio::test]
async fn an_attempt_started_before_answers_lists_keeps_its_answers_in_its_hash() {
    let (redis, hot) = hot_state();
    let me = actor(24);
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    // As a start of the previous version left it: the answers in n:a and no list.
    let keys_of = safequiz_redis::keys::ShardKeys::new(
        crate::CAMPAIGN,
        safequiz_redis::keys::Shard::of_participant(24, crate::SHARDS),
    );
    let mut raw = crate::raw(&redis).await;
    let _: () = redis::pipe()
        .del(keys_of.answers(24, 1))
        .hset(keys_of.participant(24), "1:a", "00000")
        .query_async(&mut raw)
        .await
        .expect("the old layout is written");

    assert!(
        !hot.save_listed(&me, 1, 3, 8).await.expect("LSET"),
        "no list: the save must take the checked way"
    );
    assert_eq!(
        hot.save(&me, 1, 3, choice("D"), T0 + 1_000)
            .await
            .expect("save"),
        SaveOutcome::Saved
    );
    let SubmitOutcome::Final(record) = hot
        .submit(&me, 1, &[(0, choice("B"))], T0 + 2_000)
        .await
        .expect("submit")
    else {
        panic!("the submit finalizes the attempt");
    };
    assert_eq!(answers(&record)[3], keys("D", QuestionKind::Single, 4));
    assert_eq!(answers(&record)[0], keys("B", QuestionKind::Single, 4));
    assert_eq!(record.result.expect("final").correct, 2);
}

#[tokio::test]
async fn the_answers_list_lives_only_while_the_attempt_is_open() {
    let (redis, hot) = hot_state();
    let me = actor(25);
    let list = safequiz_redis::keys::ShardKeys::new(
        crate::CAMPAIGN,
        safequiz_redis::keys::Shard::of_participant(25, crate::SHARDS),
    )
    .answers(25, 1);
    let mut raw = crate::raw(&redis).await;
    start_new(&hot, &me, 1, &new_attempt(DAY, T0, &five_questions())).await;
    let open: Vec<String> = redis::cmd("LRANGE")
        .arg(&list)
        .arg(0)
        .arg(-1)
        .query_async(&mut raw)
        .await
        .expect("LRANGE");
    assert_eq!(open, vec!["0"; 5], "one unanswered element per question");

    // Finalized by a read after the deadline and grace, as the sweeper would.
    let ReadOutcome::Final(_) = hot
        .read(&me, 1, T0 + LIMIT_MS + GRACE_MS + 1)
        .await
        .expect("read")
    else {
        panic!("a read past the grace finalizes it");
    };
    let exists: bool = redis::cmd("EXISTS")
        .arg(&list)
        .query_async(&mut raw)
        .await
        .expect("EXISTS");
    assert!(!exists, "finalize deletes the list");
}

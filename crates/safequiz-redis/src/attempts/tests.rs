//! Attempt ids, choice arguments and the stored encodings: the parts of this module that need no
//! Redis.

use super::*;

#[test]
fn attempt_ids_round_trip_and_refuse_anything_else() {
    let id = AttemptId::parse("1234-7").expect("an attempt id");
    assert_eq!(
        id,
        AttemptId {
            participant: 1234,
            number: 7
        }
    );
    assert_eq!(id.to_string(), "1234-7");
    for bad in [
        "",
        "-",
        "12",
        "12-",
        "-3",
        "12-0",
        "a-1",
        "1-b",
        "1-2-3",
        "+1-2",
        "99999999999999999999-1",
    ] {
        assert_eq!(AttemptId::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn choices_are_read_both_as_letters_and_as_true_false() {
    type Case<'a> = (&'a [&'a str], Option<(i16, i16)>, &'a str);
    let cases: [Case<'_>; 7] = [
        (&["A"], Some((1, -1)), "a letter only"),
        (&["A", "C"], Some((5, -1)), "two letters"),
        (&["T"], Some((-1, 1)), "true"),
        (
            &["F"],
            Some((32, 2)),
            "F is both the sixth letter and false",
        ),
        (&[], Some((0, 0)), "nothing chosen"),
        (&["A", "A"], None, "a repeated key"),
        (&["AB"], Some((-1, -1)), "a key of two characters"),
    ];
    for (keys, expected, why) in cases {
        let parsed = ChoiceArg::parse(keys.iter().copied())
            .map(|choice| (choice.letters, choice.true_false));
        assert_eq!(parsed, expected, "{why}");
    }
}

#[test]
fn times_and_results_read_back_as_they_were_written() {
    let times = Times {
        day: 20_613,
        started_ms: 1_781_000_000_000,
        deadline_ms: 1_781_000_150_000,
        accepts_until_ms: 1_781_000_152_000,
    };
    assert_eq!(
        times.encode(),
        "20613,1781000000000,1781000150000,1781000152000"
    );
    assert_eq!(Times::parse(&times.encode()), Some(times));
    let result = AttemptResult {
        points: 4,
        correct: 4,
        finished_ms: 1_781_000_090_000,
        time_used_ms: 90_000,
        auto_submitted: true,
    };
    assert_eq!(result.encode(), "4,4,1781000090000,90000,1");
    assert_eq!(AttemptResult::parse(&result.encode()), Some(result));
    for bad in ["", "1,2,3", "1,2,3,4,x", "1,2,3,4,1,6", "-1,0,0,0,0"] {
        assert_eq!(AttemptResult::parse(bad), None, "{bad:?}");
    }
    for bad in ["", "1,2,3", "x,1,2,3"] {
        assert_eq!(Times::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn encoded_questions_decode_what_a_new_attempt_encodes() {
    let order = |digits: &[u8]| OptionOrder::from_slice(digits).expect("a permutation");
    let mut attempt = NewAttempt::new(1, 0, 150_000, 152_000);
    attempt.push(
        "s-1",
        QuestionKind::Single,
        order(&[2, 0, 1, 3]),
        Choices::from_bits(0b10),
    );
    attempt.push(
        "m-2",
        QuestionKind::Multiple,
        order(&[0, 1, 2, 3, 4, 5]),
        Choices::from_bits(0b10_0101),
    );
    attempt.push(
        "t-3",
        QuestionKind::TrueFalse,
        order(&[0, 1]),
        Choices::from_bits(0b01),
    );
    assert_eq!(attempt.encoded_questions(), "s-1/2013,m-2/012345,t-3/01");
    assert_eq!(attempt.encoded_key(), "2U1");
    assert_eq!(attempt.encoded_kinds(), "s4m6t2");
    let answers = encode_answers(&[
        Choices::from_bits(0b10),
        Choices::NONE,
        Choices::from_bits(0b10),
    ]);
    assert_eq!(answers, "202");

    let open: Vec<_> = EncodedQuestions::new(attempt.encoded_questions(), "", &answers)
        .decode()
        .collect();
    let shut = EncodedQuestions::new(attempt.encoded_questions(), attempt.encoded_key(), &answers)
        .decode_final()
        .expect("a final attempt decodes");

    assert_eq!(
        open,
        vec![
            Some(StoredQuestion {
                id: "s-1",
                order: order(&[2, 0, 1, 3]),
                answer: Choices::from_bits(0b10),
                key: None,
            }),
            Some(StoredQuestion {
                id: "m-2",
                order: order(&[0, 1, 2, 3, 4, 5]),
                answer: Choices::NONE,
                key: None,
            }),
            Some(StoredQuestion {
                id: "t-3",
                order: order(&[0, 1]),
                answer: Choices::from_bits(0b10),
                key: None,
            }),
        ]
    );
    let keys: Vec<u8> = shut.iter().map(|question| question.key.bits()).collect();
    assert_eq!(keys, [0b10, 0b10_0101, 0b01]);
    let chosen: Vec<u8> = shut.iter().map(|question| question.chosen.bits()).collect();
    assert_eq!(chosen, [0b10, 0, 0b10]);
}

#[test]
fn questions_that_do_not_decode_are_refused() {
    let cases = [
        ("q/01", "", "", "no answer character"),
        ("q01", "1", "0", "no order"),
        ("q/011", "1", "0", "an order that repeats an option"),
        ("q/3", "1", "0", "an order naming a missing option"),
        ("q/0123456", "1", "0", "seven options"),
    ];
    for (questions, key, answers, why) in cases {
        let encoded = EncodedQuestions::new(questions, key, answers);
        assert_eq!(encoded.decode().collect::<Vec<_>>(), vec![None], "{why}");
        assert_eq!(encoded.decode_final(), None, "{why}");
    }
    assert_eq!(
        EncodedQuestions::new("a/01,b/10", "1", "00").decode_final(),
        None,
        "a key shorter than the questions is not final"
    );
}

#[test]
fn a_script_record_is_read_field_by_field_and_a_malformed_one_is_named() {
    let reply = |fields: &[&str]| fields.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    let open = [
        "created",
        "3",
        "20600,1000,151000,154000",
        "q1/0123",
        "00",
        "s4",
        "",
        "",
    ];
    let record = AttemptRecord::parse(42, reply(&open)).expect("a well-formed record");
    assert_eq!(
        record.id,
        AttemptId {
            participant: 42,
            number: 3
        }
    );
    assert_eq!(
        (record.day, record.started_ms, record.deadline_ms),
        (20600, 1000, 151000)
    );
    assert_eq!(record.accepts_until_ms, 154000);
    assert_eq!(record.len(), 2);
    assert_eq!(record.result, None);
    assert_eq!(record.save_ticket_fields(), "154000.s4");

    let mut last = open;
    last[7] = "4,4,90000,89000,0";
    let record = AttemptRecord::parse(42, reply(&last)).expect("a final record");
    assert_eq!(
        record.result.map(|r| (r.points, r.time_used_ms)),
        Some((4, 89000))
    );

    let mut bad_number = open;
    bad_number[1] = "x";
    let mut bad_times = open;
    bad_times[2] = "20600,1000";
    let mut bad_result = open;
    bad_result[7] = "4,4";
    for bad in [&open[..7], &bad_number[..], &bad_times[..], &bad_result[..]] {
        match AttemptRecord::parse(42, reply(bad)) {
            Err(RedisError::Reply(message)) => {
                assert!(message.starts_with("malformed attempt record"), "{message}");
                assert!(message.contains(bad[2]), "{message} names the reply");
            }
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
}

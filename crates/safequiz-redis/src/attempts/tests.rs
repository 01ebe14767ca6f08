//! Attempt ids and choice arguments, the parts of this module that need no Redis.

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

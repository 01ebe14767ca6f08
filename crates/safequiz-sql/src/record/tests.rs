//! Unit tests of the `attempts.questions` JSON format.

use super::{StoredQuestion, decode_all, encode_all};

fn sample() -> Vec<StoredQuestion> {
    vec![
        StoredQuestion {
            chosen: 2,
            id: "ap-001".to_owned(),
            key: 2,
            order: vec![1, 0, 2, 3],
        },
        StoredQuestion {
            chosen: 0,
            id: "ap-002".to_owned(),
            key: 1,
            order: vec![0, 1],
        },
    ]
}

#[test]
fn questions_survive_an_encode_and_decode_round_trip() {
    let questions = sample();

    let decoded = decode_all(&encode_all(&questions)).expect("decodes");

    assert_eq!(decoded, questions);
}

#[test]
fn encoded_text_is_byte_for_byte_what_the_flusher_wrote_before_the_type_existed() {
    // The flusher used to build each question with `serde_json::json!`, whose object keeps its
    // keys sorted; the type must write exactly that text.
    let old: String = serde_json::Value::Array(
        sample()
            .iter()
            .map(|q| {
                serde_json::json!({
                    "id": q.id,
                    "order": q.order,
                    "key": q.key,
                    "chosen": q.chosen,
                })
            })
            .collect(),
    )
    .to_string();

    assert_eq!(encode_all(&sample()), old);
    assert_eq!(
        encode_all(&sample()[..1]),
        r#"[{"chosen":2,"id":"ap-001","key":2,"order":[1,0,2,3]}]"#
    );
}

#[test]
fn text_as_postgres_prints_jsonb_decodes_whatever_the_key_order() {
    let jsonb = r#"[{"id": "ap-001", "key": 2, "order": [1, 0, 2, 3], "chosen": 2}]"#;

    let decoded = decode_all(jsonb).expect("decodes");

    assert_eq!(decoded, sample()[..1].to_vec());
}

#[test]
fn malformed_text_is_refused() {
    for (text, why) in [
        ("", "empty text"),
        ("{}", "an object, not a list"),
        (r#"[{"id": "q", "order": [0], "key": 1}]"#, "chosen missing"),
        (
            r#"[{"id": "q", "order": [0], "key": 256, "chosen": 0}]"#,
            "key beyond a byte",
        ),
    ] {
        assert!(decode_all(text).is_err(), "{why}");
    }
}

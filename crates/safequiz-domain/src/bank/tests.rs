use proptest::prelude::*;

use super::check::{Categories, load_banks, parse_categories};
use super::{Choices, QuestionKind};

const CATEGORIES: &str = r#"
[[categories]]
id = "evacuation"
name = "避险逃生"

[[categories]]
id = "self_rescue"
name = "自救互救"
"#;

fn categories() -> Categories {
    parse_categories("categories.toml", CATEGORIES).expect("the test categories are valid")
}

const GOOD_QUESTION: &str = r#"
[[questions]]
id = "q-001"
kind = "single"
category = "evacuation"
difficulty = 1
stem = "火灾中应当如何逃生？"
options = ["乘坐普通电梯", "沿疏散楼梯撤离", "躲进衣柜", "返回取财物"]
answer = "B"
explanation = "疏散楼梯是安全出口。"
source = "《中华人民共和国消防法》（2021年修正）第二十八条"
"#;

fn bank(questions: &str) -> String {
    format!("[bank]\nid = \"test\"\ntitle = \"测试\"\n{questions}")
}

/// The question of `GOOD_QUESTION` with `field = value` replaced (or added when `field` is new).
fn with(field: &str, value: &str) -> String {
    let mut lines: Vec<String> = GOOD_QUESTION.lines().map(str::to_owned).collect();
    match lines
        .iter()
        .position(|line| line.starts_with(&format!("{field} =")))
    {
        Some(index) if value.is_empty() => {
            lines.remove(index);
        }
        Some(index) => lines[index] = format!("{field} = {value}"),
        None => lines.push(format!("{field} = {value}")),
    }
    lines.join("\n") + "\n"
}

#[test]
fn a_valid_bank_loads_with_its_question() {
    let text = bank(GOOD_QUESTION);
    let banks = load_banks(&categories(), &[("good.toml", &text)]).expect("a valid bank loads");
    let question = &banks[0].questions[0];
    assert_eq!(question.id, "q-001");
    assert_eq!(question.kind, QuestionKind::Single);
    assert_eq!(question.answer, Choices::NONE.with(1));
    assert_eq!(question.options.len(), 4);
}

#[test]
fn true_false_questions_get_the_fixed_options() {
    let text = bank(
        &with("kind", "\"true_false\"")
            .replace(
                "options = [\"乘坐普通电梯\", \"沿疏散楼梯撤离\", \"躲进衣柜\", \"返回取财物\"]\n",
                "",
            )
            .replace("answer = \"B\"", "answer = \"F\""),
    );
    let banks =
        load_banks(&categories(), &[("tf.toml", &text)]).expect("a true/false question loads");
    let question = &banks[0].questions[0];
    assert_eq!(question.options, vec!["正确", "错误"]);
    assert_eq!(question.answer.keys(QuestionKind::TrueFalse), "F");
}

#[test]
fn broken_questions_are_reported_with_line_and_reason() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            with("answer", "\"E\""),
            "`E` is not one of this question's option keys",
            "answer beyond the options",
        ),
        (with("answer", "\"\""), "answer is missing", "empty answer"),
        (
            with("answer", "\"AB\""),
            "needs exactly one key",
            "two answers to a single question",
        ),
        (
            with("answer", "\"BB\""),
            "`B` is given twice",
            "repeated key",
        ),
        (
            with("kind", "\"multiple\""),
            "at least two keys",
            "multiple with one answer",
        ),
        (
            with("kind", "\"essay\""),
            "kind `essay` is not one of",
            "unknown kind",
        ),
        (
            with("kind", "\"true_false\"").replace("answer = \"B\"", "answer = \"T\""),
            "take no options",
            "true/false with options",
        ),
        (
            with("category", "\"chemistry\""),
            "unknown category `chemistry`",
            "unknown category",
        ),
        (
            with("difficulty", "4"),
            "difficulty 4 is not 1, 2 or 3",
            "difficulty out of range",
        ),
        (with("stem", "\"  \""), "stem is empty", "blank stem"),
        (with("source", "\"\""), "source is empty", "empty source"),
        (
            with("explanation", "\"\""),
            "explanation is empty",
            "empty explanation",
        ),
        (
            with("options", "[\"只有一个\"]"),
            "has 1 options; it needs 2 to 6",
            "one option",
        ),
        (
            with("options", "[\"甲\", \"乙\", \"乙\"]"),
            "option C repeats an earlier option",
            "repeated option",
        ),
        (
            with("options", "[\"甲\", \"乙\", \"以上都对\"]"),
            "option C refers to the other options",
            "以上都对",
        ),
        (
            with("options", "[\"甲\", \"乙\", \"A和B\"]"),
            "option C names other options by letter",
            "letter reference",
        ),
        (
            with("options", "[\"A. 甲\", \"乙\"]"),
            "option A starts with a letter label",
            "label in option",
        ),
        (
            with("options", ""),
            "options are missing",
            "no options for a single question",
        ),
        (
            with("remark", "\"x\""),
            "unknown field `remark`",
            "unknown key",
        ),
    ];
    for (question, expected, why) in cases {
        let text = bank(&question);
        let problems = load_banks(&categories(), &[("broken.toml", &text)]).expect_err(why);
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            rendered.iter().any(|line| line.contains(expected)),
            "{why}: expected a problem containing {expected:?}, got {rendered:?}"
        );
        assert!(
            rendered.iter().all(|line| line.starts_with("broken.toml:")),
            "{why}: every problem names the file and line: {rendered:?}"
        );
    }
}

#[test]
fn problems_point_at_the_line_of_the_question() {
    let text =
        bank(&(GOOD_QUESTION.to_owned() + &with("answer", "\"Z\"").replace("q-001", "q-002")));
    let problems =
        load_banks(&categories(), &[("b.toml", &text)]).expect_err("answer Z is impossible");
    let line_of_id = text
        .lines()
        .position(|line| line == "id = \"q-002\"")
        .expect("the id line exists")
        + 1;
    assert_eq!(problems[0].line, Some(line_of_id));
    assert_eq!(problems[0].question.as_deref(), Some("q-002"));
}

#[test]
fn quantity_words_are_not_mistaken_for_references_to_options() {
    let text = bank(
        &with(
            "options",
            "[\"县级以上人民政府\", \"三年以上七年以下\", \"乡镇\"]",
        )
        .replace("answer = \"B\"", "answer = \"A\""),
    );
    load_banks(&categories(), &[("ok.toml", &text)]).expect("以上 as a quantity word is fine");
}

#[test]
fn duplicate_ids_and_questions_across_files_are_reported() {
    let first = bank(GOOD_QUESTION);
    let second = bank(GOOD_QUESTION).replace("id = \"test\"", "id = \"other\"");
    let problems = load_banks(&categories(), &[("a.toml", &first), ("b.toml", &second)])
        .expect_err("duplicates");
    let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("id is already used in a.toml")),
        "{rendered:?}"
    );
    assert!(
        rendered
            .iter()
            .any(|p| p.contains("duplicate question: same stem and options as a.toml (q-001)")),
        "{rendered:?}"
    );

    let reworded = bank(&GOOD_QUESTION.replace("q-001", "q-002").replace("？", "?  "));
    let problems = load_banks(
        &categories(),
        &[
            ("a.toml", &first),
            ("c.toml", &reworded.replace("id = \"test\"", "id = \"c\"")),
        ],
    )
    .expect_err("punctuation and spaces do not make a new question");
    assert!(
        problems
            .iter()
            .any(|p| p.message.starts_with("duplicate question"))
    );
}

#[test]
fn a_syntax_error_names_its_line() {
    let text = bank(GOOD_QUESTION).replace("difficulty = 1", "difficulty = = 1");
    let problems = load_banks(&categories(), &[("syntax.toml", &text)]).expect_err("broken TOML");
    let expected_line = text
        .lines()
        .position(|line| line.starts_with("difficulty"))
        .expect("line exists")
        + 1;
    assert_eq!(problems[0].line, Some(expected_line));
}

#[test]
fn categories_file_problems_are_reported() {
    let cases = [
        (
            "[[categories]]\nid = \"Bad Id\"\nname = \"x\"\n",
            "must be lowercase",
            "bad id",
        ),
        (
            "[[categories]]\nid = \"a\"\nname = \"x\"\n[[categories]]\nid = \"a\"\nname = \"y\"\n",
            "listed twice",
            "duplicate",
        ),
        ("categories = []\n", "no categories", "empty"),
    ];
    for (text, expected, why) in cases {
        let problems = parse_categories("categories.toml", text).expect_err(why);
        assert!(
            problems.iter().any(|p| p.message.contains(expected)),
            "{why}: {problems:?}"
        );
    }
}

#[test]
fn option_keys_map_to_indices_for_every_kind() {
    assert_eq!(QuestionKind::Single.option_key(0), 'A');
    assert_eq!(QuestionKind::Multiple.option_key(5), 'F');
    assert_eq!(QuestionKind::TrueFalse.option_key(1), 'F');
    assert_eq!(QuestionKind::TrueFalse.option_index('T'), Some(0));
    assert_eq!(QuestionKind::TrueFalse.option_index('A'), None);
    assert_eq!(QuestionKind::Single.option_index('G'), None);
}

proptest! {
    #[test]
    fn keys_of_a_parsed_set_read_back_to_the_same_set(bits in 0u8..64, count in 1usize..=6) {
        let kind = QuestionKind::Multiple;
        let set = Choices::from_bits(bits & ((1u8 << count) - 1));
        let keys = set.keys(kind);
        prop_assert_eq!(Choices::parse_keys(&keys, kind, count), Ok(set));
        prop_assert_eq!(set.len(), keys.len());
    }
}

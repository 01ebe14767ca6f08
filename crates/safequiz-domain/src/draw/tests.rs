use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{DrawError, DrawPlan, OptionOrder, QuestionPool, draw};
use crate::bank::{Choices, Difficulty, Question, QuestionKind};

fn question(id: usize, category: &str, kind: QuestionKind) -> Question {
    let options = if kind == QuestionKind::TrueFalse {
        2
    } else {
        4
    };
    Question {
        id: format!("q-{id:03}"),
        kind,
        category: category.to_owned(),
        difficulty: Difficulty::parse(1).expect("1 is a difficulty"),
        stem: format!("题干{id}"),
        options: (0..options).map(|i| format!("选项{i}")).collect(),
        answer: Choices::NONE.with(0),
        explanation: "解析".to_owned(),
        source: "出处".to_owned(),
    }
}

/// 30 questions: 10 each of categories a, b, c; every third one true/false.
fn questions() -> Vec<Question> {
    (0..30)
        .map(|i| {
            let kind = if i % 3 == 0 {
                QuestionKind::TrueFalse
            } else {
                QuestionKind::Single
            };
            question(i, ["a", "b", "c"][i % 3], kind)
        })
        .collect()
}

fn plan(questions_per_attempt: usize, quotas: &[(&str, usize)]) -> DrawPlan {
    DrawPlan {
        questions_per_attempt,
        quotas: quotas.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect(),
    }
}

proptest! {
    #[test]
    fn display_sets_map_back_to_the_bank_order(seed in any::<u64>(), bits in 0u8..64) {
        let plan = plan(5, &[]);
        let pool = QuestionPool::new(questions(), &plan).expect("the pool serves the plan");
        for drawn in draw(&pool, &plan, &mut StdRng::seed_from_u64(seed)) {
            let order = drawn.options;
            let len = order.as_slice().len();
            let original = Choices::from_bits(bits & ((1 << len) - 1));
            let shown = order.shown(original);
            prop_assert_eq!(shown.len(), original.len());
            prop_assert_eq!(order.original(shown), original);
            prop_assert_eq!(OptionOrder::from_slice(order.as_slice()), Some(order));
            for position in shown.indices() {
                prop_assert!(original.contains(usize::from(order.as_slice()[position])));
            }
        }
    }

    #[test]
    fn a_draw_has_distinct_questions_and_meets_every_quota(seed in any::<u64>(), quota_a in 0usize..=3, quota_b in 0usize..=2) {
        let plan = plan(5, &[("a", quota_a), ("b", quota_b)]);
        let pool = QuestionPool::new(questions(), &plan).expect("the pool serves the plan");
        let drawn = draw(&pool, &plan, &mut StdRng::seed_from_u64(seed));

        prop_assert_eq!(drawn.len(), 5);
        let ids: HashSet<u32> = drawn.iter().map(|d| d.question).collect();
        prop_assert_eq!(ids.len(), 5, "no question twice");
        let mut per_category: HashMap<&str, usize> = HashMap::new();
        for d in &drawn {
            *per_category.entry(pool.get(d.question).expect("drawn from the pool").category.as_str()).or_default() += 1;
        }
        prop_assert_eq!(per_category.get("a").copied().unwrap_or(0), quota_a);
        prop_assert_eq!(per_category.get("b").copied().unwrap_or(0), quota_b);
        prop_assert_eq!(per_category.get("c").copied().unwrap_or(0), 5 - quota_a - quota_b);
    }

    #[test]
    fn option_orders_are_permutations_and_true_false_keeps_its_order(seed in any::<u64>()) {
        let plan = plan(10, &[]);
        let pool = QuestionPool::new(questions(), &plan).expect("the pool serves the plan");
        for d in draw(&pool, &plan, &mut StdRng::seed_from_u64(seed)) {
            let question = pool.get(d.question).expect("drawn from the pool");
            let mut order: Vec<u8> = d.options.as_slice().to_vec();
            if question.kind == QuestionKind::TrueFalse {
                prop_assert_eq!(order, vec![0, 1]);
            } else {
                order.sort_unstable();
                prop_assert_eq!(order, vec![0, 1, 2, 3]);
            }
        }
    }
}

#[test]
fn the_same_seed_replays_the_same_draw() {
    let plan = plan(5, &[]);
    let pool = QuestionPool::new(questions(), &plan).expect("the pool serves the plan");
    let first = draw(&pool, &plan, &mut StdRng::seed_from_u64(7));
    let second = draw(&pool, &plan, &mut StdRng::seed_from_u64(7));
    assert_eq!(first, second);
}

#[test]
fn every_question_is_drawn_and_question_order_varies() {
    let plan = plan(5, &[]);
    let pool = QuestionPool::new(questions(), &plan).expect("the pool serves the plan");
    let mut rng = StdRng::seed_from_u64(42);
    let mut seen = HashSet::new();
    let mut first_positions = HashSet::new();
    let mut shuffled_options = 0;
    for _ in 0..400 {
        let drawn = draw(&pool, &plan, &mut rng);
        first_positions.insert(drawn[0].question);
        shuffled_options += drawn
            .iter()
            .filter(|d| d.options.as_slice().len() == 4 && d.options.as_slice() != [0, 1, 2, 3])
            .count();
        seen.extend(drawn.into_iter().map(|d| d.question));
    }
    assert_eq!(
        seen.len(),
        30,
        "2000 draws from 30 questions reach every question"
    );
    assert!(
        first_positions.len() > 20,
        "the first place is not always the same question"
    );
    assert!(
        shuffled_options > 1000,
        "options are shuffled in most draws: {shuffled_options}"
    );
}

#[test]
fn pools_that_cannot_serve_their_plan_are_refused() {
    let too_large_quota =
        QuestionPool::new(questions(), &plan(15, &[("a", 11)])).expect_err("only 10 in a");
    assert_eq!(
        too_large_quota,
        DrawError::QuotaTooLarge {
            category: "a".to_owned(),
            available: 10,
            quota: 11
        }
    );

    let over = QuestionPool::new(questions(), &plan(5, &[("a", 3), ("b", 3)]))
        .expect_err("quotas exceed 5");
    assert_eq!(
        over,
        DrawError::QuotasExceedAttempt {
            quotas: 6,
            questions_per_attempt: 5
        }
    );

    let few =
        QuestionPool::new(questions(), &plan(25, &[("a", 2), ("b", 2)])).expect_err("only 10 in c");
    assert_eq!(
        few,
        DrawError::TooFewFree {
            needed: 21,
            available: 10
        }
    );
}

#[test]
fn option_orders_must_be_permutations() {
    assert!(OptionOrder::from_slice(&[2, 0, 1]).is_some());
    assert_eq!(OptionOrder::from_slice(&[0, 0]), None, "a repeated index");
    assert_eq!(
        OptionOrder::from_slice(&[0, 2]),
        None,
        "an index beyond the options"
    );
    assert_eq!(
        OptionOrder::from_slice(&[0; 7]),
        None,
        "more than six options"
    );
}

#[test]
fn a_questions_texts_are_json_literals_that_read_back_as_the_texts() {
    let mut tricky = question(99, "a", QuestionKind::Single);
    tricky.stem = "“引号” \"quoted\" back\\slash\ttab\nline 《安全生产法》".to_owned();
    tricky.options[2] = "控制字符\u{1}".to_owned();
    tricky.source = String::new();
    let mut all = questions();
    all.push(tricky.clone());
    let pool = QuestionPool::new(all, &plan(5, &[])).expect("the pool serves the plan");
    for question in pool.questions() {
        let (found, texts) = pool.find_with_texts(&question.id).expect("every question");
        assert_eq!(found, question);
        let read = |raw: &serde_json::value::RawValue| -> String {
            serde_json::from_str(raw.get()).expect("a JSON string literal")
        };
        assert_eq!(read(&texts.stem), question.stem);
        assert_eq!(read(&texts.explanation), question.explanation);
        assert_eq!(read(&texts.source), question.source);
        let options: Vec<String> = texts.options.iter().map(|raw| read(raw)).collect();
        assert_eq!(options, question.options);
    }
    assert!(pool.find_with_texts("no-such-id").is_none());
}

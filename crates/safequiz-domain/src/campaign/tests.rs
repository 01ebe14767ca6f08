use jiff::Timestamp;

use super::{Campaign, Window, parse_campaign_file};
use crate::bank::{Bank, Choices, Difficulty, Question, QuestionKind};
use crate::units::parse_unit_file;

const CAMPAIGN: &str = r#"
id = "june"
title = "安全生产月知识竞赛"
opens_at = "2026-06-01T00:00:00+08:00"
closes_at = "2026-07-01T00:00:00+08:00"
time_zone = "Asia/Shanghai"
time_limit_secs = 150
questions_per_attempt = 5
attempts_per_day = 1
points_per_question = 1
banks = ["main"]

[[entries]]
id = "region"
name = "地区"
units = "units/regions.tsv"
"#;

fn banks() -> Vec<Bank> {
    let questions = (0..8)
        .map(|i| Question {
            id: format!("q-{i}"),
            kind: QuestionKind::Single,
            category: if i < 2 { "evacuation" } else { "self_rescue" }.to_owned(),
            difficulty: Difficulty::parse(2).expect("2 is a difficulty"),
            stem: format!("题{i}"),
            options: vec!["甲".to_owned(), "乙".to_owned()],
            answer: Choices::NONE.with(0),
            explanation: "解析".to_owned(),
            source: "出处".to_owned(),
        })
        .collect();
    vec![Bank {
        id: "main".to_owned(),
        title: "主题库".to_owned(),
        questions,
    }]
}

fn build(text: &str) -> Result<Campaign, Vec<String>> {
    let regions = parse_unit_file("code\tparent\tname\tkind\n110000\t\t北京市\tprovince\n")
        .expect("valid units");
    let file = parse_campaign_file(text).map_err(|problem| vec![problem.to_string()])?;
    let entries = vec![regions; file.entries.len()];
    Campaign::build(file, &entries, &banks())
        .map_err(|problems| problems.iter().map(ToString::to_string).collect())
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("a valid instant")
}

#[test]
fn a_valid_campaign_builds_with_its_rules() {
    let campaign = build(CAMPAIGN).expect("the campaign is valid");
    assert_eq!(campaign.questions_per_attempt(), 5);
    assert_eq!(campaign.max_points(), 5);
    assert_eq!(campaign.grace_secs, 2, "grace defaults to 2 s");
    assert_eq!(campaign.pool.questions().len(), 8);
    assert_eq!(campaign.entries[0].name, "地区");
}

#[test]
fn the_window_opens_and_closes_at_its_instants() {
    let campaign = build(CAMPAIGN).expect("valid");
    assert_eq!(
        campaign.window(at("2026-05-31T15:59:59Z")),
        Window::NotYetOpen
    );
    assert_eq!(campaign.window(at("2026-05-31T16:00:00Z")), Window::Open);
    assert_eq!(campaign.window(at("2026-06-30T15:59:59Z")), Window::Open);
    assert_eq!(campaign.window(at("2026-06-30T16:00:00Z")), Window::Closed);
}

#[test]
fn deadline_and_grace_follow_the_time_limit() {
    let campaign = build(CAMPAIGN).expect("valid");
    let started = at("2026-06-02T01:00:00Z");
    let deadline = campaign.deadline(started);
    assert_eq!(deadline, at("2026-06-02T01:02:30Z"));
    assert_eq!(campaign.accepts_until(deadline), at("2026-06-02T01:02:32Z"));
    assert_eq!(
        campaign.day_of(at("2026-06-01T16:30:00Z")).to_string(),
        "2026-06-02"
    );
}

#[test]
fn every_bad_key_is_reported_by_name() {
    let cases = [
        (
            "time_limit_secs = 150",
            "time_limit_secs = 5",
            "key `time_limit_secs`: 5 is out of range",
            "too short",
        ),
        (
            "time_zone = \"Asia/Shanghai\"",
            "time_zone = \"Mars/Olympus\"",
            "key `time_zone`",
            "unknown zone",
        ),
        (
            "opens_at = \"2026-06-01T00:00:00+08:00\"",
            "opens_at = \"June 1\"",
            "key `opens_at`",
            "not an instant",
        ),
        (
            "closes_at = \"2026-07-01T00:00:00+08:00\"",
            "closes_at = \"2026-05-01T00:00:00+08:00\"",
            "key `closes_at`",
            "closes before it opens",
        ),
        (
            "banks = [\"main\"]",
            "banks = [\"nope\"]",
            "key `banks`: no bank has id `nope`",
            "unknown bank",
        ),
        (
            "banks = [\"main\"]",
            "banks = [\"main\", \"main\"]",
            "listed twice",
            "bank twice",
        ),
        (
            "questions_per_attempt = 5",
            "questions_per_attempt = 9",
            "key `draw`",
            "pool too small",
        ),
        (
            "points_per_question = 1",
            "points_per_question = 0",
            "key `points_per_question`",
            "zero points",
        ),
        ("id = \"june\"", "id = \"June 2026\"", "key `id`", "bad id"),
        (
            "units = \"units/regions.tsv\"",
            "units = \"units/regions.tsv\"\n[draw.quotas]\nevacuation = 3",
            "key `draw`",
            "quota above category size",
        ),
        (
            "units = \"units/regions.tsv\"",
            "units = \"units/regions.tsv\"\n[draw.quotas]\nchemistry = 1",
            "key `draw.quotas.chemistry`",
            "unknown quota category",
        ),
        (
            "title = \"安全生产月知识竞赛\"",
            "title = \"安全生产月知识竞赛\"\ncolour = \"red\"",
            "unknown field `colour`",
            "unknown key",
        ),
        (
            "time_limit_secs = 150",
            "time_limit_secs = \"150\"",
            "key `time_limit_secs`: line 7: invalid type",
            "wrong type names the key and line",
        ),
    ];
    for (from, to, expected, why) in cases {
        let text = CAMPAIGN.replace(from, to);
        assert_ne!(text, CAMPAIGN, "{why}: the case must change the file");
        let problems = build(&text).expect_err(why);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{why}: expected {expected:?} in {problems:?}"
        );
    }
}

#[test]
fn several_problems_are_reported_together() {
    let text = CAMPAIGN
        .replace("time_limit_secs = 150", "time_limit_secs = 0")
        .replace("points_per_question = 1", "points_per_question = 1000");
    let problems = build(&text).expect_err("two bad keys");
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn a_wholly_wrong_file_reports_every_key_once_in_file_order() {
    let text = r#"
id = "June 2026"
title = "  "
opens_at = "2026-06-01T00:00:00+08:00"
closes_at = "2026-05-01T00:00:00+08:00"
time_zone = "Mars/Olympus"
time_limit_secs = 5
grace_secs = 31
questions_per_attempt = 0
attempts_per_day = 0
points_per_question = 0
banks = ["nope", "main", "main"]

[draw.quotas]
chemistry = 1
evacuation = 0

[[entries]]
id = "region"
name = "地区"
units = "units/regions.tsv"

[[entries]]
id = "region"
name = " "
units = "units/regions.tsv"
"#;
    let problems = build(text).expect_err("every key is wrong");
    let keys: Vec<&str> = problems
        .iter()
        .map(|problem| problem.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "key `id`",
            "key `title`",
            "key `closes_at`",
            "key `time_zone`",
            "key `time_limit_secs`",
            "key `grace_secs`",
            "key `questions_per_attempt`",
            "key `attempts_per_day`",
            "key `points_per_question`",
            "key `banks`",
            "key `banks`",
            "key `draw.quotas.chemistry`",
            "key `draw.quotas.evacuation`",
            "key `entries[1].id`",
            "key `entries[1].name`",
            "key `entries`",
            "key `draw`",
        ],
        "{problems:#?}"
    );
}

/// The published prize rules as a campaign file writes them (docs/prizes.md).
const PRIZES: &str = r#"
[[prizes]]
name = "个人优胜奖"
rule = "full_marks_then_rank"
count = 300

[[prizes]]
name = "名次奖"
rule = "rank_tiers"
exclude_earlier_winners = true
tiers = [
  { name = "一等奖", count = 10 },
  { name = "二等奖", count = 20 },
]

[[prizes]]
name = "参与奖"
rule = "lottery"
count = 100
min_points = 50
exclude_earlier_winners = true
"#;

#[test]
fn prizes_build_in_file_order() {
    use crate::prizes::{PrizeRule, Tier};
    let campaign = build(&format!("{CAMPAIGN}{PRIZES}")).expect("valid prizes");
    let rules: Vec<&PrizeRule> = campaign.prizes.iter().map(|prize| &prize.rule).collect();
    assert_eq!(
        rules,
        vec![
            &PrizeRule::FullMarksThenRank { count: 300 },
            &PrizeRule::RankTiers {
                tiers: vec![
                    Tier {
                        name: "一等奖".into(),
                        count: 10
                    },
                    Tier {
                        name: "二等奖".into(),
                        count: 20
                    },
                ]
            },
            &PrizeRule::Lottery {
                count: 100,
                min_points: 50
            },
        ]
    );
    assert!(!campaign.prizes[0].exclude_earlier_winners);
    assert!(campaign.prizes[2].exclude_earlier_winners);
    assert_eq!(campaign.prizes[1].count(), 30);
}

#[test]
fn bad_prizes_are_reported_with_their_keys() {
    let cases = [
        (
            "[[prizes]]\nname = \"奖\"\nrule = \"raffle\"\ncount = 1\n",
            "prizes[0].rule",
        ),
        (
            "[[prizes]]\nname = \"奖\"\nrule = \"lottery\"\ncount = 1\n",
            "prizes[0].min_points",
        ),
        (
            "[[prizes]]\nname = \"奖\"\nrule = \"full_marks_then_rank\"\n",
            "prizes[0].count",
        ),
        (
            "[[prizes]]\nname = \"奖\"\nrule = \"full_marks_then_rank\"\ncount = 0\n",
            "prizes[0].count",
        ),
        (
            "[[prizes]]\nname = \"奖\"\nrule = \"rank_tiers\"\n",
            "prizes[0].tiers",
        ),
        (
            "[[prizes]]\nname = \"奖\"\nrule = \"rank_tiers\"\ncount = 5\ntiers = [{ name = \"一\", count = 2 }]\n",
            "prizes[0].count",
        ),
        (
            "[[prizes]]\nname = \"奖\"\nrule = \"lottery\"\ncount = 1\nmin_points = 1\n[[prizes]]\nname = \"奖\"\nrule = \"lottery\"\ncount = 1\nmin_points = 1\n",
            "prizes[1].name",
        ),
        (
            "[[prizes]]\nname = \"奖\"\nrule = \"full_marks_then_rank\"\ncount = 1\nmin_points = 3\n",
            "prizes[0].min_points",
        ),
    ];
    for (text, key) in cases {
        let problems = build(&format!("{CAMPAIGN}{text}")).expect_err(text);
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains(&format!("`{key}`"))),
            "{text}: {problems:?}"
        );
    }
}

#[test]
fn practice_defaults_to_the_campaign_and_may_open_earlier() {
    let campaign = build(CAMPAIGN).expect("valid");
    assert!(
        campaign.practice.is_none(),
        "no [practice], no practice room"
    );
    let campaign = build(&format!(
        "{CAMPAIGN}[practice]\nopens_at = \"2026-05-25T08:00:00+08:00\"\nper_day = 5\n"
    ))
    .expect("valid practice");
    let practice = campaign.practice.expect("practice");
    assert_eq!(practice.per_day, Some(5));
    assert!(practice.is_open(at("2026-05-26T00:00:00+08:00")));
    assert!(!practice.is_open(at("2026-07-01T00:00:00+08:00")));
    assert_eq!(practice.plan, campaign.plan);
    let off = build(&format!("{CAMPAIGN}[practice]\nenabled = false\n")).expect("valid");
    assert!(off.practice.is_none());
    for (text, key) in [
        ("[practice]\nper_day = 0\n", "practice.per_day"),
        ("[practice]\nbanks = [\"nope\"]\n", "practice.banks"),
        (
            "[practice]\nopens_at = \"2026-08-01T00:00:00+08:00\"\n",
            "practice.closes_at",
        ),
    ] {
        let problems = build(&format!("{CAMPAIGN}{text}")).expect_err(text);
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains(&format!("`{key}`"))),
            "{text}: {problems:?}"
        );
    }
}

#[test]
fn scoring_settings_build_with_their_defaults() {
    use crate::score::{Counted, KindPoints, Scoring};
    let campaign = build(CAMPAIGN).expect("valid");
    assert_eq!(
        campaign.scoring,
        Scoring::uniform(1),
        "absent: today's rule"
    );
    assert_eq!(campaign.certificate, None);
    let sector = format!(
        "{}\n[points]\nsingle = 4\njudge = 2\n\n\
         [certificate]\nmin_score = 15\nhours = 4\navailable_days = 15\n",
        CAMPAIGN.replace(
            "points_per_question = 1",
            "points_per_question = 3\nattempts_total = 3\ncounted = \"best\""
        )
    );
    let campaign = build(&sector).expect("valid");
    assert_eq!(
        campaign.scoring,
        Scoring {
            points: KindPoints {
                single: 4,
                multiple: 3,
                judge: 2
            },
            counted: Counted::Best,
            attempts_total: Some(3),
        }
    );
    assert_eq!(campaign.max_points(), 20, "5 single-choice questions at 4");
    let certificate = campaign.certificate.expect("a certificate");
    assert_eq!(
        (
            certificate.min_score,
            certificate.hours,
            certificate.available_days
        ),
        (15, 4, 15)
    );
}

#[test]
fn odd_scoring_settings_are_refused_naming_their_key() {
    let cases = [
        (
            "counted = \"average\"",
            "key `counted`: `average` is not a policy",
        ),
        (
            "attempts_total = 0",
            "key `attempts_total`: 0 is out of range",
        ),
        (
            "[points]\nsingle = 0",
            "key `points.single`: 0 is out of range",
        ),
        (
            "[points]\njudge = 101",
            "key `points.judge`: 101 is out of range",
        ),
        (
            "counted = \"last\"\n[certificate]\nmin_score = 6\nhours = 4\navailable_days = 15",
            "key `certificate.min_score`: 6 cannot be reached: the counted score is at most 5",
        ),
        (
            "attempts_total = 2\n[certificate]\nmin_score = 11\nhours = 4\navailable_days = 15",
            "key `certificate.min_score`: 11 cannot be reached",
        ),
        (
            "[certificate]\nmin_score = 1\nhours = 0\navailable_days = 0",
            "key `certificate.hours`: 0 is out of range",
        ),
        (
            "[certificate]\nmin_score = 1\nhours = 1\navailable_days = 0",
            "key `certificate.available_days`: 0 is out of range",
        ),
    ];
    for (extra, expected) in cases {
        // Top-level keys must come before the first table.
        let text = CAMPAIGN.replacen("\n[[entries]]", &format!("\n{extra}\n\n[[entries]]"), 1);
        let problems = build(&text).expect_err(extra);
        assert!(
            problems.iter().any(|problem| problem.starts_with(expected)),
            "{extra}: {problems:?}"
        );
    }
}

#[test]
fn individual_boards_are_kept_at_every_level_unless_limited() {
    use crate::board::IndividualBoards;
    let campaign = build(CAMPAIGN).expect("valid");
    assert_eq!(campaign.individual_boards, IndividualBoards::EVERY_LEVEL);
    let limited = CAMPAIGN.replacen(
        "\n[[entries]]",
        "\nindividual_board_levels = 1\n\n[[entries]]",
        1,
    );
    let campaign = build(&limited).expect("valid");
    assert_eq!(campaign.individual_boards, IndividualBoards::down_to(1));
    let refused = CAMPAIGN.replacen(
        "\n[[entries]]",
        "\nindividual_board_levels = -1\n\n[[entries]]",
        1,
    );
    let problems = build(&refused).expect_err("a negative level is refused");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("key `individual_board_levels`: -1 is out of range")),
        "{problems:?}"
    );
}

//! `safequiz prizes draw` and `verify` as organizers and auditors run them, and the results a
//! winner, a non-winner, the public and the organizers then see.

use safequiz_domain::score::Counted;
use std::path::Path;
use std::time::Duration;

use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_sql::audit::AuditQuery;
use safequiz_testapp::{CAMPAIGN, TestApp, eventually, status_and_json};

use super::{copy_config, safequiz, texts};

/// Prizes small enough that ten participants leave some without one.
const SMALL_PRIZES: &str = r#"
[[prizes]]
name = "个人优胜奖"
rule = "full_marks_then_rank"
count = 2

[[prizes]]
name = "名次奖"
rule = "rank_tiers"
exclude_earlier_winners = true
tiers = [{ name = "一等奖", count = 1 }, { name = "二等奖", count = 1 }]

[[prizes]]
name = "参与奖"
rule = "lottery"
count = 2
min_points = 0
exclude_earlier_winners = true
"#;

/// A copy of the shipped configuration whose campaign has [`SMALL_PRIZES`].
fn small_prizes_config(dir: &Path) -> String {
    copy_config(dir);
    let file = dir.join("config/campaigns/safety-month.toml");
    let text = std::fs::read_to_string(&file).expect("the campaign file");
    let kept = &text[..text.find("[[prizes]]").expect("the shipped prizes")];
    std::fs::write(&file, format!("{kept}{SMALL_PRIZES}")).expect("write");
    dir.join("config").display().to_string()
}

fn line_after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` in {text}"))
        .trim()
}

#[tokio::test]
async fn a_draw_after_the_close_is_stored_verified_and_shown() {
    let app = TestApp::spawn().await;
    app.play(20_000, 10, &["110101", "130102"], 5).await;
    eventually(
        "the totals are recorded",
        Duration::from_secs(30),
        || async {
            let eligible = app
                .state
                .store
                .eligible_participants(CAMPAIGN, Counted::Sum)
                .await
                .ok()?;
            (eligible.len() == 10).then_some(())
        },
    )
    .await;
    // The binary runs while this test's runtime (and the service on it) is blocked: nothing
    // of the service's may be mid-transaction then.
    app.record_caught_up().await;
    let dir = tempfile::tempdir().expect("temp");
    let config = small_prizes_config(dir.path());
    let out = dir.path().join("out");
    let out_arg = out.display().to_string();
    let seed_from = "2027-07-01 福利彩票双色球 第2027075期 03 08 15 21 26 30 + 11";
    let draw = |offset: &'static str| {
        let env = [
            ("SAFEQUIZ_REDIS_URL", app.redis.url()),
            ("SAFEQUIZ_DATABASE_URL", app.database_url.clone()),
            ("SAFEQUIZ__CLOCK__OFFSET_SECS", offset.to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        safequiz(
            &[
                "prizes",
                "draw",
                "--campaign",
                CAMPAIGN,
                "--seed-from",
                seed_from,
                "--config",
                &config,
                "--out",
                &out_arg,
            ],
            &env,
        )
    };

    // Before the close (the campaign closes 2027-07-01): refused, nothing written.
    let refused = draw("0");
    let (stdout, stderr) = texts(&refused);
    assert!(!refused.status.success(), "{stdout}");
    assert!(
        stderr.contains("closes at") && stderr.contains("only after the close"),
        "{stderr}"
    );
    assert!(!out.exists());

    // A year later (the clock of the configuration, as the service's): drawn.
    let drawn = draw("31536000");
    let (stdout, stderr) = texts(&drawn);
    assert!(drawn.status.success(), "{stdout}{stderr}");
    let digest = line_after(&stdout, "list sha256:").to_owned();
    let list_path = out.join("safety-month-eligible.csv");
    let list = std::fs::read_to_string(&list_path).expect("the eligible list");
    assert_eq!(list.lines().count(), 11, "{list}");
    assert!(
        !list.contains("测试者") && !list.contains("****"),
        "no names or phones: {list}"
    );
    let sums = std::fs::read_to_string(out.join("safety-month-eligible.csv.sha256")).expect("sum");
    assert_eq!(sums, format!("{digest}  safety-month-eligible.csv\n"));

    // Never twice.
    let again = draw("31536000");
    assert!(!again.status.success());
    assert!(texts(&again).1.contains("never replaced"));

    let winners = app.state.store.prize_winners(CAMPAIGN).await.expect("SQL");
    assert_eq!(winners.len(), 6, "{winners:?}");
    let awards: Vec<&str> = winners.iter().map(|w| w.award.as_str()).collect();
    assert_eq!(
        awards,
        [
            "个人优胜奖",
            "个人优胜奖",
            "一等奖",
            "二等奖",
            "参与奖",
            "参与奖"
        ]
    );
    let mut ids: Vec<i64> = winners.iter().map(|w| w.participant_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "earlier winners are excluded");

    // Anyone with the list, the digest and the public value gets the same winners.
    let verify = |list: &Path, digest: &str| {
        let env = [
            ("SAFEQUIZ_DATABASE_URL", app.database_url.clone()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let list = list.display().to_string();
        safequiz(
            &[
                "prizes",
                "verify",
                "--campaign",
                CAMPAIGN,
                "--list",
                &list,
                "--digest",
                digest,
                "--seed-from",
                seed_from,
                "--config",
                &config,
            ],
            &env,
        )
    };
    let verified = verify(&list_path, &digest);
    let (stdout, stderr) = texts(&verified);
    assert!(verified.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("OK: the stored draw"), "{stdout}");
    let offline = safequiz(
        &[
            "prizes",
            "verify",
            "--campaign",
            CAMPAIGN,
            "--list",
            &list_path.display().to_string(),
            "--digest",
            &digest,
            "--seed-from",
            seed_from,
            "--config",
            &config,
            "--offline",
        ],
        &[(
            "SAFEQUIZ_DATABASE_URL",
            "sqlite:///nonexistent/folder/never.sqlite",
        )],
    );
    let (printed, _) = texts(&offline);
    assert!(offline.status.success(), "{printed}");
    for winner in &winners {
        assert!(
            printed.contains(&format!("participant {}\n", winner.participant_id)),
            "{printed}"
        );
    }

    // A tampered list fails: against the published digest, and with its own digest against
    // the stored draw.
    let mut lines: Vec<&str> = list.lines().collect();
    lines.swap(1, 2);
    let swapped: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let renumbered = swapped
        .lines()
        .enumerate()
        .map(|(index, line)| match index {
            0 => format!("{line}\n"),
            _ => {
                let rest = line.split_once(',').expect("a rank").1;
                format!("{index},{rest}\n")
            }
        })
        .collect::<String>();
    let tampered = dir.path().join("tampered.csv");
    std::fs::write(&tampered, &renumbered).expect("write");
    let failed = verify(&tampered, &digest);
    assert!(!failed.status.success());
    assert!(
        texts(&failed).0.contains("MISMATCH"),
        "{}",
        texts(&failed).0
    );
    let own_digest =
        safequiz_domain::prizes::hex(&safequiz_domain::prizes::list_digest(renumbered.as_bytes()));
    let failed = verify(&tampered, &own_digest);
    assert!(!failed.status.success(), "{}", texts(&failed).0);
    assert!(
        texts(&failed).0.contains("MISMATCH"),
        "{}",
        texts(&failed).0
    );
    // An edited score with its honest digest is refused by the order check, or differs.
    let raised = list.replacen(",1,", ",9,", 1);
    if raised != list {
        let edited = dir.path().join("raised.csv");
        std::fs::write(&edited, &raised).expect("write");
        let honest =
            safequiz_domain::prizes::hex(&safequiz_domain::prizes::list_digest(raised.as_bytes()));
        assert!(!verify(&edited, &honest).status.success());
    }

    // What people see: a winner, a non-winner, the public list, the organizers' export.
    let winner = winners[0].participant_id as u64;
    let (status, public) = app
        .get_json(&format!("/api/v1/campaigns/{CAMPAIGN}/prizes/winners"))
        .await;
    assert_eq!(status, 200, "{public}");
    assert_eq!(public["drawn"], true);
    assert_eq!(public["list_digest"], digest);
    assert_eq!(public["seed_from"], seed_from);
    let text = public.to_string();
    assert!(
        text.contains("测*者") && !text.contains("测试者"),
        "{public}"
    );
    assert!(text.contains("****"), "{public}");
    assert_eq!(public["prizes"][1]["winners"][0]["award"], "一等奖");

    let organizer = app.organizer(WHOLE_CAMPAIGN, "prize-admin").await;
    let response = app
        .request(
            reqwest::Method::GET,
            "/api/v1/organizer/exports/winners.csv",
            Some(&organizer),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let csv = response.text().await.expect("CSV");
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert!(
        csv.contains("测试者") && csv.contains(&winner.to_string()),
        "{csv}"
    );
    // The full number each winner registered with, opened from its seal, agrees with the
    // masked one and is one of the numbers the participants registered with.
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let (full, masked) = (cells[5], cells[6]);
        let registered: Vec<String> = (0..10u64).map(|i| format!("13{:09}", 20_000 + i)).collect();
        assert!(registered.iter().any(|phone| phone == full), "{line}");
        assert_eq!(
            (&full[..3], &full[7..]),
            (&masked[..3], &masked[7..]),
            "{line}"
        );
    }
    let trail = app
        .state
        .store
        .audit_page(
            &AuditQuery {
                campaign_id: Some(CAMPAIGN),
                from_ms: 0,
                to_ms: i64::MAX,
            },
            None,
            50,
        )
        .await
        .expect("audit");
    assert!(
        trail
            .iter()
            .any(|row| row.detail == "winners.csv: 6 rows, 6 full phone numbers"),
        "an audit row for the export: {trail:?}"
    );
    assert!(
        trail
            .iter()
            .any(|row| row.action == "prize_draw" && row.detail.contains("list sha256")),
        "an audit row for the draw: {trail:?}"
    );
    let county = app.organizer("130102", "county-admin").await;
    let response = app
        .request(
            reqwest::Method::GET,
            "/api/v1/organizer/exports/winners.csv",
            Some(&county),
            None,
        )
        .await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("out_of_scope"))
    );

    // Each participant's result page: registering again with the same name and phone gives
    // their token back.
    let units = ["110101", "130102"];
    let (mut won, mut lost) = (0, 0);
    for i in 0..10u64 {
        let me = app
            .register(
                "测试者",
                &format!("13{:09}", 20_000 + i),
                units[i as usize % 2],
            )
            .await;
        let (status, mine) = app
            .get_as(&me, &format!("/api/v1/campaigns/{CAMPAIGN}/prizes/me"))
            .await;
        assert_eq!(status, 200, "{mine}");
        assert_eq!(mine["drawn"], true);
        let expected: Vec<&str> = winners
            .iter()
            .filter(|w| w.participant_id as u64 == me.id)
            .map(|w| w.award.as_str())
            .collect();
        let shown: Vec<&str> = mine["prizes"]
            .as_array()
            .expect("prizes")
            .iter()
            .map(|prize| prize["award"].as_str().expect("award"))
            .collect();
        assert_eq!(shown, expected, "participant {}", me.id);
        if expected.is_empty() {
            lost += 1;
        } else {
            won += 1;
        }
    }
    assert_eq!((won, lost), (6, 4));
    assert!(winners.iter().any(|w| w.participant_id as u64 == winner));
}

//! `safequiz config check`: the configuration as `serve` loads it, and its error messages.

use safequiz_domain::units::{UnitKind, UnitTree, parse_unit_file};

use super::{copy_config, safequiz, texts};

#[test]
fn the_shipped_configuration_is_valid() {
    let output = safequiz(&["config", "check"], &[]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("campaign safety-month:"), "{stdout}");
    assert!(stdout.contains("5 question(s) per attempt"), "{stdout}");
    assert!(
        stdout.contains("campaign water-six-mechanisms:")
            && stdout.contains("25 question(s) per attempt"),
        "the water ministry's six-mechanisms quiz loads beside it: {stdout}"
    );
    assert!(stdout.contains("configuration OK"), "{stdout}");
}

#[test]
fn environment_shortcuts_override_the_files() {
    let env = [
        ("SAFEQUIZ_HTTP_ADDR", "127.0.0.1:9999"),
        ("SAFEQUIZ_REDIS_URL", "redis://127.0.0.1:7777/2"),
        (
            "SAFEQUIZ_DATABASE_URL",
            "postgres://quiz:hunter2@db.internal/quiz",
        ),
        ("SAFEQUIZ__HOT__SHARDS", "16"),
    ];
    let output = safequiz(&["config", "check"], &env);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("http.addr=127.0.0.1:9999"), "{stdout}");
    assert!(
        stdout.contains("redis.url=redis://127.0.0.1:7777/2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("database.url=postgres://quiz:***@db.internal/quiz"),
        "password redacted: {stdout}"
    );
    assert!(!stdout.contains("hunter2"), "the password never appears");
    assert!(stdout.contains("hot.shards=16"), "{stdout}");
}

#[test]
fn trusted_proxies_are_summarized_and_each_bad_entry_is_named() {
    let var = "SAFEQUIZ__HTTP__TRUSTED_PROXIES";
    let accepted = safequiz(&["config", "check"], &[(var, r#"["10.0.0.0/8", "::1"]"#)]);
    let (stdout, stderr) = texts(&accepted);
    assert!(accepted.status.success(), "{stderr}");
    assert!(
        stdout.contains("http.trusted_proxies=[10.0.0.0/8,::1]"),
        "{stdout}"
    );

    let refused = safequiz(
        &["config", "check"],
        &[(var, r#"["10.0.0.0/8", "localhost", "10.0.0.1/8"]"#)],
    );
    let (_, stderr) = texts(&refused);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    for expected in [
        "key `http.trusted_proxies[1]` (set in `SAFEQUIZ__` environment variable(s)): \
         `localhost` is not an IP address or a network",
        "key `http.trusted_proxies[2]` (set in `SAFEQUIZ__` environment variable(s)): \
         `10.0.0.1/8` has bits set after its /8 prefix; write 10.0.0.0/8",
    ] {
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
    assert!(!stderr.contains("[0]"), "a good entry is not reported");
}

#[test]
fn production_refuses_the_default_secret_and_accepts_a_long_one() {
    let refused = safequiz(&["config", "check"], &[("SAFEQUIZ_ENV", "production")]);
    let (_, stderr) = texts(&refused);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr.contains("key `auth.secret`"), "{stderr}");
    assert!(
        stderr.contains("production refuses the default secret"),
        "{stderr}"
    );

    let short = safequiz(
        &["config", "check"],
        &[("SAFEQUIZ_ENV", "production"), ("SAFEQUIZ_SECRET", "short")],
    );
    assert_eq!(
        short.status.code(),
        Some(1),
        "a short secret is refused too"
    );
    assert!(
        texts(&short).1.contains("SAFEQUIZ_SECRET"),
        "the message names where the secret came from"
    );

    let secret = "a-long-random-production-secret-0123456789";
    // The shipped production.toml listens publicly, so it names its proxies (tests/it/production.rs).
    let accepted = safequiz(
        &["config", "check"],
        &[
            ("SAFEQUIZ_ENV", "production"),
            ("SAFEQUIZ_SECRET", secret),
            ("SAFEQUIZ__HTTP__TRUSTED_PROXIES", "[\"10.0.0.1\"]"),
        ],
    );
    assert!(accepted.status.success(), "{}", texts(&accepted).1);
}

#[test]
fn a_bad_configuration_names_the_file_the_key_and_the_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_config(dir.path());
    let campaign = dir.path().join("config/campaigns/safety-month.toml");
    let text = std::fs::read_to_string(&campaign).expect("read campaign");
    let text = text
        .replace("time_limit_secs = 150", "time_limit_secs = 3")
        .replace("\"rescue-drills\"", "\"no-such-bank\"")
        .replace("units/central-enterprises.tsv", "units/missing.tsv");
    std::fs::write(&campaign, text).expect("write campaign");
    let base = dir.path().join("config/base.toml");
    let text = std::fs::read_to_string(&base)
        .expect("read base")
        .replace("shards = 4", "shards = 0");
    std::fs::write(&base, text).expect("write base");

    let config_dir = dir.path().join("config");
    let check = || {
        let output = safequiz(
            &[
                "config",
                "check",
                "--config",
                config_dir.to_str().expect("utf-8"),
            ],
            &[],
        );
        (output.status.code(), texts(&output).1)
    };
    let (code, stderr) = check();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("key `hot.shards`") && stderr.contains("base.toml"),
        "{stderr}"
    );

    std::fs::write(
        &base,
        std::fs::read_to_string(&base)
            .expect("read")
            .replace("shards = 0", "shards = 4"),
    )
    .expect("write");
    let (code, stderr) = check();
    assert_eq!(code, Some(1), "{stderr}");
    for expected in [
        "safety-month.toml: key `entries[1].units`",
        "missing.tsv: cannot read",
    ] {
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }

    std::fs::write(
        dir.path().join("config/units/missing.tsv"),
        "code\tparent\tname\tkind\nX1\t\t某企业\tenterprise\n",
    )
    .expect("write");
    let (code, stderr) = check();
    assert_eq!(code, Some(1), "{stderr}");
    for expected in [
        "safety-month.toml: key `time_limit_secs`: 3 is out of range; it must be between 10 and 3600",
        "safety-month.toml: key `banks`: no bank has id `no-such-bank`",
    ] {
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

#[test]
fn the_shipped_unit_trees_have_the_documented_shape() {
    let root = safequiz_testapp::repo_root();
    let regions = parse_unit_file(
        &std::fs::read_to_string(root.join("config/units/regions.tsv")).expect("read"),
    )
    .expect("valid");
    let enterprises = parse_unit_file(
        &std::fs::read_to_string(root.join("config/units/central-enterprises.tsv")).expect("read"),
    )
    .expect("valid");
    let count = |kind: UnitKind| regions.rows.iter().filter(|row| row.kind == kind).count();
    assert_eq!(count(UnitKind::Province), 31);
    assert_eq!(count(UnitKind::Corps), 1, "新疆生产建设兵团 is added");
    assert_eq!(count(UnitKind::Division), 14);
    assert_eq!(
        count(UnitKind::City),
        333,
        "342 prefecture rows less 9 placeholders"
    );
    assert_eq!(
        count(UnitKind::County) + count(UnitKind::Zone),
        2975,
        "2978 county rows less 东莞, 中山, 儋州 listed as cities"
    );
    assert_eq!(count(UnitKind::Zone), 124);
    assert!(
        regions.meta("as_of").is_some() && enterprises.meta("as_of").is_some(),
        "trees are dated"
    );
    assert_eq!(enterprises.rows.len(), 98, "SASAC's list at end-2022");

    let tree = UnitTree::build(&[&regions, &enterprises]).expect("ids are unique across entries");
    let dongcheng = tree.find("110101").expect("东城区");
    let path: Vec<&str> = tree
        .path(dongcheng)
        .iter()
        .map(|ix| tree.get(*ix).name.as_str())
        .collect();
    assert_eq!(
        path,
        ["北京市", "东城区"],
        "a municipality's 市辖区 level is collapsed"
    );
    let zone = tree.find("130171").expect("石家庄高新技术产业开发区");
    assert_eq!(
        tree.path(zone).len(),
        3,
        "a development zone sits at county level"
    );
}

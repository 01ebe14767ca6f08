//! `safequiz bank check` and `safequiz bank import`.

use rust_xlsxwriter::Workbook;

use super::{safequiz, texts};

#[test]
fn the_shipped_banks_pass_the_check_with_at_least_300_questions() {
    let output = safequiz(&["bank", "check", "question-banks"], &[]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "shipped banks must pass: {stderr}");
    let count: usize = stdout
        .split(" questions")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the summary gives the question count");
    assert!(count >= 300, "{count} questions");
    for area in [
        "事故预防",
        "隐患识别与排查",
        "避险逃生",
        "自救互救",
        "救援演练",
        "应急处置",
    ] {
        assert!(
            stdout.contains(area),
            "category {area} has questions: {stdout}"
        );
    }
}

/// The water-sector banks (issue 18) hold at least 100 questions over their three areas, each
/// area with enough questions for the six-mechanisms campaign's per-category draw.
#[test]
fn the_water_banks_hold_at_least_100_questions() {
    let output = safequiz(&["bank", "check", "question-banks"], &[]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "shipped banks must pass: {stderr}");
    let count_of = |area: &str| -> usize {
        stdout
            .split(&format!("{area} "))
            .nth(1)
            .and_then(|tail| tail.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("category {area} has questions: {stdout}"))
    };
    let areas = [
        ("水利安全生产风险管控", 10),
        ("水利工程事故隐患排查治理", 7),
        ("安全生产法律法规", 8),
    ];
    let mut total = 0;
    for (area, drawn_per_attempt) in areas {
        let count = count_of(area);
        assert!(
            count >= 3 * drawn_per_attempt,
            "{area}: {count} questions for {drawn_per_attempt} a test"
        );
        total += count;
    }
    assert!(total >= 100, "{total} water-sector questions");
}

#[test]
fn a_broken_bank_fails_with_one_precise_line_per_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        safequiz_testapp::repo_root().join("question-banks/categories.toml"),
        dir.path().join("categories.toml"),
    )
    .expect("copy categories");
    let broken = "[bank]\nid = \"broken\"\ntitle = \"坏题库\"\n\n[[questions]]\nid = \"b-1\"\nkind = \"single\"\n\
category = \"evacuation\"\ndifficulty = 1\nstem = \"题干？\"\noptions = [\"甲\", \"乙\"]\nanswer = \"C\"\n\
explanation = \"解析\"\nsource = \"出处\"\n\n[[questions]]\nid = \"b-1\"\nkind = \"multiple\"\ncategory = \"cooking\"\n\
difficulty = 2\nstem = \"\"\noptions = [\"甲\", \"乙\", \"以上都对\"]\nanswer = \"A\"\nexplanation = \"解析\"\nsource = \"出处\"\n";
    std::fs::write(dir.path().join("broken.toml"), broken).expect("write bank");

    let output = safequiz(
        &["bank", "check", dir.path().to_str().expect("utf-8 path")],
        &[],
    );

    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let expected = [
        "broken.toml:6: question b-1: answer `C`: `C` is not one of this question's option keys (keys: AB)",
        "broken.toml:17: question b-1: id is already used in",
        "broken.toml:17: question b-1: unknown category `cooking`",
        "broken.toml:17: question b-1: stem is empty",
        "broken.toml:17: question b-1: option C refers to the other options",
        "broken.toml:17: question b-1: answer `A`: a multiple question needs at least two keys",
        "6 problem(s) found",
    ];
    for line in expected {
        assert!(stderr.contains(line), "expected {line:?} in:\n{stderr}");
    }
}

#[test]
fn the_template_csv_imports_into_a_bank_that_passes_the_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output_path = dir.path().join("demo.toml");
    let output = safequiz(
        &[
            "bank",
            "import",
            "question-banks/template.csv",
            "--bank-id",
            "demo",
            "--title",
            "示例",
            "--output",
            output_path.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", texts(&output).1);
    let text = std::fs::read_to_string(&output_path).expect("the bank was written");
    assert!(
        text.contains("stem = \"下列哪种做法违反消防法的规定？\""),
        "Chinese stays readable:\n{text}"
    );
    assert!(text.contains("answer = \"T\""), "正确 becomes T:\n{text}");
    assert!(
        text.contains("category = \"emergency_response\""),
        "a category name becomes its id:\n{text}"
    );

    std::fs::copy(
        safequiz_testapp::repo_root().join("question-banks/categories.toml"),
        dir.path().join("categories.toml"),
    )
    .expect("copy");
    let check = safequiz(&["bank", "check", dir.path().to_str().expect("utf-8")], &[]);
    assert!(
        check.status.success(),
        "the imported bank passes the check: {}",
        texts(&check).1
    );
}

fn write_xlsx(path: &std::path::Path, rows: &[&[&str]]) {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet
                .write_string(r as u32, c as u16, *cell)
                .expect("write cell");
        }
    }
    workbook.save(path).expect("save workbook");
}

const HEADER: [&str; 14] = [
    "题号", "题型", "分类", "难度", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F",
    "答案", "解析", "出处",
];

#[test]
fn an_xlsx_sheet_imports_with_answers_in_organizers_notation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sheet = dir.path().join("单位题库.xlsx");
    let multiple: [&str; 14] = [
        "",
        "多选",
        "自救互救",
        "2",
        "下列哪些属于个体防护装备？",
        "安全帽",
        "防护手套",
        "办公桌",
        "护目镜",
        "",
        "",
        "A、B、D",
        "三者都用于保护人体。",
        "GB 39800.1-2020《个体防护装备配备规范 第1部分：总则》第3.1条",
    ];
    let judge: [&str; 14] = [
        "",
        "判断",
        "emergency_response",
        "",
        "发现火灾时应当立即报警。",
        "",
        "",
        "",
        "",
        "",
        "",
        "√",
        "报警是法定义务。",
        "《中华人民共和国消防法》（2021年修正）第四十四条",
    ];
    write_xlsx(&sheet, &[&HEADER, &multiple, &judge]);

    let output = import(sheet.to_str().expect("utf-8"), "unit", "单位题库");

    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("id = \"unit-002\""),
        "ids are made from the row number:\n{stdout}"
    );
    assert!(
        stdout.contains("answer = \"ABD\""),
        "A、B、D becomes ABD:\n{stdout}"
    );
    assert!(stdout.contains("answer = \"T\""), "√ becomes T:\n{stdout}");
    assert!(
        stdout.contains("difficulty = 2"),
        "an empty difficulty means 2:\n{stdout}"
    );
}

#[test]
fn a_gb18030_csv_from_chinese_excel_is_decoded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let template =
        std::fs::read_to_string(safequiz_testapp::repo_root().join("question-banks/template.csv"))
            .expect("read");
    let (encoded, _, unmappable) =
        encoding_rs::GB18030.encode(template.trim_start_matches('\u{feff}'));
    assert!(!unmappable, "the template encodes in GB18030");
    let path = dir.path().join("gbk.csv");
    std::fs::write(&path, &encoded).expect("write");

    let output = import(path.to_str().expect("utf-8"), "gbk", "国标编码");

    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("在疏散通道上堆放货物"), "{stdout}");
}

#[test]
fn an_import_with_a_bad_row_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sheet = dir.path().join("bad.xlsx");
    let bad: [&str; 14] = [
        "",
        "填空",
        "避险逃生",
        "1",
        "题干",
        "甲",
        "乙",
        "",
        "",
        "",
        "",
        "A",
        "解析",
        "出处",
    ];
    let impossible: [&str; 14] = [
        "",
        "单选",
        "避险逃生",
        "1",
        "另一题",
        "甲",
        "乙",
        "",
        "",
        "",
        "",
        "D",
        "解析",
        "出处",
    ];
    write_xlsx(&sheet, &[&HEADER, &bad, &impossible]);
    let output_path = dir.path().join("out.toml");

    let output = safequiz(
        &[
            "bank",
            "import",
            sheet.to_str().expect("utf-8"),
            "--bank-id",
            "bad",
            "--title",
            "坏",
            "--output",
            output_path.to_str().expect("utf-8"),
        ],
        &[],
    );

    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(":2: 题型 `填空` is not 单选, 多选 or 判断"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing written"), "{stderr}");
    assert!(!output_path.exists(), "no partial output");
}

/// Runs `safequiz bank import FILE --bank-id ID --title TITLE`, output to standard output.
fn import(file: &str, bank_id: &str, title: &str) -> std::process::Output {
    safequiz(
        &[
            "bank",
            "import",
            file,
            "--bank-id",
            bank_id,
            "--title",
            title,
        ],
        &[],
    )
}

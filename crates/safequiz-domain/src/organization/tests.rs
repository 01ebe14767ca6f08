//! Table tests of the credit code, names, initials and the ids of organizations and 五进 groups.

use super::*;
use crate::units::{UnitTree, parse_unit_file};

/// Real codes of well-known companies, as published in the national enterprise credit register.
const REAL: &[(&str, &str)] = &[
    ("华为技术有限公司", "914403001922038216"),
    ("腾讯科技（深圳）有限公司", "9144030071526726XG"),
    ("阿里巴巴（中国）有限公司", "91330100799655058B"),
    ("小米科技有限责任公司", "91110108551385082Q"),
    ("中国石油化工股份有限公司", "91110000710926094P"),
    ("北京百度网讯科技有限公司", "91110000802100433B"),
    ("中国移动通信集团有限公司", "91110000710925462X"),
    ("国家电网有限公司", "9111000071093123XX"),
    ("比亚迪股份有限公司", "91440300192317458F"),
    ("中国电信集团有限公司", "9111000010001002XD"),
    ("中国工商银行股份有限公司", "91100000100003962T"),
];

#[test]
fn real_codes_pass_and_are_kept_in_capitals() {
    for (name, code) in REAL {
        let parsed = CreditCode::parse(code).unwrap_or_else(|e| panic!("{name} {code}: {e}"));
        assert_eq!(parsed.as_str(), *code);
        let lower = CreditCode::parse(&format!("  {}  ", code.to_lowercase()));
        assert_eq!(lower.as_ref(), Ok(&parsed), "{name}: lowercase and spaces");
    }
    let huawei = CreditCode::parse("914403001922038216").expect("valid");
    assert_eq!(huawei.division(), "440300");
}

#[test]
fn every_single_character_change_of_a_real_code_is_refused() {
    // The weights are all non-zero modulo the prime 31, so any one changed character changes
    // the sum: the check character catches every single substitution.
    for (name, code) in REAL {
        for position in 0..18 {
            for replacement in ALPHABET.iter().map(|&b| char::from(b)) {
                let mut chars: Vec<char> = code.chars().collect();
                if chars[position] == replacement {
                    continue;
                }
                chars[position] = replacement;
                let mutated: String = chars.into_iter().collect();
                assert!(
                    CreditCode::parse(&mutated).is_err(),
                    "{name}: {mutated} passed"
                );
            }
        }
    }
}

#[test]
fn each_mistake_has_its_own_message() {
    let cases: &[(&str, CreditCodeError, &str)] = &[
        ("91440300192203821", CreditCodeError::Length(17), "应为18位"),
        (
            "9144030019220382166",
            CreditCodeError::Length(19),
            "您输入了19位",
        ),
        ("", CreditCodeError::Length(0), "应为18位"),
        (
            "9144030019220382I6",
            CreditCodeError::IllegalCharacter {
                position: 17,
                character: 'I',
            },
            "第17位“I”",
        ),
        (
            "O14403001922038216",
            CreditCodeError::IllegalCharacter {
                position: 1,
                character: 'O',
            },
            "不是统一社会信用代码允许的字符",
        ),
        (
            "91440300192203821６",
            CreditCodeError::IllegalCharacter {
                position: 18,
                character: '６',
            },
            "第18位",
        ),
        (
            "91A40300192203821６",
            CreditCodeError::IllegalCharacter {
                position: 18,
                character: '６',
            },
            "第18位",
        ),
        (
            "91A403001922038216",
            CreditCodeError::Division,
            "行政区划码",
        ),
        (
            "914403001922038217",
            CreditCodeError::CheckCharacter { expected: '6' },
            "校验位错误：第18位应为“6”",
        ),
        (
            "91440300192203821S",
            CreditCodeError::IllegalCharacter {
                position: 18,
                character: 'S',
            },
            "第18位“S”",
        ),
    ];
    for (text, error, message) in cases {
        let got = CreditCode::parse(text).expect_err(text);
        assert_eq!(&got, error, "{text}");
        assert!(got.to_string().contains(message), "{text}: {got}");
    }
}

#[test]
fn names_are_collapsed_and_bounded() {
    assert_eq!(
        OrganizationName::parse("  长治市上党区　水利局 ").map(|n| n.as_str().to_owned()),
        Ok("长治市上党区 水利局".to_owned())
    );
    assert_eq!(
        OrganizationName::parse("局"),
        Err(OrganizationNameError::TooShort)
    );
    assert_eq!(
        OrganizationName::parse(&"水".repeat(61)),
        Err(OrganizationNameError::TooLong)
    );
    assert!(OrganizationName::parse(&"水".repeat(60)).is_ok());
    assert_eq!(
        OrganizationName::parse("水利%局"),
        Err(OrganizationNameError::IllegalCharacter('%'))
    );
}

#[test]
fn initials_take_each_hanzi_first_letter() {
    assert_eq!(initials("长治市上党区水利局"), "czssdqslj");
    assert_eq!(initials("水利部（ABC）2号站"), "slbabc2hz");
    assert_eq!(initials("重庆市长江水利工程银行"), "cqscjslgcyh");
    assert_eq!(initials("厦门市水利局成都西藏"), "xmssljcdxz");
    assert_eq!(
        OrganizationName::parse("黄河水利委员会")
            .expect("valid")
            .initials(),
        "hhslwyh"
    );
}

fn tree() -> UnitTree {
    let file = parse_unit_file(
        "code\tparent\tname\tkind\n14\t\t山西省\tprovince\n1404\t14\t长治市\tcity\n140404\t1404\t上党区\tcounty\n",
    )
    .expect("valid");
    UnitTree::build(&[&file]).expect("valid")
}

#[test]
fn dynamic_ids_carry_their_path() {
    let tree = tree();
    let cases: &[(&str, Option<&[&str]>)] = &[
        ("140404", Some(&["14", "1404", "140404"])),
        ("140404~7", Some(&["14", "1404", "140404", "140404~7"])),
        ("14~12", Some(&["14", "14~12"])),
        (
            "140404~7~public",
            Some(&["14", "1404", "140404", "140404~7", "140404~7~public"]),
        ),
        (
            "140404~public",
            Some(&["14", "1404", "140404", "140404~public"]),
        ),
        ("140404~07", None),
        ("140404~", None),
        ("140404~x", None),
        ("999~7", None),
        ("140404~7~public~public", None),
        ("140404~7~8", None),
        ("public", None),
        ("~public", None),
        ("140404public", None),
    ];
    for (id, path) in cases {
        assert_eq!(
            unit_path(&tree, id).as_deref(),
            path.map(|p| p as &[&str]),
            "{id}"
        );
    }
    let deepest = unit_path(&tree, "140404~7~public").expect("a group's path");
    assert!(!deepest.spilled(), "the deepest path stays on the stack");
    assert_eq!(organization_unit_id("140404", 7), "140404~7");
    assert_eq!(public_unit_id("140404~7"), "140404~7~public");
    assert!(is_within(&tree, "140404~7~public", "140404~7"));
    assert!(is_within(&tree, "140404~7~public", "14"));
    assert!(!is_within(&tree, "140404~7", "140404~7~public"));
    assert!(!is_within(&tree, "140404~8", "140404~7"));
}

#[test]
fn posts_and_public_kinds() {
    assert_eq!(principal_post(" 局长 "), Ok("局长".to_owned()));
    assert!(principal_post("  ").is_err());
    assert!(principal_post(&"长".repeat(31)).is_err());
    for kind in PublicKind::ALL {
        assert_eq!(PublicKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(PublicKind::parse("army"), None);
}

#[test]
fn scopes_reach_down_to_organizations_but_not_up() {
    use crate::scope::Scope;
    let tree = tree();
    let org = Scope::unit("140404~7");
    let public = Scope::unit("140404~7~public");
    let check = |own: &Scope, wanted: &Scope| check_dynamic_scope(&tree, own, wanted);
    assert_eq!(check(&Scope::unit("14"), &Scope::unit("1404")), None);
    assert_eq!(check(&Scope::WholeCampaign, &org), Some(Ok(())));
    assert_eq!(check(&Scope::unit("1404"), &org), Some(Ok(())));
    assert_eq!(check(&org, &org), Some(Ok(())));
    assert_eq!(check(&org, &public), Some(Ok(())));
    assert!(matches!(check(&org, &Scope::unit("140404")), Some(Err(_))));
    assert!(matches!(check(&org, &Scope::WholeCampaign), Some(Err(_))));
    assert!(matches!(
        check(&org, &Scope::unit("140404~8")),
        Some(Err(_))
    ));
    assert!(matches!(check(&public, &org), Some(Err(_))));
}

#[test]
fn staff_counts_are_one_to_a_million_and_rates_are_shares_of_them() {
    assert_eq!(staff_count(1), Ok(1));
    assert_eq!(staff_count(MAX_STAFF), Ok(MAX_STAFF));
    for wrong in [0, -5, MAX_STAFF + 1] {
        assert!(staff_count(wrong).is_err(), "{wrong}");
    }
    assert_eq!(participation_rate(1, Some(3)), Some(0.3333));
    assert_eq!(
        participation_rate(30, Some(20)),
        Some(1.5),
        "more than declared shows as such"
    );
    assert_eq!(participation_rate(0, Some(20)), Some(0.0));
    assert_eq!(participation_rate(4, None), None);
    assert_eq!(participation_rate(4, Some(0)), None);
}

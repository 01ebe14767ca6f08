//! Parsing headcount tables as spreadsheets save them.

use super::{HeadcountRow, HeadcountTable, parse_headcount_csv};

fn row(row: usize, unit_id: &str, headcount: i64) -> HeadcountRow {
    HeadcountRow {
        row,
        unit_id: unit_id.to_owned(),
        headcount,
    }
}

#[test]
fn tables_with_or_without_a_header_parse_into_rows() {
    let cases = [
        (
            "单位代码,应参与人数\r\n130102,1200\r\n130104,800\r\n",
            vec![row(2, "130102", 1200), row(3, "130104", 800)],
            "a Chinese header, CRLF",
        ),
        (
            "130102,1200\n130104,0\n",
            vec![row(1, "130102", 1200), row(2, "130104", 0)],
            "no header",
        ),
        (
            "unit_id,headcount,备注\n\"=\"\"0123\"\"\",\"1,200\",总部\n\n130104 , 7 ,\n",
            vec![row(2, "0123", 1200), row(4, "130104", 7)],
            "a code kept as text, a thousands separator, an empty line, spaces, extra columns",
        ),
    ];
    for (text, rows, why) in cases {
        let table = parse_headcount_csv(text).unwrap_or_else(|p| panic!("{why}: {p:?}"));
        assert_eq!(
            table,
            HeadcountTable {
                rows,
                skipped: vec![]
            },
            "{why}"
        );
    }
}

#[test]
fn rows_with_an_empty_headcount_are_skipped_not_cleared() {
    let table = parse_headcount_csv("130102,\n130104,5\n130105\n").expect("a table");
    assert_eq!(table.rows, vec![row(2, "130104", 5)]);
    assert_eq!(table.skipped, vec![1, 3]);
}

#[test]
fn every_bad_row_is_reported_with_its_number() {
    let text =
        "单位代码,应参与人数\n130102,-5\n,12\n130104,十二\n130105,3\n130105,4\n130106,2000000000\n";
    let problems = parse_headcount_csv(text).expect_err("bad rows");
    let rows: Vec<usize> = problems.iter().map(|p| p.row).collect();
    assert_eq!(rows, vec![2, 3, 4, 6, 7], "{problems:?}");
    assert!(problems[3].message.contains("第 5 行"), "{problems:?}");
}

#[test]
fn a_table_without_rows_is_refused() {
    for (text, why) in [("", "empty"), ("单位代码,应参与人数\r\n", "a header only")] {
        let problems = parse_headcount_csv(text).expect_err(why);
        assert_eq!(problems.len(), 1, "{why}");
    }
}

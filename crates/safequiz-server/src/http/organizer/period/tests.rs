//! Parsing of query values.

use super::parse_date;

#[test]
fn dates_are_calendar_dates_and_anything_else_is_a_bad_request() {
    assert_eq!(
        parse_date("day", " 2026-06-10 ")
            .expect("a date")
            .to_string(),
        "2026-06-10"
    );
    for text in [
        "2026-6-10",
        "2026-06-31",
        "06/10/2026",
        "昨天",
        "",
        "-009999-01-01",
        "+010000-01-01",
        "2026-06-10T00:00",
    ] {
        let error = parse_date("day", text).expect_err(text);
        assert_eq!(error.to_string(), "day: 日期格式应为 YYYY-MM-DD", "{text}");
    }
}

#[test]
fn dates_outside_what_a_spreadsheet_can_hold_are_refused() {
    for text in ["1900-01-01", "9999-12-31", "2026-06-10"] {
        assert!(parse_date("from", text).is_ok(), "{text}");
    }
    for text in [
        "0026-06-01",
        "1899-12-30",
        "1899-12-31",
        "0001-01-01",
        "0000-01-01",
    ] {
        let error = parse_date("from", text).expect_err(text);
        assert_eq!(
            error.to_string(),
            "from: 日期应在 1900-01-01 至 9999-12-31 之间",
            "{text}"
        );
    }
}

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
    for text in ["2026-6-10", "2026-06-31", "06/10/2026", "昨天", ""] {
        let error = parse_date("day", text).expect_err(text);
        assert_eq!(error.to_string(), "day: 日期格式应为 YYYY-MM-DD", "{text}");
    }
}

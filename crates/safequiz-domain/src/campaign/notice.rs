//! The personal-information notice of a campaign (`[notice]` in its file; issue 20,
//! docs/privacy.md): what PIPL art. 17 asks a processor to tell a person before collecting their
//! information, and how a child under 14 registers (arts. 28, 31).
//!
//! The registration page shows it before the form, with an unticked consent box; registration
//! without consent is refused, and the consent recorded names the notice's `version`, so a
//! changed notice is a new version that participants consent to again.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::Problems;

/// The `[notice]` table of a campaign file, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeSection {
    /// Who processes the information (the organizing body).
    pub processor: String,
    /// How to reach them (a phone or an address).
    pub contact: String,
    /// Why the information is collected.
    pub purposes: Vec<String>,
    /// Which kinds of information are collected.
    pub data_kinds: Vec<String>,
    /// The last day (in the campaign's zone) the personal information is kept; `safequiz purge`
    /// removes it from then on.
    pub retain_until: String,
    /// The person's rights and how to use them.
    pub rights: String,
    /// The version consent is recorded against; change it with any change of the text.
    pub version: String,
    /// How a child under 14 registers: `guardian` (a guardian's name and consent) or `refuse`.
    #[serde(default = "default_under_14")]
    pub under_14: String,
}

fn default_under_14() -> String {
    "guardian".to_owned()
}

/// What a campaign does for a participant who says they are under 14.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Under14 {
    /// They register with a guardian's name and the guardian's consent.
    Guardian,
    /// They cannot register.
    Refuse,
}

/// A validated notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Who processes the information.
    pub processor: String,
    /// How to reach them.
    pub contact: String,
    /// Why.
    pub purposes: Vec<String>,
    /// What.
    pub data_kinds: Vec<String>,
    /// The last day the information is kept.
    pub retain_until: Date,
    /// The rights and how to use them.
    pub rights: String,
    /// The version consent is recorded against.
    pub version: String,
    /// The under-14 path.
    pub under_14: Under14,
}

impl Notice {
    /// The instant from which the campaign may be purged: the start of the day after
    /// `retain_until` in `zone`.
    pub fn purge_from(&self, zone: &TimeZone) -> Timestamp {
        self.retain_until
            .tomorrow()
            .ok()
            .and_then(|day| day.to_zoned(zone.clone()).ok())
            .map_or(Timestamp::MAX, |zoned| zoned.timestamp())
    }
}

fn text(key: &str, value: &str, max_chars: usize, problems: &mut Problems) -> String {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max_chars {
        problems.report(
            key,
            format!("must be 1 to {max_chars} characters (the notice shown before registration)"),
        );
    }
    value.to_owned()
}

fn list(key: &str, values: &[String], problems: &mut Problems) -> Vec<String> {
    if values.is_empty() || values.len() > 20 {
        problems.report(key, "must list 1 to 20 items".to_owned());
    }
    values
        .iter()
        .enumerate()
        .map(|(index, value)| text(&format!("{key}[{index}]"), value, 200, problems))
        .collect()
}

/// Checks `[notice]`; the retention date must not be before the campaign closes (`closes_at`).
pub(super) fn check_notice(
    section: Option<&NoticeSection>,
    closes_at: Option<Timestamp>,
    zone: Option<&TimeZone>,
    problems: &mut Problems,
) -> Option<Notice> {
    let section = section?;
    let processor = text("notice.processor", &section.processor, 200, problems);
    let contact = text("notice.contact", &section.contact, 200, problems);
    let purposes = list("notice.purposes", &section.purposes, problems);
    let data_kinds = list("notice.data_kinds", &section.data_kinds, problems);
    let rights = text("notice.rights", &section.rights, 2000, problems);
    let version = text("notice.version", &section.version, 32, problems);
    let under_14 = match section.under_14.as_str() {
        "guardian" => Under14::Guardian,
        "refuse" => Under14::Refuse,
        other => {
            problems.report(
                "notice.under_14",
                format!("`{other}` must be `guardian` or `refuse`"),
            );
            Under14::Refuse
        }
    };
    let retain_until = match section.retain_until.trim().parse::<Date>() {
        Ok(date) => date,
        Err(_) => {
            problems.report(
                "notice.retain_until",
                format!("`{}` must be a date, e.g. 2027-06-30", section.retain_until),
            );
            return None;
        }
    };
    if let (Some(closes_at), Some(zone)) = (closes_at, zone) {
        let closing_day = closes_at.to_zoned(zone.clone()).date();
        if retain_until < closing_day {
            problems.report(
                "notice.retain_until",
                format!("{retain_until} is before the campaign closes ({closing_day})"),
            );
        }
    }
    Some(Notice {
        processor,
        contact,
        purposes,
        data_kinds,
        retain_until,
        rights,
        version,
        under_14,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> NoticeSection {
        NoticeSection {
            processor: "组织单位".to_owned(),
            contact: "010-00000000".to_owned(),
            purposes: vec!["组织竞赛".to_owned()],
            data_kinds: vec!["姓名".to_owned(), "手机号".to_owned()],
            retain_until: "2027-12-31".to_owned(),
            rights: "查看、注销".to_owned(),
            version: "2026-1".to_owned(),
            under_14: "guardian".to_owned(),
        }
    }

    fn check(section: &NoticeSection) -> (Option<Notice>, Vec<String>) {
        let mut problems = Problems::default();
        let zone = TimeZone::get("Asia/Shanghai").expect("a zone");
        let closes: Timestamp = "2027-07-01T00:00:00+08:00".parse().expect("an instant");
        let notice = check_notice(Some(section), Some(closes), Some(&zone), &mut problems);
        let keys = problems.into_vec().into_iter().map(|p| p.key).collect();
        (notice, keys)
    }

    #[test]
    fn a_complete_notice_is_accepted_and_purgeable_the_day_after_its_retention() {
        let (notice, problems) = check(&section());
        assert_eq!(problems, Vec::<String>::new());
        let notice = notice.expect("a notice");
        assert_eq!(notice.under_14, Under14::Guardian);
        let zone = TimeZone::get("Asia/Shanghai").expect("a zone");
        let from: Timestamp = "2028-01-01T00:00:00+08:00".parse().expect("an instant");
        assert_eq!(notice.purge_from(&zone), from);
    }

    #[test]
    fn every_missing_or_wrong_field_is_reported_by_its_key() {
        let mut bad = section();
        bad.processor = " ".to_owned();
        bad.purposes.clear();
        bad.version = "x".repeat(33);
        bad.under_14 = "maybe".to_owned();
        bad.retain_until = "2027-06-30".to_owned();
        let (_, problems) = check(&bad);
        assert_eq!(
            problems,
            [
                "notice.processor",
                "notice.purposes",
                "notice.version",
                "notice.under_14",
                "notice.retain_until"
            ]
        );
        bad.retain_until = "June".to_owned();
        assert!(check(&bad).1.contains(&"notice.retain_until".to_owned()));
    }
}

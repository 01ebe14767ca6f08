//! The days and periods the reports cover, and the query values they are read from.
//!
//! Days are calendar days in the campaign's zone, given as `YYYY-MM-DD`: the day an attempt
//! started on there, as the flusher records it. The record trails the hot state by the flush
//! delay (a fraction of a second when healthy); the live figures are `progress`.

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use safequiz_domain::calendar;
use safequiz_domain::campaign::Campaign;
use safequiz_sql::reports::MAX_DAYS;
use serde::Deserialize;

use super::figures::FigureSort;
use super::{Session, Target};
use crate::http::error::ApiError;

#[cfg(test)]
mod tests;

/// The first day a report or export accepts: spreadsheets (XLSX) count days from 1900, and no
/// campaign ran before.
pub const FIRST_DATE: Date = Date::constant(1900, 1, 1);

/// The last day a report or export accepts: the last a four-digit year can spell.
pub const LAST_DATE: Date = Date::constant(9999, 12, 31);

/// A `YYYY-MM-DD` query value between [`FIRST_DATE`] and [`LAST_DATE`].
///
/// Checked here, at the edge, so that every report and export refuses the same dates with the
/// same `400` instead of one of them failing deep inside (the XLSX writer refuses years outside
/// 1900-9999, which used to surface as a `500`). Only the four-digit form is a date here:
/// `-009999-01-01` and `+010000-01-01` parse as jiff dates but no organizer means them.
pub(crate) fn parse_date(field: &str, text: &str) -> Result<Date, ApiError> {
    let text = text.trim();
    let four_digit_year = text.len() == 10 && text.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    let date = text
        .parse::<Date>()
        .ok()
        .filter(|_| four_digit_year)
        .ok_or_else(|| ApiError::BadRequest(format!("{field}: 日期格式应为 YYYY-MM-DD")))?;
    if !(FIRST_DATE..=LAST_DATE).contains(&date) {
        return Err(ApiError::BadRequest(format!(
            "{field}: 日期应在 {FIRST_DATE} 至 {LAST_DATE} 之间"
        )));
    }
    Ok(date)
}

/// A whole-number query value; an empty value is no value (what an empty form field sends).
pub(crate) fn parse_number(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match given(text) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{field}: 应为整数"))),
    }
}

/// A query value that is there and not blank.
pub(crate) fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// The calendar date of a day number.
pub(crate) fn date_of(day: i32) -> Option<Date> {
    Date::constant(1970, 1, 1).checked_add(day.days()).ok()
}

/// An inclusive range of calendar days in the campaign's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) from: Date,
    pub(crate) to: Date,
}

impl Period {
    /// The period `from`..=`to`; each end defaults to the campaign's window up to today (the
    /// window's first day, and today or the window's last day, whichever is earlier), and the
    /// default start is moved up so that the period is at most [`MAX_DAYS`] long.
    pub(crate) fn parse(
        campaign: &Campaign,
        now: Timestamp,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Period, ApiError> {
        let first = campaign.day_of(campaign.opens_at);
        // `closes_at` is the first instant after the window.
        let last = campaign
            .day_of(campaign.closes_at - 1.millisecond())
            .max(first);
        let to = match given(to) {
            Some(text) => parse_date("to", text)?,
            None => campaign.day_of(now).clamp(first, last),
        };
        let from = match given(from) {
            Some(text) => parse_date("from", text)?,
            None => first.max(to.checked_sub((MAX_DAYS - 1).days()).unwrap_or(first)),
        };
        let days = i64::from(calendar::day_number(to)) - i64::from(calendar::day_number(from));
        if days < 0 || days >= i64::from(MAX_DAYS) {
            return Err(ApiError::BadRequest(format!(
                "统计区间有误：开始日期不能晚于结束日期，且最长 {MAX_DAYS} 天"
            )));
        }
        Ok(Period { from, to })
    }

    /// The day numbers the record keeps.
    pub(crate) fn days(self) -> (i32, i32) {
        (
            calendar::day_number(self.from),
            calendar::day_number(self.to),
        )
    }

    /// The period as a file name part: `2026-06-01至2026-06-10`, or one date.
    pub(crate) fn file_suffix(self) -> String {
        if self.from == self.to {
            self.from.to_string()
        } else {
            format!("{}至{}", self.from, self.to)
        }
    }
}

/// The query of figures, the daily series and the question analysis.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// A unit within the organizer's scope (`*`: the whole campaign); their own without it.
    pub(crate) unit: Option<String>,
    /// The first day, `YYYY-MM-DD` (1900-01-01 to 9999-12-31).
    pub(crate) from: Option<String>,
    /// The last day, `YYYY-MM-DD`; at most `MAX_DAYS` days after `from`.
    pub(crate) to: Option<String>,
    /// The figure that orders the children (figures and the unit export only).
    #[serde(default)]
    #[param(inline)]
    pub(crate) sort: FigureSort,
}

impl PeriodQuery {
    /// The session's campaign, the unit asked for (checked against the session's scope) and
    /// the period asked for, defaults filled in: what every period report starts from.
    pub(crate) async fn resolve<'s>(
        &self,
        session: &'s Session,
        now: Timestamp,
    ) -> Result<(&'s Campaign, Target<'s>, Period), ApiError> {
        let campaign = session.campaign()?;
        let target = Target::resolve(session, campaign, self.unit.as_deref()).await?;
        let period = Period::parse(campaign, now, self.from.as_deref(), self.to.as_deref())?;
        Ok((campaign, target, period))
    }
}

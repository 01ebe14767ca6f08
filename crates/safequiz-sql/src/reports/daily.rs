//! The per-day series: each calendar day's figures in a scope.

use safequiz_domain::scope::Scope;

use super::{Counts, ReportError, between_days, check_days, counts_columns, for_campaign};
use super::{visible_units, within};
use crate::Store;

/// The figures of one calendar day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayFigures {
    /// Calendar day number.
    pub day: i32,
    /// Distinct participants who finished an attempt that day (参与人数).
    pub participants: i64,
    /// Attempts finished that day (参与人次).
    pub attempts: i64,
    /// Their points.
    pub points: i64,
    /// Those with every question correct.
    pub full_marks: i64,
}

/// One day's row: the day and its counts.
#[derive(sqlx::FromRow)]
struct DayRow {
    day: i32,
    #[sqlx(flatten)]
    counts: Counts,
}

impl Store {
    /// The figures of every day from `from_day` to `to_day` (inclusive) in `scope`, one entry
    /// per day, days without attempts included with zeros.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id, scope = %scope))]
    pub async fn daily_series(
        &self,
        campaign_id: &str,
        scope: &Scope,
        from_day: i32,
        to_day: i32,
    ) -> Result<Vec<DayFigures>, ReportError> {
        check_days(from_day, to_day)?;
        let mut st = for_campaign(campaign_id);
        let visible = visible_units(&mut st, scope, None);
        st.end_ctes().push(&format!(
            "SELECT a.day AS day, {} FROM attempts a WHERE a.campaign_id = $1",
            counts_columns()
        ));
        within(&mut st, "a.unit_id", visible);
        between_days(&mut st, from_day, to_day).push(" GROUP BY a.day ORDER BY a.day");
        let rows: Vec<DayRow> = st.fetch_all(self).await?;
        let mut series: Vec<DayFigures> = (from_day..=to_day)
            .map(|day| DayFigures {
                day,
                ..DayFigures::default()
            })
            .collect();
        for DayRow { day, counts } in rows {
            // The statement only returns days of the range, so the index is within it.
            if let Some(figures) = series.get_mut((day - from_day) as usize) {
                *figures = DayFigures {
                    day,
                    participants: counts.participants,
                    attempts: counts.attempts,
                    points: counts.points,
                    full_marks: counts.full_marks,
                };
            }
        }
        Ok(series)
    }
}

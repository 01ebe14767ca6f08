//! The per-day series: each calendar day's figures in a scope, from the scope's roll-up rows.

use safequiz_domain::scope::Scope;

use super::{Counts, ReportError, check_days, for_campaign};
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
        // A day's participants are those of all its rows, whatever their previous active day:
        // every previous day is before the day itself.
        let mut st = for_campaign(campaign_id);
        st.push(
            "SELECT r.day AS day, CAST(SUM(r.participants) AS BIGINT) AS participants, \
             CAST(SUM(r.attempts) AS BIGINT) AS attempts, \
             CAST(SUM(r.points) AS BIGINT) AS points, \
             CAST(SUM(r.full_marks) AS BIGINT) AS full_marks \
             FROM unit_days r WHERE r.campaign_id = $1 AND r.unit_id = ",
        )
        .push_bind(scope.as_str())
        .push(" AND r.day >= ")
        .push_bind(from_day)
        .push(" AND r.day <= ")
        .push_bind(to_day)
        .push(" GROUP BY r.day ORDER BY r.day");
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

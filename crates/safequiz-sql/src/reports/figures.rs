//! Unit figures: a scope's children each over its whole subtree, and the scope's own total,
//! for a period (what organizers report on the statistics forms), from the roll-ups: each
//! unit's own `unit_days` rows already count its whole subtree.

use safequiz_domain::scope::Scope;

use super::{COUNTS_COLUMNS, Counts, ReportError, check_days, for_campaign, period};
use crate::Store;
use crate::statement::Statement;

/// One unit's figures rolled up over its whole subtree within a day range.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct UnitFigure {
    /// The unit (the whole campaign's wire form, `*`, for its total row).
    pub unit_id: String,
    /// Its name (empty for the whole campaign or a unit missing from the `units` table).
    pub name: String,
    /// Its kind (`province`, `county`, ...).
    pub kind: String,
    /// The people expected to take part, when an organizer set it.
    pub headcount: Option<i64>,
    /// Distinct participants of the subtree with an attempt in the range (参与人数).
    pub participants: i64,
    /// Attempts in the range (参与人次).
    pub attempts: i64,
    /// Their points.
    pub points: i64,
    /// Attempts with every question correct.
    pub full_marks: i64,
}

impl UnitFigure {
    /// Points per attempt; `None` without attempts.
    pub fn average_points(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.points as f64 / self.attempts as f64)
    }

    /// Participants per head of the headcount (may exceed 1 when more people than expected take
    /// part); `None` when no positive headcount is known.
    pub fn participation_rate(&self) -> Option<f64> {
        safequiz_domain::organization::participation_share(
            u64::try_from(self.participants).unwrap_or(0),
            self.headcount,
        )
    }
}

/// A scope's figures: its own total and one row per child unit.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitFigures {
    /// The scope unit over its whole subtree. For the whole campaign: `unit_id` `*`, and a
    /// headcount only when every entry root has one (their sum).
    pub total: UnitFigure,
    /// The scope unit's children (for the whole campaign: the entries' roots), by unit id, each
    /// over its own subtree; children without any attempt are listed with zeros.
    pub children: Vec<UnitFigure>,
}

/// The scope unit's own row of the `units` table.
#[derive(Default, sqlx::FromRow)]
struct UnitLabel {
    name: String,
    kind: String,
    headcount: Option<i64>,
}

impl Store {
    /// The figures of `scope`'s children (for the whole campaign: the entries' roots), each over
    /// its whole subtree, and of the scope itself, for attempts from `from_day` to `to_day`:
    /// what organizers report on the statistics forms (参与人数, 参与人次) for their area and
    /// period.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id, scope = %scope))]
    pub async fn unit_figures(
        &self,
        campaign_id: &str,
        scope: &Scope,
        from_day: i32,
        to_day: i32,
    ) -> Result<UnitFigures, ReportError> {
        check_days(from_day, to_day)?;
        let children = self
            .child_figures(campaign_id, scope, from_day, to_day)
            .await?;
        // The scope's own total: its own roll-up rather than the children's sum, since
        // participants registered with the scope unit itself belong to no child.
        let counts = self
            .scope_counts(campaign_id, scope, from_day, to_day)
            .await?;
        let label = match scope.unit_id() {
            None => UnitLabel {
                headcount: children
                    .iter()
                    .map(|child| child.headcount)
                    .sum::<Option<i64>>()
                    .filter(|_| !children.is_empty()),
                ..UnitLabel::default()
            },
            Some(unit) => Statement::new(
                "SELECT name, kind, CAST(headcount AS BIGINT) AS headcount FROM units \
                 WHERE campaign_id = $1 AND unit_id = $2",
            )
            .bind(campaign_id)
            .bind(unit)
            .fetch_optional(self)
            .await?
            .unwrap_or_default(),
        };
        Ok(UnitFigures {
            total: UnitFigure {
                unit_id: scope.as_str().to_owned(),
                name: label.name,
                kind: label.kind,
                headcount: label.headcount,
                participants: counts.participants,
                attempts: counts.attempts,
                points: counts.points,
                full_marks: counts.full_marks,
            },
            children,
        })
    }

    /// Each child of `scope` with the counts of its whole subtree, by unit id.
    async fn child_figures(
        &self,
        campaign_id: &str,
        scope: &Scope,
        from_day: i32,
        to_day: i32,
    ) -> Result<Vec<UnitFigure>, ReportError> {
        let mut st = period(for_campaign(campaign_id), from_day, to_day);
        st.push(&format!(
            "SELECT c.unit_id AS unit_id, c.name AS name, c.kind AS kind, \
             CAST(c.headcount AS BIGINT) AS headcount, {COUNTS_COLUMNS} \
             FROM units c LEFT JOIN period r ON r.unit_id = c.unit_id \
             WHERE c.campaign_id = $1"
        ));
        match scope.unit_id() {
            None => st.push(" AND c.parent_id IS NULL"),
            Some(unit) => st.push(" AND c.parent_id = ").push_bind(unit),
        };
        st.push(" GROUP BY c.unit_id, c.name, c.kind, c.headcount ORDER BY c.unit_id");
        Ok(st.fetch_all(self).await?)
    }

    /// The counts of `scope` (its own roll-up rows) from `from_day` to `to_day`.
    async fn scope_counts(
        &self,
        campaign_id: &str,
        scope: &Scope,
        from_day: i32,
        to_day: i32,
    ) -> Result<Counts, ReportError> {
        let mut st = period(for_campaign(campaign_id), from_day, to_day);
        st.push(&format!(
            "SELECT {COUNTS_COLUMNS} FROM period r WHERE r.unit_id = "
        ))
        .push_bind(scope.as_str());
        Ok(st.fetch_one(self).await?)
    }
}

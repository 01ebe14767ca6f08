//! Headcounts: how many people each unit of a scope expects to take part, read and set.

use std::collections::HashSet;

use safequiz_domain::scope::Scope;

use super::{ReportError, for_campaign, within};
use crate::statement::Statement;
use crate::{Store, StoreError};

/// A unit with its headcount.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UnitHeadcount {
    /// The unit.
    pub unit_id: String,
    /// Its parent, `None` for an entry's root.
    pub parent_id: Option<String>,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// 0 for a root.
    pub depth: i32,
    /// The people expected to take part, when set.
    pub headcount: Option<i64>,
}

/// The units of `scope`, selected from `units u` (the scope unit included).
fn scope_units(campaign_id: &str, scope: &Scope, columns: &str) -> Statement {
    let mut st = for_campaign(campaign_id);
    st.push(&format!(
        "SELECT {columns} FROM units u WHERE u.campaign_id = $1"
    ));
    within(&mut st, "u.unit_id", scope);
    st
}

impl Store {
    /// Every unit of `scope` (the scope unit included) with its headcount, by depth then id.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id, scope = %scope))]
    pub async fn headcounts(
        &self,
        campaign_id: &str,
        scope: &Scope,
    ) -> Result<Vec<UnitHeadcount>, StoreError> {
        let mut st = scope_units(
            campaign_id,
            scope,
            "u.unit_id AS unit_id, u.parent_id AS parent_id, u.name AS name, u.kind AS kind, \
             u.depth AS depth, CAST(u.headcount AS BIGINT) AS headcount",
        );
        st.push(" ORDER BY u.depth, u.unit_id");
        Ok(st.fetch_all(self).await?)
    }

    /// Sets (or, with `None`, clears) the headcounts of units of `scope`, in one transaction.
    ///
    /// All or nothing: a negative headcount, or a unit that is not within the scope (or does not
    /// exist), refuses the whole list and writes nothing. A unit listed twice takes its last
    /// value. Unit syncs at start never overwrite what this writes.
    #[tracing::instrument(
        skip_all,
        fields(campaign.id = campaign_id, scope = %scope, units = headcounts.len())
    )]
    pub async fn set_headcounts<S: AsRef<str>>(
        &self,
        campaign_id: &str,
        scope: &Scope,
        headcounts: &[(S, Option<i64>)],
    ) -> Result<(), ReportError> {
        if let Some((unit, _)) = headcounts.iter().find(|(_, h)| h.is_some_and(|h| h < 0)) {
            return Err(ReportError::NegativeHeadcount(unit.as_ref().to_owned()));
        }
        let select = scope_units(campaign_id, scope, "u.unit_id");
        let update = |unit: &str, headcount: Option<i64>| {
            Statement::new(
                "UPDATE units SET headcount = $1 WHERE campaign_id = $2 AND unit_id = $3",
            )
            .bind(headcount)
            .bind(campaign_id)
            .bind(unit)
        };
        // The scope is read inside the transaction that writes, so the check and the writes see
        // the same units; on SQLite the write lock is taken first (`begin_write`), or a write
        // committed by another connection after the read would fail this one's first write.
        let mut tx = self.begin_write().await?;
        let units: HashSet<String> = select
            .fetch_scalars_in::<String>(&mut tx)
            .await?
            .into_iter()
            .collect();
        let mut unknown: Vec<String> = headcounts
            .iter()
            .map(|(unit, _)| unit.as_ref())
            .filter(|unit| !units.contains(*unit))
            .map(str::to_owned)
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            unknown.dedup();
            return Err(ReportError::UnknownUnits(unknown));
        }
        for (unit, headcount) in headcounts {
            update(unit.as_ref(), *headcount)
                .execute_in(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

//! The units table: every campaign's unit tree, synced from configuration at start.

use crate::statement::Statement;
use crate::{Store, StoreError};

/// One unit as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UnitRecord {
    /// The unit's id (its code).
    pub unit_id: String,
    /// Its parent, `None` for an entry's root.
    pub parent_id: Option<String>,
    /// Its name.
    pub name: String,
    /// `province`, `city`, `county`, `enterprise`, ...
    pub kind: String,
    /// The entry (`region`, `enterprise`) it belongs to.
    pub entry_id: String,
    /// 0 for a root.
    pub depth: i32,
}

/// Units per multi-row insert (7 values each: 2,800 parameters, within both databases' limits).
const CHUNK: usize = 400;

/// One insert-or-update of `units` (at most [`CHUNK`]), keeping headcounts.
fn upsert(campaign_id: &str, units: &[UnitRecord]) -> Statement {
    let mut st = Statement::new(
        "INSERT INTO units (campaign_id, unit_id, parent_id, name, kind, entry_id, depth) VALUES ",
    );
    for (n, unit) in units.iter().enumerate() {
        st.push(if n == 0 { "(" } else { ", (" })
            .push_bind(campaign_id)
            .push(", ")
            .push_bind(unit.unit_id.as_str())
            .push(", ")
            .push_bind(unit.parent_id.as_deref())
            .push(", ")
            .push_bind(unit.name.as_str())
            .push(", ")
            .push_bind(unit.kind.as_str())
            .push(", ")
            .push_bind(unit.entry_id.as_str())
            .push(", ")
            .push_bind(unit.depth)
            .push(")");
    }
    st.push(
        " ON CONFLICT (campaign_id, unit_id) DO UPDATE SET \
         parent_id = excluded.parent_id, name = excluded.name, kind = excluded.kind, \
         entry_id = excluded.entry_id, depth = excluded.depth",
    );
    st
}

impl Store {
    /// Inserts or updates `units` of `campaign_id` (name, parent, kind, entry, depth), leaving
    /// headcounts as organizers set them; one transaction.
    pub async fn sync_units(
        &self,
        campaign_id: &str,
        units: &[UnitRecord],
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in units.chunks(CHUNK) {
                upsert(campaign_id, chunk).query()?.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every unit of a campaign, by id.
    pub async fn units(&self, campaign_id: &str) -> Result<Vec<UnitRecord>, StoreError> {
        Ok(Statement::new(
            "SELECT unit_id, parent_id, name, kind, entry_id, depth FROM units \
             WHERE campaign_id = $1 ORDER BY unit_id",
        )
        .bind(campaign_id)
        .fetch_all(self)
        .await?)
    }
}

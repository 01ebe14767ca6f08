//! The units table: every campaign's unit tree, synced from configuration at start.

use crate::{Store, StoreError};

/// One unit as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Rows per multi-row insert.
const CHUNK: usize = 400;

impl Store {
    /// Inserts or updates `units` of `campaign_id` (name, parent, kind, entry, depth), leaving
    /// headcounts as organizers set them; one transaction.
    pub async fn sync_units(
        &self,
        campaign_id: &str,
        units: &[UnitRecord],
    ) -> Result<(), StoreError> {
        const UPSERT: &str = " ON CONFLICT (campaign_id, unit_id) DO UPDATE SET \
            parent_id = excluded.parent_id, name = excluded.name, kind = excluded.kind, \
            entry_id = excluded.entry_id, depth = excluded.depth";
        const INSERT: &str = "INSERT INTO units \
            (campaign_id, unit_id, parent_id, name, kind, entry_id, depth) ";
        match self {
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in units.chunks(CHUNK) {
                    let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(INSERT);
                    query.push_values(chunk, |mut row, unit| {
                        row.push_bind(campaign_id)
                            .push_bind(&unit.unit_id)
                            .push_bind(&unit.parent_id)
                            .push_bind(&unit.name)
                            .push_bind(&unit.kind)
                            .push_bind(&unit.entry_id)
                            .push_bind(unit.depth);
                    });
                    query.push(UPSERT);
                    query.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in units.chunks(CHUNK) {
                    let mut query = sqlx::QueryBuilder::<sqlx::Postgres>::new(INSERT);
                    query.push_values(chunk, |mut row, unit| {
                        row.push_bind(campaign_id)
                            .push_bind(&unit.unit_id)
                            .push_bind(&unit.parent_id)
                            .push_bind(&unit.name)
                            .push_bind(&unit.kind)
                            .push_bind(&unit.entry_id)
                            .push_bind(unit.depth);
                    });
                    query.push(UPSERT);
                    query.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Every unit of a campaign, by id.
    pub async fn units(&self, campaign_id: &str) -> Result<Vec<UnitRecord>, StoreError> {
        type Raw = (String, Option<String>, String, String, String, i32);
        let raw: Vec<Raw> = match self {
            Store::Sqlite(pool) => {
                sqlx::query_as(
                    "SELECT unit_id, parent_id, name, kind, entry_id, depth FROM units \
                     WHERE campaign_id = ? ORDER BY unit_id",
                )
                .bind(campaign_id)
                .fetch_all(pool)
                .await?
            }
            Store::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT unit_id, parent_id, name, kind, entry_id, depth FROM units \
                     WHERE campaign_id = $1 ORDER BY unit_id",
                )
                .bind(campaign_id)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(raw
            .into_iter()
            .map(|r| UnitRecord {
                unit_id: r.0,
                parent_id: r.1,
                name: r.2,
                kind: r.3,
                entry_id: r.4,
                depth: r.5,
            })
            .collect())
    }
}

//! The units table: every campaign's unit tree, synced from configuration at start, and its
//! closure `unit_ancestors` (each unit with itself and every ancestor), which the reports and
//! roll-ups use instead of walking the tree.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::rollups::{UnitRow, rebuild_in};
use crate::statement::{SqlType, Statement, Transaction, json_rows};
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
    ///
    /// The closure `unit_ancestors` follows the table. When a unit that already has
    /// participants or attempts gets other ancestors (it moved, or it was missing from the
    /// table and counted for the whole campaign only), the campaign's roll-ups are rebuilt from
    /// the raw rows in the same transaction: at national scale that takes minutes, once, at the
    /// first start after such a change of the unit files.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id, units = units.len()))]
    pub async fn sync_units(
        &self,
        campaign_id: &str,
        units: &[UnitRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for chunk in units.chunks(CHUNK) {
            upsert(campaign_id, chunk).execute_in(&mut tx).await?;
        }
        let moved = sync_ancestors(&mut tx, campaign_id).await?;
        if !moved.is_empty() && has_participants(&mut tx, campaign_id, &moved).await? {
            tracing::warn!(
                units = moved.len(),
                "units with participants have new ancestors; rebuilding the campaign's roll-ups"
            );
            rebuild_in(&mut tx, campaign_id).await?;
        }
        tx.commit().await?;
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

/// A unit and its parent, as the table has them.
#[derive(sqlx::FromRow)]
struct Parent {
    unit_id: String,
    parent_id: Option<String>,
}

/// A unit and one of its ancestors (or itself).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
struct Ancestry {
    unit_id: String,
    ancestor_id: String,
}

#[derive(Serialize)]
struct AncestryRow<'a> {
    u: &'a str,
    a: &'a str,
}

/// Every unit of `parents` with itself and each of its ancestors. A parent missing from the
/// table ends the path there; a cycle (which unit files cannot express) ends it at the repeat.
fn closure(parents: &[Parent]) -> BTreeSet<Ancestry> {
    let parent: BTreeMap<&str, Option<&str>> = parents
        .iter()
        .map(|p| (p.unit_id.as_str(), p.parent_id.as_deref()))
        .collect();
    let mut closure = BTreeSet::new();
    for &unit in parent.keys() {
        let mut seen = BTreeSet::new();
        let mut at = Some(unit);
        while let Some(current) = at.filter(|current| parent.contains_key(current)) {
            if !seen.insert(current) {
                break;
            }
            closure.insert(Ancestry {
                unit_id: unit.to_owned(),
                ancestor_id: current.to_owned(),
            });
            at = parent.get(current).copied().flatten();
        }
    }
    closure
}

/// Brings `unit_ancestors` of `campaign_id` up to the units table; returns the units whose
/// ancestors changed (new units included).
async fn sync_ancestors(
    tx: &mut Transaction,
    campaign_id: &str,
) -> Result<BTreeSet<String>, StoreError> {
    let parents: Vec<Parent> =
        Statement::new("SELECT unit_id, parent_id FROM units WHERE campaign_id = $1")
            .bind(campaign_id)
            .fetch_all_in(tx)
            .await?;
    let wanted = closure(&parents);
    let recorded: BTreeSet<Ancestry> =
        Statement::new("SELECT unit_id, ancestor_id FROM unit_ancestors WHERE campaign_id = $1")
            .bind(campaign_id)
            .fetch_all_in::<Ancestry>(tx)
            .await?
            .into_iter()
            .collect();
    if wanted == recorded {
        return Ok(BTreeSet::new());
    }
    let moved: BTreeSet<String> = wanted
        .symmetric_difference(&recorded)
        .map(|row| row.unit_id.clone())
        .collect();
    Statement::new("DELETE FROM unit_ancestors WHERE campaign_id = $1")
        .bind(campaign_id)
        .execute_in(tx)
        .await?;
    let rows: Vec<AncestryRow<'_>> = wanted
        .iter()
        .map(|row| AncestryRow {
            u: &row.unit_id,
            a: &row.ancestor_id,
        })
        .collect();
    let json = json_rows(&rows);
    let mut st = Statement::new(
        "INSERT INTO unit_ancestors (campaign_id, unit_id, ancestor_id) SELECT $1, r.u, r.a FROM ",
    )
    .bind(campaign_id);
    st.push_json_rows(
        tx.backend(),
        "r",
        &[("u", SqlType::Text), ("a", SqlType::Text)],
        json,
    );
    st.execute_in(tx).await?;
    Ok(moved)
}

/// Whether a participant of `campaign_id` (registered or with an attempt) is in one of `units`.
async fn has_participants(
    tx: &mut Transaction,
    campaign_id: &str,
    units: &BTreeSet<String>,
) -> Result<bool, StoreError> {
    let rows: Vec<UnitRow<'_>> = units.iter().map(|u| UnitRow { u }).collect();
    let json = json_rows(&rows);
    let mut st = Statement::new(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS one FROM participant_totals \
         WHERE campaign_id = $1 AND unit_id IN (SELECT r.u FROM ",
    )
    .bind(campaign_id);
    st.push_json_rows(tx.backend(), "r", &[("u", SqlType::Text)], json)
        .push(") LIMIT 1) AS found");
    let found: Vec<i64> = st.fetch_scalars_in(tx).await?;
    Ok(found.first().is_some_and(|&count| count > 0))
}

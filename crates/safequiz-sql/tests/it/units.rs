//! The units table on SQLite and on PostgreSQL: a sync inserts or updates every unit, however
//! many statements it takes, and keeps the headcounts organizers set.

use safequiz_domain::scope::Scope;
use safequiz_sql::units::UnitRecord;
use safequiz_testkit::{Database, fresh_store, on_both};

/// A root and `n` children under it.
fn units(n: usize, name: &str) -> Vec<UnitRecord> {
    let mut units = vec![UnitRecord {
        unit_id: "R".to_owned(),
        parent_id: None,
        name: format!("{name}总部"),
        kind: "group".to_owned(),
        entry_id: "enterprise".to_owned(),
        depth: 0,
    }];
    units.extend((0..n).map(|i| UnitRecord {
        unit_id: format!("R{i:04}"),
        parent_id: Some("R".to_owned()),
        name: format!("{name}{i}"),
        kind: "enterprise".to_owned(),
        entry_id: "enterprise".to_owned(),
        depth: 1,
    }));
    units
}

async fn a_sync_updates_every_unit_and_keeps_headcounts(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    // More units than one statement takes.
    store
        .sync_units("c1", &units(900, "旧"))
        .await
        .expect("synced");
    store
        .set_headcounts("c1", &Scope::WholeCampaign, &[("R0007", Some(70))])
        .await
        .expect("set");

    store
        .sync_units("c1", &units(900, "新"))
        .await
        .expect("synced again");

    let mut expected = units(900, "新");
    expected.sort_by(|a, b| a.unit_id.cmp(&b.unit_id));
    assert_eq!(store.units("c1").await.expect("read"), expected);
    let headcounts = store
        .headcounts("c1", &Scope::unit("R0007"))
        .await
        .expect("read");
    assert_eq!(headcounts.len(), 1);
    assert_eq!(
        headcounts[0].headcount,
        Some(70),
        "the sync kept the headcount"
    );
    assert_eq!(headcounts[0].parent_id.as_deref(), Some("R"));
    assert!(
        store.units("c2").await.expect("read").is_empty(),
        "one campaign's units"
    );
}
on_both!(a_sync_updates_every_unit_and_keeps_headcounts);

//! Organizer accounts on SQLite and on PostgreSQL: an account reads back with the scope it was
//! given (the whole campaign or a unit), its password state and its session epoch.

use safequiz_domain::scope::Scope;
use safequiz_sql::organizers::{AddOrganizerError, NewOrganizer};
use safequiz_testkit::{Database, fresh_store, on_both};

async fn an_account_reads_back_with_its_scope_and_password_state(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    let province = Scope::unit("130000");
    let new = |username, scope| NewOrganizer {
        campaign_id: "c1",
        scope,
        username,
        password_hash: "$argon2id$v=19$hash",
        created_at_ms: 1_780_000_000_000,
    };
    let national = store
        .add_organizer(&new("national", &Scope::WholeCampaign))
        .await
        .expect("added");
    let hebei = store
        .add_organizer(&new("hebei", &province))
        .await
        .expect("added");

    let by_name = store
        .organizer_by_username("national")
        .await
        .expect("read")
        .expect("the account");
    let by_id = store
        .organizer(hebei)
        .await
        .expect("read")
        .expect("the account");
    let listed = store.organizers("c1").await.expect("read");
    let taken = store.add_organizer(&new("hebei", &province)).await;

    assert_eq!(by_name.organizer_id, national);
    assert_eq!(by_name.scope, Scope::WholeCampaign, "the whole campaign");
    assert!(
        by_name.must_change_password,
        "a new account has a one-time password"
    );
    assert_eq!(by_name.session_epoch, 0);
    assert_eq!(by_id.scope, province, "a unit");
    assert_eq!(
        listed
            .iter()
            .map(|a| a.username.as_str())
            .collect::<Vec<_>>(),
        ["hebei", "national"],
        "by username"
    );
    assert!(matches!(taken, Err(AddOrganizerError::UsernameTaken(name)) if name == "hebei"));
}
on_both!(an_account_reads_back_with_its_scope_and_password_state);

async fn a_password_change_and_a_logout_raise_the_session_epoch(database: Database) {
    let (store, _dir) = fresh_store(database).await;
    let id = store
        .add_organizer(&NewOrganizer {
            campaign_id: "c1",
            scope: &Scope::unit("130100"),
            username: "city",
            password_hash: "old",
            created_at_ms: 0,
        })
        .await
        .expect("added");

    let changed = store
        .set_organizer_password(id, "new", false)
        .await
        .expect("changed");
    let ended = store.end_organizer_sessions(id).await.expect("ended");
    let missing = store
        .end_organizer_sessions(id + 1)
        .await
        .expect("no error");
    let none = store
        .set_organizer_password(id + 1, "x", true)
        .await
        .expect("no error");

    assert_eq!(changed, Some(1));
    assert!(ended);
    assert!(!missing, "no such account");
    assert_eq!(none, None, "no such account");
    let account = store
        .organizer(id)
        .await
        .expect("read")
        .expect("the account");
    assert_eq!(account.password_hash, "new");
    assert!(!account.must_change_password, "a chosen password");
    assert_eq!(account.session_epoch, 2);
}
on_both!(a_password_change_and_a_logout_raise_the_session_epoch);

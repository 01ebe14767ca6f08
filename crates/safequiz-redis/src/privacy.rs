//! A person's information in the hot state: erasing one participant who deleted their
//! registration, and purging a whole campaign at the end of its retention (issue 20;
//! docs/privacy.md).
//!
//! Both keep the participant as an anonymous row: the people entry stays with an empty name and
//! masked phone (its unit and registration instant kept), and the participant's hash, totals and
//! board entries are untouched. So unit totals, every board's size and order, and the shard's
//! people count (what `reconcile` compares with SQL) are exactly what they were; the boards show
//! the row without a name. What goes is the phone index entry (the phone can register afresh) and
//! the name and masked phone.
//!
//! A registration's stream entry still holds the name until the flusher has written it and the
//! stream is trimmed (normally within seconds); the SQL side (`safequiz_sql::privacy`) erases the
//! row whether or not the flusher had written it yet.

use redis::AsyncCommands;

use crate::keys::{Shard, ShardKeys};
use crate::scripts::ERASE;
use crate::{HotState, RedisError};

/// The anonymous row left by [`HotState::erase_participant`]: what SQL needs to record (or keep)
/// the registration without its person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erased {
    /// The unit registered with ("" when Redis no longer had the people entry).
    pub unit: String,
    /// The registration instant, Unix ms (0 when unknown).
    pub registered_ms: i64,
}

/// A participant's people entry as the hot state holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldPerson {
    /// The name (empty once erased).
    pub name: String,
    /// The masked phone (empty once erased).
    pub phone_masked: String,
    /// The unit registered with.
    pub unit: String,
    /// Unix ms.
    pub registered_ms: i64,
}

/// What a purge of the hot state removed, or would remove.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HotPurge {
    /// Phone index entries.
    pub phones: u64,
    /// People entries that still had a name or masked phone.
    pub named_people: u64,
}

/// People entries rewritten per `HSCAN` page of a purge.
const PURGE_PAGE: usize = 1000;

impl HotState {
    /// The people entry of `participant`, if the hot state has one.
    pub async fn person(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
    ) -> Result<Option<HeldPerson>, RedisError> {
        let keys = ShardKeys::new(campaign, Shard::of_participant(participant, shards));
        let mut connection = self.connection().await?;
        let person: Option<String> = connection.hget(keys.people(), participant).await?;
        Ok(person.map(|person| {
            let mut fields = person.split('\t');
            let mut next = || fields.next().unwrap_or_default().to_owned();
            HeldPerson {
                name: next(),
                phone_masked: next(),
                unit: next(),
                registered_ms: next().parse().unwrap_or(0),
            }
        }))
    }

    /// Erases participant `participant`'s name and phone, confirmed by the keyed hash of the
    /// phone they typed; `None` when that phone does not name this participant (a wrong number,
    /// or already erased).
    #[tracing::instrument(skip_all)]
    pub async fn erase_participant(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
        phone_hash: &[u8; 16],
    ) -> Result<Option<Erased>, RedisError> {
        let keys = ShardKeys::new(campaign, Shard::of_participant(participant, shards));
        let mut hash = String::with_capacity(32);
        for byte in phone_hash {
            hash.push_str(&format!("{byte:02x}"));
        }
        let mut call = ERASE.call();
        call.key(keys.phones())
            .key(keys.people())
            .arg(hash)
            .arg(participant);
        let mut connection = self.connection().await?;
        let reply: Vec<String> = call.invoke(&mut connection).await?;
        match reply.first().map(String::as_str) {
            Some("erased") => Ok(Some(Erased {
                unit: reply.get(1).cloned().unwrap_or_default(),
                registered_ms: reply.get(2).and_then(|ms| ms.parse().ok()).unwrap_or(0),
            })),
            Some("mismatch") => Ok(None),
            _ => Err(RedisError::Reply(format!(
                "unexpected erase reply: {reply:?}"
            ))),
        }
    }

    /// Removes every phone index entry and every name and masked phone of `campaign` (a dry run
    /// only counts them). Shard by shard, the people hash a page at a time, so memory stays
    /// bounded; running it again finds nothing more to remove.
    #[tracing::instrument(skip_all)]
    pub async fn purge_people(
        &self,
        campaign: &str,
        shards: u16,
        dry_run: bool,
    ) -> Result<HotPurge, RedisError> {
        let mut purged = HotPurge::default();
        let mut connection = self.connection().await?;
        for shard in Shard::all(shards) {
            let keys = ShardKeys::new(campaign, shard);
            let phones: u64 = connection.hlen(keys.phones()).await?;
            purged.phones += phones;
            if !dry_run && phones > 0 {
                let _: () = connection.del(keys.phones()).await?;
            }
            let people = keys.people();
            let mut cursor: u64 = 0;
            loop {
                let (next, page): (u64, Vec<(String, String)>) = redis::cmd("HSCAN")
                    .arg(&people)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(PURGE_PAGE)
                    .query_async(&mut connection)
                    .await?;
                let mut anonymous: Vec<(String, String)> = Vec::new();
                for (id, person) in page {
                    let mut fields = person.splitn(4, '\t');
                    let (name, masked) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
                    if name.is_empty() && masked.is_empty() {
                        continue;
                    }
                    let rest: Vec<&str> = fields.collect();
                    anonymous.push((id, format!("\t\t{}", rest.join("\t"))));
                }
                purged.named_people += anonymous.len() as u64;
                if !dry_run && !anonymous.is_empty() {
                    let _: () = connection.hset_multiple(&people, &anonymous).await?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(purged)
    }
}

//! Every Redis key safequiz uses, and the shard each belongs to.
//!
//! This module is the only place that spells keys. All keys of one shard of one campaign carry
//! the hash tag `{campaign:shard}` (e.g. `{safety-month:3}`), so a script touching one
//! participant touches one Redis Cluster hash slot, and shards spread over the primaries
//! (docs/design.md §2.4). With `shards = 1` everything lives in one slot.
//!
//! Keys of shard `s` of campaign `c`:
//! - `{c:s}:p:<participant>`: the participant's hash (totals, day counter, attempts);
//! - `{c:s}:phones`: keyed phone hash → participant id;
//! - `{c:s}:people`: participant id → name, masked phone, unit, registration instant;
//! - `{c:s}:seq`: the counter participant ids are made from;
//! - `{c:s}:deadlines`: open attempts by the instant their grace ends (the sweeper's index);
//! - `{c:s}:stream`: finalized attempts and registrations, for the SQL flusher;
//! - `{c:s}:dead`: stream entries the flusher could not use, with the reason;
//! - `{c:s}:totals`: the shard's part of every unit's roll-up (`<unit>:pa`, `<unit>:nf`: two
//!   counters packed per field, see `boards`);
//! - `{c:s}:board:*` and `{c:s}:board:<unit>`: the shard's part of the individual boards.
//!
//! Keys outside the shards, all in the one slot `{login}` (a few, small and short-lived):
//! - `{login}:fail:<kind>:<who>`: failed organizer logins of one username or one client address
//!   in the current window (see [`login_failures`]).

use std::fmt;

/// One of a campaign's shards: `participant id mod shards`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard(pub u16);

impl Shard {
    /// The shard of participant `participant` when the campaign has `shards` shards.
    pub fn of_participant(participant: u64, shards: u16) -> Shard {
        Shard((participant % u64::from(shards.max(1))) as u16)
    }

    /// The shard a keyed phone hash falls in: registration must find an existing participant
    /// from the phone alone, so the phone decides the shard and the new id is made to match it.
    pub fn of_phone_hash(hash: &[u8; 16], shards: u16) -> Shard {
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        Shard((u64::from_be_bytes(first) % u64::from(shards.max(1))) as u16)
    }

    /// All shards of a campaign with `shards` shards.
    pub fn all(shards: u16) -> impl Iterator<Item = Shard> {
        (0..shards.max(1)).map(Shard)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The keys of one shard of one campaign.
#[derive(Clone, Copy, Debug)]
pub struct ShardKeys<'a> {
    campaign: &'a str,
    shard: Shard,
}

impl<'a> ShardKeys<'a> {
    /// The keys of `shard` of `campaign`.
    pub fn new(campaign: &'a str, shard: Shard) -> ShardKeys<'a> {
        ShardKeys { campaign, shard }
    }

    fn key(&self, rest: fmt::Arguments<'_>) -> String {
        format!("{{{}:{}}}:{rest}", self.campaign, self.shard)
    }

    /// The hash of one participant.
    pub fn participant(&self, participant: u64) -> String {
        self.key(format_args!("p:{participant}"))
    }

    /// Keyed phone hash → participant id.
    pub fn phones(&self) -> String {
        self.key(format_args!("phones"))
    }

    /// Participant id → name, masked phone, unit, registration instant.
    pub fn people(&self) -> String {
        self.key(format_args!("people"))
    }

    /// The counter participant ids are made from.
    pub fn sequence(&self) -> String {
        self.key(format_args!("seq"))
    }

    /// Open attempts by the end of their grace.
    pub fn deadlines(&self) -> String {
        self.key(format_args!("deadlines"))
    }

    /// Finalized attempts and registrations, for the flusher.
    pub fn stream(&self) -> String {
        self.key(format_args!("stream"))
    }

    /// Stream entries no flusher could use, kept for an operator.
    pub fn dead_letters(&self) -> String {
        self.key(format_args!("dead"))
    }

    /// This shard's part of every unit's totals.
    pub fn totals(&self) -> String {
        self.key(format_args!("totals"))
    }

    /// This shard's part of the individual board of `unit`, or of the whole campaign (`None`).
    pub fn board(&self, unit: Option<&str>) -> String {
        self.key(format_args!(
            "board:{}",
            unit.unwrap_or(safequiz_domain::scope::WHOLE_CAMPAIGN)
        ))
    }
}

/// The counter of failed organizer logins of `who` (a username or a client address, by `kind`).
pub fn login_failures(kind: &str, who: &str) -> String {
    format!("{{login}}:fail:{kind}:{who}")
}

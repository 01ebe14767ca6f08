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
//! - `{c:s}:reg:<phone hash>`: registrations with one phone in the current window, counted by
//!   `register.lua` in the shard the phone picks (see [`ShardKeys::phone_hits`]);
//! - `{c:s}:deadlines`: open attempts by the instant their grace ends (the sweeper's index);
//! - `{c:s}:stream`: finalized attempts and registrations, for the SQL flusher;
//! - `{c:s}:dead`: stream entries the flusher could not use, with the reason;
//! - `{c:s}:x:<participant>`, `{c:s}:xn:<participant>:<day>`, `{c:s}:xh:<participant>:<day>`: a
//!   participant's open practice attempt, that day's practice count and history (`practice`);
//! - `{c:s}:totals`: the shard's part of every unit's roll-up (`<unit>:pa`, `<unit>:nf`: two
//!   counters packed per field, see `boards`), and `{c:s}:totals:applied`, the last stream entry
//!   whose totals the board writer has added (see `board_writer`);
//! - `{c:s}:boards:cursor` and `{c:s}:boards:lease`: how far the board writer has applied the
//!   shard's stream, and which replica's writer holds the shard (see `board_writer`);
//! - `{c:s}:flush:cursor`, `{c:s}:flush:lease` and `{c:s}:flush:refused`: how far the flusher
//!   has written the shard's stream to SQL, which flusher holds the shard, and how often SQL
//!   refused each entry it refused (see `streams`).
//!
//! Individual boards are not in the shards: each is one sorted set in a hash slot of its own,
//! `{c:board:<unit>}` (`{c:board:*}` for the whole campaign), so a participant's rank on one board
//! is one `ZRANK` whatever the shard count, and the boards of many units spread over the
//! primaries. Finalize does not write them (its keys are one shard's); the board writer applies
//! the shards' streams to them in stream order (`board_writer`).
//!
//! Keys outside the shards, each kind in one slot of its own (`{login}`, `{limits}`; a few, small
//! and short-lived):
//! - `{login}:fail:<kind>:<who>`: failed organizer logins of one username or one client address
//!   in the current window (see [`login_failures`]).
//! - `{limits}:reg:<campaign>:<kind>:<who>`: registrations from one client address, and the
//!   other registrations counted like a participant's (an organization's credit code, an
//!   administrator's application by phone), in the current window (see [`registration_hits`]).
//! - `{fair-play}:observations`: the replicas' fair-play observations, one entry a second per
//!   replica, until the fair-play worker has written them to SQL ([`OBSERVATIONS`]).
//! - `{flushers}:alive`: the flushers running, each until the instant its last pass said it is
//!   alive, so that each holds its share of the shards ([`FLUSHERS`]).

use std::fmt::{self, Write};

use redis::{RedisWrite, ToRedisArgs};

/// Room in a shard key for what follows the campaign: the shard, the kind and its ids (e.g.
/// `:3}:p:12345678:a:17`).
const KEY_ROOM: usize = 40;

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
        spelled(
            self.campaign,
            format_args!("{{{}:{}}}:{rest}", self.campaign, self.shard),
        )
    }

    fn at(&self, rest: Rest) -> ShardKey<'a> {
        ShardKey {
            campaign: self.campaign,
            shard: self.shard,
            rest,
        }
    }

    /// The hash of one participant.
    pub fn participant(&self, participant: u64) -> String {
        self.participant_key(participant).text()
    }

    /// [`ShardKeys::participant`] as a command argument.
    pub fn participant_key(&self, participant: u64) -> ShardKey<'a> {
        self.at(Rest::Participant(participant))
    }

    /// The saved answers of open attempt `number` (a list, one element per question; see
    /// `attempt_prelude.lua`): the participant's hash key with `:a:<number>`, so the scripts
    /// derive it from KEYS[1].
    pub fn answers(&self, participant: u64, number: u32) -> String {
        self.answers_key(participant, number).text()
    }

    /// [`ShardKeys::answers`] as a command argument.
    pub fn answers_key(&self, participant: u64, number: u32) -> ShardKey<'a> {
        self.at(Rest::Answers(participant, number))
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

    /// The counter of participant registrations with one phone (its keyed hash, in hex) in the
    /// current window: in the shard the phone picks, so `register.lua` counts it in the same
    /// call that registers.
    pub fn phone_hits(&self, phone_hash_hex: &str) -> String {
        self.key(format_args!("reg:{phone_hash_hex}"))
    }

    /// Open attempts by the end of their grace.
    pub fn deadlines(&self) -> String {
        self.deadlines_key().text()
    }

    /// [`ShardKeys::deadlines`] as a command argument.
    pub fn deadlines_key(&self) -> ShardKey<'a> {
        self.at(Rest::Name("deadlines"))
    }

    /// Finalized attempts and registrations, for the flusher.
    pub fn stream(&self) -> String {
        self.stream_key().text()
    }

    /// [`ShardKeys::stream`] as a command argument.
    pub fn stream_key(&self) -> ShardKey<'a> {
        self.at(Rest::Name("stream"))
    }

    /// Stream entries no flusher could use, kept for an operator.
    pub fn dead_letters(&self) -> String {
        self.key(format_args!("dead"))
    }

    /// This shard's part of every unit's totals.
    pub fn totals(&self) -> String {
        self.key(format_args!("totals"))
    }

    /// How far the board writer has applied this shard's stream: the last entry id applied.
    pub fn board_cursor(&self) -> String {
        self.key(format_args!("boards:cursor"))
    }

    /// The replica whose board writer applies this shard's stream, while its lease lasts.
    pub fn board_lease(&self) -> String {
        self.key(format_args!("boards:lease"))
    }

    /// A participant's open practice attempt (`practice`).
    pub fn practice_attempt(&self, participant: u64) -> String {
        self.key(format_args!("x:{participant}"))
    }

    /// The practice attempts a participant started on calendar day `day`.
    pub fn practice_count(&self, participant: u64, day: i32) -> String {
        self.key(format_args!("xn:{participant}:{day}"))
    }

    /// A participant's finished practice of calendar day `day`, newest first.
    pub fn practice_history(&self, participant: u64, day: i32) -> String {
        self.key(format_args!("xh:{participant}:{day}"))
    }

    /// How far the flusher has written this shard's stream to SQL: the last entry id done.
    pub fn flush_cursor(&self) -> String {
        self.key(format_args!("flush:cursor"))
    }

    /// The flusher that writes this shard's stream, while its lease lasts.
    pub fn flush_lease(&self) -> String {
        self.key(format_args!("flush:lease"))
    }

    /// How many times SQL has refused each entry it refused (entry id → count), until the
    /// entry is written or moved to the dead-letter stream.
    pub fn flush_refusals(&self) -> String {
        self.key(format_args!("flush:refused"))
    }

    /// The last entry of this shard's stream whose unit totals the board writer has applied.
    pub fn totals_applied(&self) -> String {
        self.key(format_args!("totals:applied"))
    }
}

/// One key of a shard, kept as its parts: written into a command as an argument straight from
/// them (`ToRedisArgs`), without a `String` of its own. The attempt requests name three or four
/// keys each (docs/performance.md, "Allocations per request"); the `String` methods above spell
/// the same keys through [`ShardKey::text`].
#[derive(Clone, Copy, Debug)]
pub struct ShardKey<'a> {
    campaign: &'a str,
    shard: Shard,
    rest: Rest,
}

/// What follows a shard key's hash tag.
#[derive(Clone, Copy, Debug)]
enum Rest {
    Name(&'static str),
    Participant(u64),
    Answers(u64, u32),
}

impl ShardKey<'_> {
    /// The key's text.
    pub fn text(&self) -> String {
        spelled(self.campaign, self)
    }
}

/// The text of a key of `campaign`, sized once: `format!` would start small and grow the text
/// two or three times.
fn spelled(campaign: &str, key: impl fmt::Display) -> String {
    let mut text = String::with_capacity(campaign.len() + KEY_ROOM);
    let _ = write!(text, "{key}");
    text
}

impl fmt::Display for ShardKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}:{}}}:", self.campaign, self.shard)?;
        match self.rest {
            Rest::Name(name) => f.write_str(name),
            Rest::Participant(participant) => write!(f, "p:{participant}"),
            Rest::Answers(participant, number) => write!(f, "p:{participant}:a:{number}"),
        }
    }
}

impl ShardKey<'_> {
    /// The key's bytes, spelled into `buf` without the formatting machinery, which cost about
    /// 0.3 µs a key at the ceiling (docs/performance.md, "Keys spelled by hand"); `None` when
    /// they do not fit (a campaign id longer than the buffer allows).
    fn spell<'b>(&self, buf: &'b mut [u8; KEY_BUF]) -> Option<&'b [u8]> {
        let mut len = 0;
        let mut push = |bytes: &[u8]| {
            let end = len + bytes.len();
            buf.get_mut(len..end)?.copy_from_slice(bytes);
            len = end;
            Some(())
        };
        let mut numbers = itoa::Buffer::new();
        push(b"{")?;
        push(self.campaign.as_bytes())?;
        push(b":")?;
        push(numbers.format(self.shard.0).as_bytes())?;
        push(b"}:")?;
        match self.rest {
            Rest::Name(name) => push(name.as_bytes())?,
            Rest::Participant(participant) => {
                push(b"p:")?;
                push(numbers.format(participant).as_bytes())?;
            }
            Rest::Answers(participant, number) => {
                push(b"p:")?;
                push(numbers.format(participant).as_bytes())?;
                push(b":a:")?;
                push(numbers.format(number).as_bytes())?;
            }
        }
        Some(&buf[..len])
    }
}

/// The room [`ShardKey::spell`] spells a key in, on the stack.
const KEY_BUF: usize = 128;

impl ToRedisArgs for ShardKey<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut buf = [0u8; KEY_BUF];
        match self.spell(&mut buf) {
            Some(bytes) => out.write_arg(bytes),
            None => out.write_arg_fmt(self),
        }
    }
}

/// The individual board of `unit` (`None`: the whole campaign's), a hash slot of its own.
pub fn board(campaign: &str, unit: Option<&str>) -> String {
    format!(
        "{{{campaign}:board:{}}}",
        unit.unwrap_or(safequiz_domain::scope::WHOLE_CAMPAIGN)
    )
}

/// The stream of fair-play observations the replicas ship (`observations`).
pub const OBSERVATIONS: &str = "{fair-play}:observations";

/// The flushers running: a sorted set of flusher name → the instant (ms) it stops counting as
/// alive unless it says so again (`streams`).
pub const FLUSHERS: &str = "{flushers}:alive";

/// The counter of failed organizer logins of `who` (a username or a client address, by `kind`).
pub fn login_failures(kind: &str, who: &str) -> String {
    format!("{{login}}:fail:{kind}:{who}")
}

/// The counter of registrations to `campaign` under `who` (a client address, or what else is
/// counted like a participant's registration, by `kind`) in the current window
/// (`HotState::count_hits`). All in the one slot `{limits}`, so one pipeline counts an address and
/// a second counter together on a cluster too. A participant's phone is counted in its shard
/// instead ([`ShardKeys::phone_hits`]).
pub fn registration_hits(campaign: &str, kind: &str, who: &str) -> String {
    format!("{{limits}}:reg:{campaign}:{kind}:{who}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_key_sent_as_an_argument_is_the_key_its_text_spells() {
        let keys = ShardKeys::new("safety-month", Shard(3));
        let cases = [
            (keys.participant_key(12_345), "{safety-month:3}:p:12345"),
            (
                keys.answers_key(12_345, 17),
                "{safety-month:3}:p:12345:a:17",
            ),
            (keys.deadlines_key(), "{safety-month:3}:deadlines"),
            (keys.stream_key(), "{safety-month:3}:stream"),
        ];
        for (key, spelled) in cases {
            assert_eq!(key.text(), spelled);
            assert_eq!(key.to_redis_args(), vec![spelled.as_bytes().to_vec()]);
        }
        assert_eq!(keys.participant(12_345), "{safety-month:3}:p:12345");
        assert_eq!(keys.answers(12_345, 17), "{safety-month:3}:p:12345:a:17");
    }

    #[test]
    fn a_key_spelled_by_hand_is_its_text_at_every_length() {
        // The largest numbers, and campaign ids from empty to past the stack buffer, where
        // the argument is written through `Display` instead.
        for length in [0, 1, 40, KEY_BUF - 40, KEY_BUF - 10, KEY_BUF, 3 * KEY_BUF] {
            let campaign = "c".repeat(length);
            for shard in [Shard(0), Shard(7), Shard(u16::MAX)] {
                let keys = ShardKeys::new(&campaign, shard);
                for key in [
                    keys.participant_key(0),
                    keys.participant_key(u64::MAX),
                    keys.answers_key(u64::MAX, u32::MAX),
                    keys.answers_key(1, 0),
                    keys.deadlines_key(),
                    keys.stream_key(),
                ] {
                    assert_eq!(key.to_redis_args(), vec![key.text().into_bytes()]);
                }
            }
        }
    }
}

//! The Lua scripts of `lua/`, compiled into the binary, and how they are called.
//!
//! Each attempt script is the shared prelude (`attempt_prelude.lua`: argument layout and finalize)
//! followed by its own body, so every state change of an attempt is one script, one round trip,
//! atomic (docs/design.md §2.3). The body is wrapped as a Lua function of its own `KEYS` and
//! `ARGV`, so the same text runs in two scripts: alone (`attempt_one.lua` after it: `start`,
//! `save`, `submit`, `read` of [`AttemptScripts`]) and as one operation of a group commit
//! (`batch`: the prelude, every body and `attempt_batch.lua`, which runs N operations in order in
//! one call; see `batch.rs`). Either way each operation is atomic and runs exactly as alone.
//! The attempt scripts come in two sets, which differ only in how finalize writes the attempt
//! entry (`redis.packed_entries`, [`attempt_scripts`]).
//!
//! A call is sent as `EVALSHA`; when the node does not know the script (`NOSCRIPT`: a fresh or
//! restarted server, or a replica just promoted by a failover, whose script cache is its own),
//! the same call is sent once more as `EVAL` with the script's text. `EVAL` is routed like
//! `EVALSHA`, by the call's first key, so it reaches the node that owns the keys and leaves the
//! script in that node's cache. (`SCRIPT LOAD` names no key: on a cluster it goes to every node
//! and fails while one of them is down, which is exactly during a failover.)

use std::fmt;
use std::io::{self, Write};
use std::sync::LazyLock;

use redis::aio::ConnectionLike;
use redis::{Cmd, FromRedisValue, RedisError, RedisResult, RedisWrite, ToRedisArgs};

const PRELUDE: &str = include_str!("../lua/attempt_prelude.lua");

/// The bodies of the attempt operations, by the kind the batch script names them with.
const ATTEMPT_BODIES: [(&str, &str); 4] = [
    ("start", include_str!("../lua/start.lua")),
    ("save", include_str!("../lua/save.lua")),
    ("submit", include_str!("../lua/submit.lua")),
    ("read", include_str!("../lua/read.lua")),
];

/// A Lua script and its SHA-1, as Redis names it.
pub(crate) struct Lua {
    code: String,
    hash: String,
    /// For an attempt operation's script, its kind in a batch (`attempt_batch.lua`).
    kind: Option<&'static str>,
}

impl Lua {
    fn new(code: String) -> Lua {
        let hash = redis::Script::new(&code).get_hash().to_owned();
        Lua {
            code,
            hash,
            kind: None,
        }
    }

    /// The script of one attempt operation alone: the prelude, the body wrapped as a function
    /// of its own KEYS and ARGV, and `attempt_one.lua`, which runs it and flushes.
    fn attempt(kind: &'static str, packed: bool) -> Lua {
        let (_, body) = ATTEMPT_BODIES
            .iter()
            .find(|(name, _)| *name == kind)
            .expect("an attempt operation of ATTEMPT_BODIES");
        let mut lua = Lua::new(format!(
            "{}\n{}\n{}",
            prelude(packed),
            wrapped("body", body),
            include_str!("../lua/attempt_one.lua")
        ));
        lua.kind = Some(kind);
        lua
    }

    /// The kind of attempt operation this script runs, if it runs one.
    pub(crate) fn kind(&self) -> Option<&'static str> {
        self.kind
    }

    /// A call of this script, to be given its keys and arguments.
    pub(crate) fn call(&self) -> Call<'_> {
        Call {
            lua: self,
            keys: Encoded::default(),
            args: Encoded::default(),
        }
    }
}

/// A body as a local function of its own KEYS and ARGV, which shadow the script's, so the body
/// text runs unchanged alone or as one operation of a batch.
fn wrapped(name: &str, body: &str) -> String {
    format!("local function {name}(KEYS, ARGV)\n{body}\nend\n")
}

/// The attempt scripts of one entry format.
pub(crate) struct AttemptScripts {
    /// Starts or resumes today's attempt.
    pub(crate) start: Lua,
    /// Saves one answer.
    pub(crate) save: Lua,
    /// Saves the answers sent with a submit and finalizes.
    pub(crate) submit: Lua,
    /// Reads an attempt, finalizing it when its time has run out.
    pub(crate) read: Lua,
    /// Runs many attempt operations, of any kind, in one call (`attempt_batch.lua`,
    /// `batch.rs`).
    pub(crate) batch: Lua,
}

impl AttemptScripts {
    fn new(packed: bool) -> AttemptScripts {
        let mut batch = format!("{}\n", prelude(packed));
        for (kind, body) in ATTEMPT_BODIES {
            batch.push_str(&wrapped(&format!("body_{kind}"), body));
        }
        batch.push_str(include_str!("../lua/attempt_batch.lua"));
        AttemptScripts {
            start: Lua::attempt("start", packed),
            save: Lua::attempt("save", packed),
            submit: Lua::attempt("submit", packed),
            read: Lua::attempt("read", packed),
            batch: Lua::new(batch),
        }
    }
}

/// The attempt scripts whose finalize writes the attempt entry packed into one field
/// (`packed`), or as the named fields of the releases before the packing (for a rolling
/// upgrade while such a release still reads the streams; `RedisSettings::packed_entries`).
pub(crate) fn attempt_scripts(packed: bool) -> &'static AttemptScripts {
    static PACKED: LazyLock<AttemptScripts> = LazyLock::new(|| AttemptScripts::new(true));
    static NAMED: LazyLock<AttemptScripts> = LazyLock::new(|| AttemptScripts::new(false));
    if packed { &PACKED } else { &NAMED }
}

/// The prelude with its entry format set (`PACKED_ENTRIES`, read by finalize).
fn prelude(packed: bool) -> String {
    format!("local PACKED_ENTRIES = {packed}\n{PRELUDE}")
}

/// Finds or creates a participant.
pub(crate) static REGISTER: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/register.lua").to_owned()));

/// Erases one participant's name and phone (issue 20; `privacy`).
pub(crate) static ERASE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/erase.lua").to_owned()));

/// Excludes a participant's results from the boards and unit totals, or undoes it (issue 21;
/// `exclusions`).
pub(crate) static EXCLUSION: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/exclusion.lua").to_owned()));

/// Removes flushed attempts' fields from their participants' hashes (`archive`).
pub(crate) static FORGET: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/forget.lua").to_owned()));

/// Counts the members of a board before a score and member.
pub(crate) static RANK: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/rank.lua").to_owned()));

/// One call of a script: its keys and arguments, encoded.
pub(crate) struct Call<'s> {
    lua: &'s Lua,
    keys: Encoded,
    args: Encoded,
}

impl<'s> Call<'s> {
    /// The script called.
    pub(crate) fn lua(&self) -> &'s Lua {
        self.lua
    }

    /// How many keys the call has.
    pub(crate) fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// How many arguments the call has.
    pub(crate) fn arg_count(&self) -> usize {
        self.args.len()
    }

    /// Moves another call's keys and arguments, already encoded, to the end of this one's (a
    /// batch takes its operations' this way; `other` is left without them).
    pub(crate) fn take_encoded(&mut self, other: &mut Call<'_>) -> &mut Self {
        self.keys.append(&mut other.keys);
        self.args.append(&mut other.args);
        self
    }

    /// Appends a key (`KEYS[n]`).
    pub(crate) fn key<T: ToRedisArgs>(&mut self, key: T) -> &mut Self {
        key.write_redis_args(&mut self.keys);
        self
    }

    /// Appends an argument (`ARGV[n]`).
    pub(crate) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        arg.write_redis_args(&mut self.args);
        self
    }

    /// The call as `EVALSHA` (by hash) or `EVAL` (with the script's text).
    pub(crate) fn command(&self, by_hash: bool) -> Cmd {
        let mut command = Cmd::new();
        let script = if by_hash {
            &self.lua.hash
        } else {
            &self.lua.code
        };
        // One reservation for the whole command: the name, the script, the key count, then
        // every key and argument copied once from the call's two buffers.
        command.reserve_space_for_args(
            [7, script.len(), 20]
                .into_iter()
                .chain(self.keys.values().map(<[u8]>::len))
                .chain(self.args.values().map(<[u8]>::len)),
        );
        command
            .arg(if by_hash { "EVALSHA" } else { "EVAL" })
            .arg(script.as_str())
            .arg(self.keys.len());
        for value in self.keys.values().chain(self.args.values()) {
            command.arg(value);
        }
        command
    }

    /// Runs the call: by hash, and with the script's text when the node does not know it.
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        connection: &mut impl ConnectionLike,
    ) -> RedisResult<T> {
        match self.command(true).query_async(connection).await {
            Err(error) if is_no_script(&error) => self.command(false).query_async(connection).await,
            other => other,
        }
    }
}

/// A value written into a call (or any command) as the text it displays, with no `String` of
/// its own.
pub(crate) struct Formatted<T>(pub T);

impl<T: fmt::Display> ToRedisArgs for Formatted<T> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        out.write_arg_fmt(&self.0);
    }
}

/// Encoded values (a call's keys, or its arguments) back to back in one buffer, with where
/// each ends: what a `Vec<Vec<u8>>` would hold, without an allocation per value. Every
/// attempt request builds one call, so this is on the hot path (docs/performance.md,
/// "Allocations per request").
#[derive(Default)]
struct Encoded {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Encoded {
    /// How many values it holds.
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The values, in order.
    fn values(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let value = &self.bytes[start..end];
            start = end;
            value
        })
    }

    /// Moves `other`'s values to the end of these (`other` is left empty).
    fn append(&mut self, other: &mut Encoded) {
        let base = self.bytes.len();
        self.bytes.append(&mut other.bytes);
        self.ends.extend(other.ends.drain(..).map(|end| base + end));
    }
}

impl RedisWrite for Encoded {
    fn write_arg(&mut self, arg: &[u8]) {
        self.bytes.extend_from_slice(arg);
        self.ends.push(self.bytes.len());
    }

    fn write_arg_fmt(&mut self, arg: impl fmt::Display) {
        // Writing to a Vec cannot fail.
        let _ = write!(self.bytes, "{arg}");
        self.ends.push(self.bytes.len());
    }

    fn writer_for_next_arg(&mut self) -> impl io::Write + '_ {
        NextValue(self)
    }
}

/// The writer of one value of an [`Encoded`]: what is written is the value, which ends when
/// the writer is dropped.
struct NextValue<'a>(&'a mut Encoded);

impl io::Write for NextValue<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for NextValue<'_> {
    fn drop(&mut self) {
        self.0.ends.push(self.0.bytes.len());
    }
}

/// Whether Redis answered that it does not know a script (for a pipeline: its first error).
pub(crate) fn is_no_script(error: &RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// Takes or extends a shard's lease (the board writer's or the flusher's) and returns where
/// its holder reads from.
pub(crate) static LEASE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/lease.lua").to_owned()));

/// Adds the unit totals of the entries a board writer read, exactly once.
pub(crate) static BOARD_APPLY: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/board_apply.lua").to_owned()));

/// Moves a shard's cursor (the board writer's or the flusher's) past the entries its lease's
/// holder has done with.
pub(crate) static LEASE_MOVE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/lease_move.lua").to_owned()));

/// Gives back a shard's lease its holder no longer wants.
pub(crate) static LEASE_GIVE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/lease_give.lua").to_owned()));

/// Says that a flusher runs (or stops) and counts the flushers running.
pub(crate) static FLUSHERS: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/flushers.lua").to_owned()));

/// Starts or resumes a practice attempt (`practice`): its own hash, never an attempt's keys.
pub(crate) static PRACTICE_START: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/practice_start.lua").to_owned()));

/// Scores a practice attempt into the day's history and deletes it (`practice`).
pub(crate) static PRACTICE_SUBMIT: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/practice_submit.lua").to_owned()));

#[cfg(test)]
mod tests {
    use super::*;

    /// The command the call used to build from a `Vec<Vec<u8>>` per side, as plain redis-rs
    /// spells it: what the encoded call must send, byte for byte.
    fn spelled(name: &str, script: &str, keys: &[&[u8]], args: &[&[u8]]) -> Vec<u8> {
        let mut command = redis::cmd(name);
        command.arg(script).arg(keys.len());
        for value in keys.iter().chain(args) {
            command.arg(*value);
        }
        command.get_packed_command()
    }

    #[test]
    fn a_call_sends_its_keys_and_arguments_in_order_by_hash_or_with_the_text() {
        let lua = Lua::new("return ARGV".to_owned());
        let mut call = lua.call();
        call.key("{c:1}:p:7")
            .key(crate::keys::ShardKeys::new("c", crate::keys::Shard(1)).stream_key())
            .arg(1_781_000_000_000_i64)
            .arg(&["110000", "110101"][..])
            .arg(Formatted(format_args!("{}-{}", 7, 2)))
            .arg("");
        assert_eq!(call.key_count(), 2);
        assert_eq!(call.arg_count(), 5, "a slice is one argument per element");
        let keys: [&[u8]; 2] = [b"{c:1}:p:7", b"{c:1}:stream"];
        let args: [&[u8]; 5] = [b"1781000000000", b"110000", b"110101", b"7-2", b""];
        assert_eq!(
            call.command(true).get_packed_command(),
            spelled("EVALSHA", &lua.hash, &keys, &args)
        );
        assert_eq!(
            call.command(false).get_packed_command(),
            spelled("EVAL", &lua.code, &keys, &args)
        );
    }

    #[test]
    fn a_batch_takes_its_operations_values_after_its_own() {
        let lua = Lua::new("return 1".to_owned());
        let mut batch = lua.call();
        batch.arg(2_usize);
        let mut first = lua.call();
        first.key("k1").key("k2").arg("a").arg("bb");
        let mut second = lua.call();
        second.key("k3").arg("").arg("ccc");
        batch.take_encoded(&mut first).take_encoded(&mut second);
        assert_eq!((first.key_count(), first.arg_count()), (0, 0));
        assert_eq!((second.key_count(), second.arg_count()), (0, 0));
        assert_eq!(
            batch.keys.values().collect::<Vec<_>>(),
            [&b"k1"[..], b"k2", b"k3"]
        );
        assert_eq!(
            batch.args.values().collect::<Vec<_>>(),
            [&b"2"[..], b"a", b"bb", b"", b"ccc"]
        );
    }
}

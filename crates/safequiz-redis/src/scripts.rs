//! The Lua scripts of `lua/`, compiled into the binary, and how they are called.
//!
//! Each attempt script is the shared prelude (`attempt_prelude.lua`: argument layout and finalize)
//! followed by its own body, so every state change of an attempt is one script, one round trip,
//! atomic (docs/design.md §2.3). The body is wrapped as a Lua function of its own `KEYS` and
//! `ARGV`, so the same text runs in two scripts: alone (`attempt_one.lua` after it: START, SAVE,
//! SUBMIT, READ) and as one operation of a group commit ([`BATCH`]: the prelude, every body and
//! `attempt_batch.lua`, which runs N operations in order in one call; see `batch.rs`). Either
//! way each operation is atomic and runs exactly as alone.
//!
//! A call is sent as `EVALSHA`; when the node does not know the script (`NOSCRIPT`: a fresh or
//! restarted server, or a replica just promoted by a failover, whose script cache is its own),
//! the same call is sent once more as `EVAL` with the script's text. `EVAL` is routed like
//! `EVALSHA`, by the call's first key, so it reaches the node that owns the keys and leaves the
//! script in that node's cache. (`SCRIPT LOAD` names no key: on a cluster it goes to every node
//! and fails while one of them is down, which is exactly during a failover.)

use std::sync::LazyLock;

use redis::aio::ConnectionLike;
use redis::{Cmd, FromRedisValue, RedisError, RedisResult, ToRedisArgs};

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
    fn attempt(kind: &'static str) -> Lua {
        let (_, body) = ATTEMPT_BODIES
            .iter()
            .find(|(name, _)| *name == kind)
            .expect("an attempt operation of ATTEMPT_BODIES");
        let mut lua = Lua::new(format!(
            "{PRELUDE}\n{}\n{}",
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
            keys: Vec::new(),
            args: Vec::new(),
        }
    }
}

/// A body as a local function of its own KEYS and ARGV, which shadow the script's, so the body
/// text runs unchanged alone or as one operation of a batch.
fn wrapped(name: &str, body: &str) -> String {
    format!("local function {name}(KEYS, ARGV)\n{body}\nend\n")
}

/// Starts or resumes today's attempt.
pub(crate) static START: LazyLock<Lua> = LazyLock::new(|| Lua::attempt("start"));

/// Saves one answer.
pub(crate) static SAVE: LazyLock<Lua> = LazyLock::new(|| Lua::attempt("save"));

/// Saves the answers sent with a submit and finalizes.
pub(crate) static SUBMIT: LazyLock<Lua> = LazyLock::new(|| Lua::attempt("submit"));

/// Reads an attempt, finalizing it when its time has run out.
pub(crate) static READ: LazyLock<Lua> = LazyLock::new(|| Lua::attempt("read"));

/// Runs many attempt operations, of any kind, in one call (`attempt_batch.lua`, `batch.rs`).
pub(crate) static BATCH: LazyLock<Lua> = LazyLock::new(|| {
    let mut code = format!("{PRELUDE}\n");
    for (kind, body) in ATTEMPT_BODIES {
        code.push_str(&wrapped(&format!("body_{kind}"), body));
    }
    code.push_str(include_str!("../lua/attempt_batch.lua"));
    Lua::new(code)
});

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
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl<'s> Call<'s> {
    /// The script called.
    pub(crate) fn lua(&self) -> &'s Lua {
        self.lua
    }

    /// The keys, in order.
    pub(crate) fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }

    /// The arguments, in order.
    pub(crate) fn args(&self) -> &[Vec<u8>] {
        &self.args
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
        self.keys.extend(key.to_redis_args());
        self
    }

    /// Appends an argument (`ARGV[n]`).
    pub(crate) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    /// The call as `EVALSHA` (by hash) or `EVAL` (with the script's text).
    pub(crate) fn command(&self, by_hash: bool) -> Cmd {
        let mut command = if by_hash {
            let mut command = redis::cmd("EVALSHA");
            command.arg(&self.lua.hash);
            command
        } else {
            let mut command = redis::cmd("EVAL");
            command.arg(&self.lua.code);
            command
        };
        command.arg(self.keys.len()).arg(&self.keys).arg(&self.args);
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

/// Whether Redis answered that it does not know a script (for a pipeline: its first error).
pub(crate) fn is_no_script(error: &RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// The next stream entries of one shard for the board writer, if it holds the shard.
pub(crate) static BOARD_FEED: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/board_feed.lua").to_owned()));

/// Moves a shard's board cursor past the entries a writer applied.
pub(crate) static BOARD_COMMIT: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/board_commit.lua").to_owned()));

/// Starts or resumes a practice attempt (`practice`): its own hash, never an attempt's keys.
pub(crate) static PRACTICE_START: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/practice_start.lua").to_owned()));

/// Scores a practice attempt into the day's history and deletes it (`practice`).
pub(crate) static PRACTICE_SUBMIT: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/practice_submit.lua").to_owned()));

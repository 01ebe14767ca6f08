//! The Lua scripts of `lua/`, compiled into the binary, and how they are called.
//!
//! Each attempt script is the shared prelude (`attempt_prelude.lua`: argument layout and finalize)
//! followed by its own body, so every state change of an attempt is one script, one round trip,
//! atomic (docs/design.md §2.3).
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

/// A Lua script and its SHA-1, as Redis names it.
pub(crate) struct Lua {
    code: String,
    hash: String,
}

impl Lua {
    fn new(code: String) -> Lua {
        let hash = redis::Script::new(&code).get_hash().to_owned();
        Lua { code, hash }
    }

    fn attempt(body: &str) -> Lua {
        Lua::new(format!("{PRELUDE}\n{body}"))
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

/// Starts or resumes today's attempt.
pub(crate) static START: LazyLock<Lua> =
    LazyLock::new(|| Lua::attempt(include_str!("../lua/start.lua")));

/// Saves one answer.
pub(crate) static SAVE: LazyLock<Lua> =
    LazyLock::new(|| Lua::attempt(include_str!("../lua/save.lua")));

/// Saves the answers sent with a submit and finalizes.
pub(crate) static SUBMIT: LazyLock<Lua> =
    LazyLock::new(|| Lua::attempt(include_str!("../lua/submit.lua")));

/// Reads an attempt, finalizing it when its time has run out.
pub(crate) static READ: LazyLock<Lua> =
    LazyLock::new(|| Lua::attempt(include_str!("../lua/read.lua")));

/// Finds or creates a participant.
pub(crate) static REGISTER: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/register.lua").to_owned()));

/// Counts the members of a board before a score and member.
pub(crate) static RANK: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("../lua/rank.lua").to_owned()));

/// One call of a script: its keys and arguments, encoded.
pub(crate) struct Call<'s> {
    lua: &'s Lua,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Call<'_> {
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

//! The Lua scripts of `lua/`, compiled into the binary, and how they are called.
//!
//! Each attempt script is the shared prelude (`attempt_prelude.lua`: argument layout and finalize)
//! followed by its own body, so every state change of an attempt is one script, one round trip,
//! atomic (docs/design.md §2.3). redis-rs sends `EVALSHA` and loads a script on `NOSCRIPT`, so a
//! restarted or emptied Redis needs nothing from us.

use std::sync::LazyLock;

use redis::aio::ConnectionLike;
use redis::{FromRedisValue, Pipeline, Script};

const PRELUDE: &str = include_str!("../lua/attempt_prelude.lua");

fn attempt_script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// Starts or resumes today's attempt.
pub(crate) static START: LazyLock<Script> =
    LazyLock::new(|| attempt_script(include_str!("../lua/start.lua")));

/// Saves one answer.
pub(crate) static SAVE: LazyLock<Script> =
    LazyLock::new(|| attempt_script(include_str!("../lua/save.lua")));

/// Saves the answers sent with a submit and finalizes.
pub(crate) static SUBMIT: LazyLock<Script> =
    LazyLock::new(|| attempt_script(include_str!("../lua/submit.lua")));

/// Reads an attempt, finalizing it when its time has run out.
pub(crate) static READ: LazyLock<Script> =
    LazyLock::new(|| attempt_script(include_str!("../lua/read.lua")));

/// Finds or creates a participant.
pub(crate) static REGISTER: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../lua/register.lua")));

/// Counts the members of a board before a score and member.
pub(crate) static RANK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../lua/rank.lua")));

/// Runs a pipeline that calls `scripts` by hash; when Redis does not know one of them yet (a
/// fresh or restarted server), loads them all and runs the pipeline once more.
pub(crate) async fn query_pipeline<T: FromRedisValue>(
    connection: &mut impl ConnectionLike,
    pipeline: &Pipeline,
    scripts: &[&Script],
) -> redis::RedisResult<T> {
    match pipeline.query_async(connection).await {
        Err(error)
            if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
        {
            for script in scripts {
                script.load_async(connection).await?;
            }
            pipeline.query_async(connection).await
        }
        other => other,
    }
}

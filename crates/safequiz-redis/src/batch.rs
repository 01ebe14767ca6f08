//! Group commit of attempt operations: concurrent starts, saves, submits and reads of one
//! handle share one script call.
//!
//! Why: against one client, Redis spends most of an attempt's time around the data work rather
//! than in it (reading, parsing and answering each call, invoking the script, the prelude's
//! setup); running many operations in one call pays those once. Measured (docs/performance.md,
//! "Group commit"): 354 against 153 µs of Redis CPU per attempt with an otherwise idle Redis,
//! but no gain yet at the load kit's ceiling, where Redis already serves many requests per
//! wake-up (about 217 µs per attempt with batches, 201-211 µs without).
//!
//! How: a [`Batches`] belongs to one [`crate::HotState`] handle (each actix-web worker has its
//! own, see `HotState::with_own_connections`) and keeps one queue per *target*, the set of
//! operations that may share a script call: on one Redis any (one target); on a Redis Cluster
//! those of one shard, since a script's keys must share one hash slot and all keys of shard `s`
//! carry `{campaign:s}`. A driver task per target, spawned on the runtime of the first caller
//! (a worker's current-thread runtime, so no cross-thread wake-ups), takes what is queued:
//! - when no call of its target is in flight, an operation goes at once, alone, as the
//!   operation's own script (`attempt_one.lua`): no added latency at low load, and the same
//!   Redis work as without batching;
//! - operations that arrive while a call is in flight wait for it and then go together, in
//!   arrival order, as one `attempt_batch.lua` call of at most [`MAX_OPS`]; the batch grows
//!   with the load, so the saving does too.
//!
//! The batch script runs each operation's body as its own script would, in order, each under
//! `pcall`: one operation's error answers that operation only. A failed call (I/O, timeout, a
//! cluster between two topologies) fails each of its operations with the same error, so
//! [`crate::RedisError::is_unavailable`] answers as it would have for each alone.
//!
//! Caveat on a cluster: batches form only among concurrent operations of one handle for one
//! shard, so with many shards per primary each batch is smaller; fewer shards per primary make
//! bigger batches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redis::Value;
use tokio::sync::{mpsc, oneshot};

use crate::keys::Shard;
use crate::scripts::{Call, attempt_scripts};
use crate::{ConnectSettings, Connections, RedisError, open_connection};

/// The most operations one batch carries. A batch of 64 operations runs for about 1-3 ms in
/// Redis, which blocks other clients as long; larger ones would save little more per operation.
pub(crate) const MAX_OPS: usize = 64;

/// One queued operation and where its reply goes.
struct Op {
    call: Call<'static>,
    reply: oneshot::Sender<Result<Vec<String>, RedisError>>,
}

/// The queues of one handle, one per target, each drained by its driver task.
#[derive(Default)]
pub(crate) struct Batches {
    /// By campaign, then shard; on one Redis every operation is under ("", shard 0).
    queues: Mutex<HashMap<String, HashMap<Shard, mpsc::UnboundedSender<Op>>>>,
}

impl Batches {
    /// Runs `call`, an attempt operation's script call, in the next batch of its target, and
    /// returns its reply. `target` is the campaign and shard of the call's keys on a cluster,
    /// `None` on one Redis (where any keys may share a script call).
    pub(crate) async fn run(
        &self,
        call: Call<'static>,
        target: Option<(&str, Shard)>,
        settings: &Arc<ConnectSettings>,
        connections: &Arc<Connections>,
    ) -> Result<Vec<String>, RedisError> {
        let (campaign, shard) = target.unwrap_or(("", Shard(0)));
        let (reply, answer) = oneshot::channel();
        let mut op = Op { call, reply };
        // At most twice: a queue whose driver is gone (its runtime was shut down) is replaced
        // by one on the caller's runtime.
        for _ in 0..2 {
            let sender = {
                let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
                match queues.get(campaign).and_then(|shards| shards.get(&shard)) {
                    Some(sender) => sender.clone(),
                    None => {
                        let (sender, queue) = mpsc::unbounded_channel();
                        tokio::spawn(drive(queue, Arc::clone(settings), Arc::clone(connections)));
                        queues
                            .entry(campaign.to_owned())
                            .or_default()
                            .insert(shard, sender.clone());
                        sender
                    }
                }
            };
            match sender.send(op) {
                Ok(()) => return answer.await.unwrap_or_else(|_| Err(driver_gone())),
                Err(mpsc::error::SendError(back)) => {
                    op = back;
                    let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(shards) = queues.get_mut(campaign)
                        && shards
                            .get(&shard)
                            .is_some_and(|current| current.same_channel(&sender))
                    {
                        shards.remove(&shard);
                    }
                }
            }
        }
        Err(driver_gone())
    }
}

/// The error of an operation whose driver stopped before answering (its runtime shut down):
/// like a dropped connection, the operation may or may not have run.
fn driver_gone() -> RedisError {
    RedisError::Command(redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the batch driver stopped before Redis answered",
    )))
}

/// One target's driver: sends what is queued, one call in flight at a time, until every handle
/// to the queue is gone.
async fn drive(
    mut queue: mpsc::UnboundedReceiver<Op>,
    settings: Arc<ConnectSettings>,
    connections: Arc<Connections>,
) {
    let mut ops = Vec::with_capacity(MAX_OPS);
    while let Some(first) = queue.recv().await {
        ops.push(first);
        while ops.len() < MAX_OPS {
            match queue.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        send(&mut ops, &settings, &connections).await;
    }
}

/// Sends `ops` (drained) as one call and answers each.
async fn send(ops: &mut Vec<Op>, settings: &ConnectSettings, connections: &Connections) {
    let mut connection = match open_connection(settings, connections).await {
        Ok(connection) => connection,
        Err(error) => {
            for op in ops.drain(..) {
                let _ = op.reply.send(Err(error.clone()));
            }
            return;
        }
    };
    if ops.len() == 1 {
        let op = ops.pop().expect("one operation");
        let reply = match op.call.invoke::<Value>(&mut connection).await {
            Ok(reply) => one_reply(reply),
            Err(error) => Err(RedisError::from(error)),
        };
        let _ = op.reply.send(reply);
        return;
    }
    let mut call = attempt_scripts(settings.packed_entries).batch.call();
    call.arg(ops.len());
    for op in ops.iter_mut() {
        let lua = op.call.lua();
        debug_assert_eq!(op.call.key_count(), 3, "the prelude's three keys");
        call.arg(lua.kind().expect("only attempt operations are batched"))
            .arg(op.call.arg_count());
        call.take_encoded(&mut op.call);
    }
    match call.invoke::<Value>(&mut connection).await {
        Err(error) => {
            for op in ops.drain(..) {
                let _ = op.reply.send(Err(RedisError::Command(error.clone())));
            }
        }
        Ok(Value::Array(replies)) if replies.len() == ops.len() => {
            for (op, reply) in ops.drain(..).zip(replies) {
                let _ = op.reply.send(one_reply(reply));
            }
        }
        Ok(other) => {
            let error =
                RedisError::Reply(format!("unexpected reply of the batch script: {other:?}"));
            for op in ops.drain(..) {
                let _ = op.reply.send(Err(error.clone()));
            }
        }
    }
}

/// One operation's reply, alone or in a batch: its script's reply, or the error it raised.
///
/// A body's reply comes packed into one bulk string, its fields joined by the byte 0x1F
/// (`run` in `attempt_prelude.lua`): redis-rs parses one bulk string for about a tenth of what
/// an array of eight costs it. An error marker (`{"!error", message}`) still comes as an array.
fn one_reply(reply: Value) -> Result<Vec<String>, RedisError> {
    if let Value::BulkString(packed) = reply {
        return unpack(packed);
    }
    let reply: Vec<String> = redis::from_redis_value(reply).map_err(redis::RedisError::from)?;
    if reply.first().map(String::as_str) == Some("!error") {
        return Err(RedisError::Command(server_error(
            reply.get(1).map(String::as_str).unwrap_or("ERR"),
        )));
    }
    Ok(reply)
}

/// The fields of a packed reply (see [`one_reply`]).
fn unpack(packed: Vec<u8>) -> Result<Vec<String>, RedisError> {
    let text = String::from_utf8(packed).map_err(|error| {
        RedisError::Reply(format!("an attempt script's reply is not UTF-8: {error}"))
    })?;
    Ok(text.split(FIELD_SEPARATOR).map(str::to_owned).collect())
}

/// What separates the fields of a packed reply: the ASCII unit separator, which no field holds.
const FIELD_SEPARATOR: char = '\u{1f}';

/// The error Redis would have answered for `message` ("CODE detail"), had the operation run
/// alone: the same kind, so callers tell it apart as before.
fn server_error(message: &str) -> redis::RedisError {
    let line: String = message
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    match redis::parse_redis_value(format!("-{line}\r\n").as_bytes()) {
        Ok(value) => match value.extract_error() {
            Err(error) => error,
            Ok(_) => redis::RedisError::from((
                redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
                "script error",
                line,
            )),
        },
        Err(error) => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_reply_keeps_every_field_even_the_empty_ones() {
        let packed = Value::BulkString(b"final\x1f3\x1f\x1f\x1fs4t2\x1f".to_vec());
        assert_eq!(
            one_reply(packed).unwrap(),
            ["final", "3", "", "", "s4t2", ""]
        );
        let alone = Value::BulkString(b"saved".to_vec());
        assert_eq!(one_reply(alone).unwrap(), ["saved"]);
        let not_text = Value::BulkString(vec![0xff, 0x1f]);
        assert!(matches!(one_reply(not_text), Err(RedisError::Reply(_))));
    }

    #[test]
    fn an_error_marker_in_an_array_is_still_an_error() {
        let marker = Value::Array(vec![
            Value::BulkString(b"!error".to_vec()),
            Value::BulkString(b"WRONGTYPE Operation against a key".to_vec()),
        ]);
        let Err(RedisError::Command(error)) = one_reply(marker) else {
            panic!("an error marker must fail the operation");
        };
        assert_eq!(error.code(), Some("WRONGTYPE"));
    }

    #[test]
    fn an_error_marker_becomes_the_error_redis_would_have_answered() {
        let wrong = server_error("WRONGTYPE Operation against a key holding the wrong kind");
        assert_eq!(wrong.code(), Some("WRONGTYPE"));
        let generic = server_error("ERR user_script:3: attempt to index a nil value");
        assert_eq!(
            generic.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError)
        );
        let readonly = server_error("READONLY You can't write against a read only replica.");
        assert!(RedisError::Command(readonly).is_unavailable());
        assert!(!RedisError::Command(wrong).is_unavailable());
    }
}

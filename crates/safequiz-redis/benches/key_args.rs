//! What writing an attempt operation's three shard keys into a script call costs the service:
//! spelled by hand into a stack buffer (`ShardKey`'s `ToRedisArgs`, what every call does) or
//! through the formatting machinery (`Display`, what it did before; still its fallback).
//!
//! `cargo bench -p safequiz-redis --bench key_args` prints nanoseconds per operation (its three
//! keys: the participant's hash, the deadline index, the stream), the median of three rounds
//! of both, alternated. No Redis is needed (docs/performance.md, "Keys spelled by hand").

use std::hint::black_box;
use std::time::Instant;

use redis::{RedisWrite, ToRedisArgs};
use safequiz_redis::keys::{Shard, ShardKeys};

/// Operations per round.
const OPERATIONS: u32 = 1_000_000;

fn round(by_hand: bool) -> f64 {
    // Arguments written into one reused buffer, as the service's script calls are.
    let mut out = redis::Cmd::new();
    let started = Instant::now();
    for i in 0..OPERATIONS {
        let participant = 1_000_000 + u64::from(i) * 7;
        let keys = ShardKeys::new(black_box("safety-month"), Shard((participant % 4) as u16));
        out.clear();
        for key in [
            keys.participant_key(participant),
            keys.deadlines_key(),
            keys.stream_key(),
        ] {
            if by_hand {
                key.write_redis_args(&mut out);
            } else {
                out.write_arg_fmt(key);
            }
        }
        black_box(&out);
    }
    started.elapsed().as_nanos() as f64 / f64::from(OPERATIONS)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let (mut by_hand, mut displayed) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        displayed.push(round(false));
        by_hand.push(round(true));
    }
    println!(
        "three shard keys of an operation: {:.0} ns through Display, {:.0} ns spelled by hand",
        median(displayed),
        median(by_hand)
    );
}

//! What writing an attempt operation's three shard keys into a script call costs the service:
//! spelled by hand into a stack buffer (`ShardKey`'s `ToRedisArgs`, what every call does) or
//! through the formatting machinery (`Display`, what it did before; still its fallback).
//!
//! `cargo bench -p safequiz-redis --bench key_args` prints nanoseconds per operation (its three
//! keys: the participant's hash, the deadline index, the stream), the median of three rounds
//! of both, alternated. No Redis is needed (docs/performance.md, "Keys spelled by hand").

use std::fmt;
use std::hint::black_box;
use std::io::{self, Write as _};
use std::time::Instant;

use redis::{RedisWrite, ToRedisArgs};
use safequiz_redis::keys::{Shard, ShardKeys};

/// Operations per round.
const OPERATIONS: u32 = 1_000_000;

/// Arguments written into one reused buffer, as the service's script calls are.
#[derive(Default)]
struct Arguments {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl RedisWrite for Arguments {
    fn write_arg(&mut self, arg: &[u8]) {
        self.bytes.extend_from_slice(arg);
        self.ends.push(self.bytes.len());
    }

    fn write_arg_fmt(&mut self, arg: impl fmt::Display) {
        let _ = write!(self.bytes, "{arg}");
        self.ends.push(self.bytes.len());
    }

    fn writer_for_next_arg(&mut self) -> impl io::Write + '_ {
        NextArgument(self)
    }
}

/// One argument being written; it ends when dropped.
struct NextArgument<'a>(&'a mut Arguments);

impl io::Write for NextArgument<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for NextArgument<'_> {
    fn drop(&mut self) {
        self.0.ends.push(self.0.bytes.len());
    }
}

fn round(by_hand: bool) -> f64 {
    let mut out = Arguments::default();
    let started = Instant::now();
    for i in 0..OPERATIONS {
        let participant = 1_000_000 + u64::from(i) * 7;
        let keys = ShardKeys::new(black_box("safety-month"), Shard((participant % 4) as u16));
        out.bytes.clear();
        out.ends.clear();
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
        black_box(&out.bytes);
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

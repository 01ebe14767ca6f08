//! What redis-rs's reply parser costs the service and the flusher, per reply shape: an attempt
//! script's reply as an array of its eight fields (before) or packed into one bulk string
//! (`run` in `attempt_prelude.lua`), alone and in a batch of 32; and an `XRANGE` of 512 attempt
//! entries with seven named fields (before) or one packed field (`streams`, "Entry format").
//!
//! `cargo bench -p safequiz-redis --bench reply_parse` prints nanoseconds per operation or per
//! entry, the median of three rounds, each shape parsed from the same bytes Redis sends
//! (`redis::parse_redis_value`, the same parser the multiplexed connection runs). No Redis is
//! needed: this is the client's side alone (docs/performance.md, "Replies and entries packed").

use std::hint::black_box;
use std::time::Instant;

/// A finalized attempt's record, as the submit script answers it.
const RECORD: [&str; 8] = [
    "final",
    "1",
    "20613,1781000000000,1781000150000,1781000160000",
    "rd-050/3201,ap-009/0123,er-018/1230,ev-059/2310,rd-054/20431",
    "22000",
    "s4s4s4s4m5",
    "2144G",
    "4,4,1781000090000,90000,0",
];

/// An attempt entry's parts, as finalize writes them.
const ENTRY: [(&str, &str); 6] = [
    ("attempt", "1234567-1"),
    (
        "values",
        "110101,20613,1781000000000,1781000150000,1781000090000,90000,4,4,0,1,4,90000,\
         1781000090000,0,,",
    ),
    (
        "questions",
        "rd-050/3201,ap-009/0123,er-018/1230,ev-059/2310,rd-054/20431",
    ),
    ("key", "2144G"),
    ("answers", "22000"),
    ("path", "110000,110101"),
];

/// Operations in a batch call.
const BATCH: usize = 32;
/// Entries in one `XRANGE` (the board writer reads 512 at a time).
const ENTRIES: usize = 512;

fn main() {
    let record_array = |out: &mut Vec<u8>| {
        array(RECORD.len(), out);
        for field in RECORD {
            bulk(field, out);
        }
    };
    let record_packed = |out: &mut Vec<u8>| bulk(&RECORD.join("\u{1f}"), out);
    let shapes: [(&str, Vec<u8>, usize); 6] = [
        ("attempt reply, 8 fields", once(record_array), 1),
        ("attempt reply, packed", once(record_packed), 1),
        (
            "batch of 32 replies, 8 fields each",
            batch(record_array),
            BATCH,
        ),
        ("batch of 32 replies, packed", batch(record_packed), BATCH),
        ("XRANGE of 512, named fields", entries(false), ENTRIES),
        ("XRANGE of 512, packed", entries(true), ENTRIES),
    ];
    println!("redis-rs parse, ns per operation or entry (median of 3 rounds), bytes per unit");
    for (name, bytes, units) in &shapes {
        let rounds: usize = 20_000 / units;
        let mut per_unit: Vec<f64> = (0..3)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..rounds {
                    black_box(redis::parse_redis_value(black_box(bytes)).expect("a reply"));
                }
                started.elapsed().as_nanos() as f64 / (rounds * units) as f64
            })
            .collect();
        per_unit.sort_by(f64::total_cmp);
        println!(
            "{name:36} {:7.0} ns  {:5} B",
            per_unit[1],
            bytes.len() / units
        );
    }
}

/// One operation's reply, alone: what `write` writes.
fn once(write: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out);
    out
}

/// A batch call's reply: an array of [`BATCH`] operations' replies.
fn batch(write: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    array(BATCH, &mut out);
    for _ in 0..BATCH {
        write(&mut out);
    }
    out
}

/// An `XRANGE` reply of [`ENTRIES`] attempt entries, packed or with named fields.
fn entries(packed: bool) -> Vec<u8> {
    let mut out = Vec::new();
    array(ENTRIES, &mut out);
    for n in 0..ENTRIES {
        array(2, &mut out);
        bulk(&format!("1781000090000-{n}"), &mut out);
        if packed {
            array(2, &mut out);
            bulk("attempt", &mut out);
            let parts: Vec<&str> = ENTRY.iter().map(|(_, value)| *value).collect();
            bulk(&parts.join("\t"), &mut out);
        } else {
            array(2 * (ENTRY.len() + 1), &mut out);
            bulk("type", &mut out);
            bulk("attempt", &mut out);
            for (name, value) in ENTRY {
                bulk(name, &mut out);
                bulk(value, &mut out);
            }
        }
    }
    out
}

fn array(count: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{count}\r\n").as_bytes());
}

fn bulk(text: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("${}\r\n{text}\r\n", text.len()).as_bytes());
}

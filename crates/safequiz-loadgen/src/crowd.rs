//! `crowd`: the scripted-crowd figures of issue 21 at full size (docs/fair-play.md).
//!
//! The crowd (`crowd_plan`: 200 scripted accounts on one device, 300 people behind one factory
//! address, scattered people) is fed into a record as the service's fair-play worker writes it:
//! each request becomes the observation the handler would buffer (device, network /24, instant,
//! page token), written in passes of `--pass-secs` of crowd time, each pass followed by the
//! worker's signal computation over what it and the pass before touched. A day of a service
//! cannot be replayed in real time and its clock only moves in tests, so the HTTP capture itself
//! is covered by `crates/safequiz-server/tests/it/fair_play.rs` (the same plan, smaller, through
//! the real service on a manual clock); this measures the rules and their cost at size.
//!
//! Prints each group's flagged share against its target and the compute time, writes them as
//! JSON to `--out`, and exits 1 when a target is missed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use safequiz_sql::fair_play::{GroupSchedule, Kind, Observation, Touched};
use safequiz_sql::{DatabaseSettings, Store};
use secrecy::SecretString;

use crate::crowd_plan::{self, Group, Step};

/// Arguments of `crowd`.
#[derive(clap::Args)]
pub struct Args {
    /// The record to write into (a fresh one: `sqlite://...` or `postgres://...`); migrated.
    #[arg(long)]
    database_url: String,
    /// The campaign id written.
    #[arg(long, default_value = "crowd")]
    campaign: String,
    /// Scripted accounts on one device.
    #[arg(long, default_value_t = 200)]
    scripted: usize,
    /// Ordinary people behind one address.
    #[arg(long, default_value_t = 300)]
    factory: usize,
    /// Scattered ordinary people.
    #[arg(long, default_value_t = 2000)]
    scattered: usize,
    /// People of a unit told to answer at a 9:00 meeting, behind one address.
    #[arg(long, default_value_t = 300)]
    meeting: usize,
    /// Questions per attempt.
    #[arg(long, default_value_t = 5)]
    questions: usize,
    /// Crowd time per worker pass, in seconds.
    #[arg(long, default_value_t = 10)]
    pass_secs: i64,
    /// The plan's seed.
    #[arg(long, default_value_t = 21)]
    seed: u64,
    /// Where to write the figures as JSON.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The /24 of an IPv4 address, as the service keeps it.
fn network(address: &str) -> String {
    let mut parts = address.split('.');
    let (a, b, c) = (parts.next(), parts.next(), parts.next());
    format!(
        "{}.{}.{}.0/24",
        a.unwrap_or("0"),
        b.unwrap_or("0"),
        c.unwrap_or("0")
    )
}

/// Feeds the crowd, prints and writes the figures.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = Store::connect_lazy(&DatabaseSettings {
        url: SecretString::from(args.database_url.clone()),
        max_connections: 4,
    })?;
    store.migrate().await?;
    let people = crowd_plan::crowd(
        args.seed,
        crowd_plan::Sizes {
            scripted: args.scripted,
            factory: args.factory,
            scattered: args.scattered,
            meeting: args.meeting,
        },
        args.questions,
        3_800_000_000,
    );
    // A campaign day at midnight UTC+8: 2026-06-02T00:00:00+08:00.
    let midnight_ms: i64 = 1_780_329_600_000;
    let mut passes: BTreeMap<i64, Vec<Observation>> = BTreeMap::new();
    for (i, at, step) in crowd_plan::timeline(&people) {
        let person = &people[i];
        let kind = match step {
            Step::Register => Kind::Register,
            Step::Start => Kind::Start,
            Step::Save(_) => Kind::Save,
            Step::Submit => Kind::Submit,
        };
        let at_ms = midnight_ms + at;
        passes
            .entry(at / (args.pass_secs.max(1) * 1000))
            .or_default()
            .push(Observation {
                campaign_id: args.campaign.clone(),
                participant_id: i as i64 + 1,
                unit_id: "110101".to_owned(),
                kind: kind as i32,
                at_ms,
                attempt: i32::from(kind != Kind::Register),
                device: person.device.clone(),
                net: network(&person.address),
                page: i32::from(person.page),
            });
    }
    let started = Instant::now();
    let mut slowest = 0.0f64;
    let mut previous = Touched::default();
    let mut schedule = GroupSchedule::default();
    let mut rows = 0;
    for batch in passes.values() {
        let pass_started = Instant::now();
        store.insert_observations(batch).await?;
        rows += batch.len();
        let mut touched = Touched::default();
        for observation in batch {
            touched.add(observation);
        }
        let mut work = touched.clone();
        work.merge(std::mem::replace(&mut previous, touched));
        let now = batch.last().map_or(0, |o| o.at_ms);
        // As the service's worker spaces a busy group's computations (`GroupSchedule`).
        store
            .compute_scheduled(&args.campaign, &mut schedule, work, now, false)
            .await?;
        slowest = slowest.max(pass_started.elapsed().as_secs_f64());
    }
    // The groups still waiting for their turn, as the worker's last pass computes them.
    if let Some(last) = passes.values().last().and_then(|batch| batch.last()) {
        store
            .compute_scheduled(
                &args.campaign,
                &mut schedule,
                Touched::default(),
                last.at_ms,
                true,
            )
            .await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let flagged: BTreeSet<i64> = store
        .flags(&args.campaign)
        .await?
        .into_iter()
        .map(|flag| flag.participant_id)
        .collect();
    let mut reasons: BTreeMap<(Group, String), usize> = BTreeMap::new();
    for flag in store.flags(&args.campaign).await? {
        let group = people[(flag.participant_id - 1) as usize].group;
        *reasons.entry((group, flag.reason)).or_default() += 1;
    }
    let mut ok = true;
    let mut groups = serde_json::Map::new();
    for group in Group::ALL {
        let members: Vec<usize> = (0..people.len())
            .filter(|&i| people[i].group == group)
            .collect();
        let hit = members
            .iter()
            .filter(|&&i| flagged.contains(&(i as i64 + 1)))
            .count();
        let share = if members.is_empty() {
            0.0
        } else {
            hit as f64 / members.len() as f64
        };
        let meets = members.is_empty() || group.meets(share);
        ok &= meets;
        let by_reason: serde_json::Map<String, serde_json::Value> = reasons
            .iter()
            .filter(|((g, _), _)| *g == group)
            .map(|((_, reason), n)| (reason.clone(), (*n).into()))
            .collect();
        println!(
            "{:<10} {:>5} people  {:>5} flagged  {:>6.2}%  target {} {:.1}%  {}  {}",
            group.name(),
            members.len(),
            hit,
            share * 100.0,
            if group == Group::Scripted { ">=" } else { "<=" },
            group.target() * 100.0,
            if meets { "ok" } else { "MISSED" },
            serde_json::Value::Object(by_reason.clone())
        );
        groups.insert(
            group.name().to_owned(),
            serde_json::json!({ "people": members.len(), "flagged": hit, "share": share,
                                "target": group.target(), "meets": meets,
                                "reasons": by_reason }),
        );
    }
    println!(
        "{rows} observations in {} passes of {} s crowd time: {elapsed:.2} s written and computed, \
         slowest pass {:.1} ms",
        passes.len(),
        args.pass_secs,
        slowest * 1000.0
    );
    if let Some(out) = &args.out {
        std::fs::write(
            out,
            serde_json::to_string_pretty(&serde_json::json!({
                "groups": groups, "observations": rows, "passes": passes.len(),
                "pass_secs": args.pass_secs, "seconds": elapsed,
                "slowest_pass_ms": slowest * 1000.0,
            }))?,
        )?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

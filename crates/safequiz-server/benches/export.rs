//! Wall time and peak memory of the participant export, CSV and XLSX, from a record of 200,000
//! participants in an SQLite file.
//!
//! Run with `cargo bench -p safequiz-server --bench export`; options after `--`:
//! `--participants N` (200000). Every participant has one finished attempt and every third a
//! second one; they are spread over 100 counties of one province, and the export covers the
//! whole campaign, best first, as an organizer's download does.
//!
//! Each phase starts from the resident set measured after setup (`VmRSS`), with the kernel's
//! peak (`VmHWM`) reset through `/proc/self/clear_refs`, and reports the peak it reached and how
//! far above the baseline that is: the memory the export itself needed. The phases run what the
//! HTTP layer runs: `participant_rows` (SQL read by its own task, through a bounded channel),
//! then `csv_chunks` written to `/dev/null`, or `xlsx_file` (constant-memory XLSX on a blocking
//! thread into a temporary file) streamed by `file_chunks` to `/dev/null`. The allocator is the
//! binary's (mimalloc). Running it with a smaller `--participants` shows whether the peak grows
//! with the rows.
//!
//! This is a measurement, not a test: it checks only that every row arrived.

use std::io::Write;
use std::time::Instant;

use futures_util::StreamExt;
use jiff::tz::TimeZone;
use safequiz_domain::scope::Scope;
use safequiz_server::export::{self, PARTICIPANTS};
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow};
use safequiz_sql::reports::ParticipantFilter;
use safequiz_sql::units::UnitRecord;
use safequiz_sql::{DatabaseSettings, Store};
use secrecy::SecretString;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CAMPAIGN: &str = "bench";
const COUNTIES: usize = 100;
const INSERT_ROWS: usize = 10_000;
const FIRST_DAY: i32 = 20_605;

fn participants_option() -> usize {
    let mut participants = 200_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--participants" => {
                participants = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&value| value > 0)
                    .expect("--participants takes a positive number");
            }
            // `cargo bench` passes `--bench` to every benchmark binary.
            "--bench" => {}
            other => panic!("unknown argument `{other}`; see the file's documentation"),
        }
    }
    participants
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Resets the peak resident set to the current one (Linux 4.0 and later); returns whether the
/// kernel accepted.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn fill(store: &Store, participants: usize) {
    let units: Vec<UnitRecord> = std::iter::once(UnitRecord {
        unit_id: "130000".to_owned(),
        parent_id: None,
        name: "河北省".to_owned(),
        kind: "province".to_owned(),
        entry_id: "region".to_owned(),
        depth: 0,
    })
    .chain((0..COUNTIES).map(|county| UnitRecord {
        unit_id: format!("1301{county:02}"),
        parent_id: Some("130000".to_owned()),
        name: format!("第{county}县"),
        kind: "county".to_owned(),
        entry_id: "region".to_owned(),
        depth: 1,
    }))
    .collect();
    store.sync_units(CAMPAIGN, &units).await.expect("units");
    // Five questions, as the flusher writes them: the same text for every attempt.
    let questions = concat!(
        r#"[{"id":"ap-001","order":[1,0,2,3],"key":2,"chosen":2},"#,
        r#"{"id":"ap-002","order":[0,1],"key":1,"chosen":2},"#,
        r#"{"id":"ap-003","order":[3,2,1,0],"key":9,"chosen":9},"#,
        r#"{"id":"ap-004","order":[0,1,2,3],"key":1,"chosen":1},"#,
        r#"{"id":"ap-005","order":[2,0,1,3],"key":4,"chosen":4}]"#
    );
    let mut rows = Vec::with_capacity(INSERT_ROWS);
    for id in 1..=participants as i64 {
        let unit = format!("1301{:02}", id as usize % COUNTIES);
        rows.push(RecordRow::Participant(ParticipantRow {
            campaign_id: CAMPAIGN.to_owned(),
            participant_id: id,
            name: ["张伟", "王芳", "李娜", "刘洋", "欧阳晓明"][id as usize % 5].to_owned(),
            phone_masked: format!("13{}****{:04}", id % 10, id % 10_000),
            phone_hash: format!("{id:064x}"),
            unit_id: unit.clone(),
            registered_at_ms: 1_780_300_000_000 + id * 1_000,
            consent: None,
            phone_sealed: None,
        }));
        let attempts = if id % 3 == 0 { 2 } else { 1 };
        for n in 1..=attempts {
            let day = FIRST_DAY + (id % 5) as i32 + n;
            let started_at_ms = i64::from(day) * 86_400_000 + id % 80_000_000;
            let used = 20_000 + (id * 7_919) % 130_000;
            let correct = (id % 6) as i32;
            rows.push(RecordRow::Attempt(AttemptRow {
                campaign_id: CAMPAIGN.to_owned(),
                attempt_id: format!("{id}-{n}"),
                participant_id: id,
                unit_id: unit.clone(),
                day,
                started_at_ms,
                deadline_ms: started_at_ms + 150_000,
                finished_at_ms: started_at_ms + used,
                time_used_ms: used,
                points: correct.min(5),
                correct: correct.min(5),
                auto_submitted: used >= 150_000,
                full_marks: correct >= 5,
                questions: questions.to_owned(),
            }));
        }
        if rows.len() >= INSERT_ROWS {
            store.insert_batch(&rows).await.expect("insert");
            rows.clear();
        }
    }
    store.insert_batch(&rows).await.expect("insert");
}

fn rows(
    store: &Store,
) -> impl futures_util::Stream<Item = Result<export::Row, safequiz_sql::StoreError>> + use<> {
    export::participant_rows(
        store.clone(),
        CAMPAIGN.to_owned(),
        Scope::WholeCampaign,
        ParticipantFilter::default(),
        TimeZone::get("Asia/Shanghai").expect("the zone"),
    )
}

struct Phase {
    name: &'static str,
    rows: u64,
    bytes: u64,
    seconds: f64,
    baseline_kib: u64,
    peak_kib: u64,
}

impl Phase {
    fn print(&self) {
        println!(
            "{:<28} {:>8} rows {:>9.1} MiB {:>7.2} s {:>9.0} rows/s   peak RSS {:>6.1} MiB \
             (+{:.1} MiB over {:.1} MiB)",
            self.name,
            self.rows,
            self.bytes as f64 / 1_048_576.0,
            self.seconds,
            self.rows as f64 / self.seconds,
            mib(self.peak_kib),
            mib(self.peak_kib.saturating_sub(self.baseline_kib)),
            mib(self.baseline_kib),
        );
    }
}

/// Resets the peak, runs `work` (which returns rows and bytes), and measures it.
async fn phase<F>(name: &'static str, work: F) -> Phase
where
    F: Future<Output = (u64, u64)>,
{
    let reset = reset_peak();
    let baseline_kib = status_kib("VmRSS");
    let started = Instant::now();
    let (rows, bytes) = work.await;
    let seconds = started.elapsed().as_secs_f64();
    let peak_kib = if reset {
        status_kib("VmHWM")
    } else {
        // Without the reset the peak would include the setup: report the current size.
        status_kib("VmRSS")
    };
    Phase {
        name,
        rows,
        bytes,
        seconds,
        baseline_kib,
        peak_kib,
    }
}

async fn measure(participants: usize) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let store = Store::connect_lazy(&DatabaseSettings {
        url: SecretString::from(format!(
            "sqlite://{}",
            folder.path().join("export.sqlite").display()
        )),
        max_connections: 4,
    })
    .expect("a store");
    store.migrate().await.expect("migrations");
    let started = Instant::now();
    fill(&store, participants).await;
    println!(
        "export: {participants} participants inserted in {:.1} s (SQLite file {:.1} MiB); \
         resident after setup {:.1} MiB; peak reset by /proc/self/clear_refs: {}",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(folder.path().join("export.sqlite")).map_or(0, |m| m.len()) as f64
            / 1_048_576.0,
        mib(status_kib("VmRSS")),
        if reset_peak() {
            "yes"
        } else {
            "no (peaks include setup)"
        },
    );

    let sql_only = phase("participant rows (SQL only)", async {
        let mut count = 0;
        let mut rows = std::pin::pin!(rows(&store));
        while let Some(row) = rows.next().await {
            row.expect("a row");
            count += 1;
        }
        (count, 0)
    })
    .await;

    let csv = phase("CSV to /dev/null", async {
        let mut sink = std::fs::File::create("/dev/null").expect("/dev/null");
        let (mut bytes, mut lines) = (0, 0);
        let mut chunks = std::pin::pin!(export::csv_chunks(PARTICIPANTS, rows(&store)));
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.expect("a chunk");
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            bytes += chunk.len() as u64;
            sink.write_all(&chunk).expect("written");
        }
        (lines - 1, bytes)
    })
    .await;

    let xlsx = phase("XLSX to temp file, streamed", async {
        let (file, written) = export::xlsx_file(PARTICIPANTS, rows(&store))
            .await
            .expect("a workbook");
        let mut sink = std::fs::File::create("/dev/null").expect("/dev/null");
        let mut bytes = 0;
        let mut chunks = std::pin::pin!(export::file_chunks(file));
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.expect("a chunk");
            bytes += chunk.len() as u64;
            sink.write_all(&chunk).expect("written");
        }
        (written, bytes)
    })
    .await;

    for phase in [&sql_only, &csv, &xlsx] {
        phase.print();
    }
    assert_eq!(sql_only.rows, participants as u64, "every participant read");
    assert_eq!(
        csv.rows, participants as u64,
        "every participant in the CSV"
    );
    assert_eq!(
        xlsx.rows, participants as u64,
        "every participant in the XLSX"
    );
}

fn main() {
    let participants = participants_option();
    let runtime = tokio::runtime::Runtime::new().expect("an async runtime");
    runtime.block_on(measure(participants));
}

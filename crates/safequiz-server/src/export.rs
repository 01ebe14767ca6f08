//! Exports for organizers: tables of typed cells written as CSV for Excel and WPS, or as XLSX,
//! row by row, so that memory does not grow with the number of rows.
//!
//! A table is a [`Layout`] (sheet name, headers in simplified Chinese) and a stream of [`Row`]s.
//! [`csv_chunks`] turns the rows into byte chunks of about [`CHUNK_BYTES`] for a streaming HTTP
//! body; [`xlsx_file`] writes them with `rust_xlsxwriter` in constant-memory mode on a blocking
//! thread into an unnamed temporary file, which [`file_chunks`] then streams. [`participant_rows`]
//! and the `*_rows` functions map the SQL reports to rows, so that an export and a test read the
//! same cells.
//!
//! This module knows nothing of HTTP requests or organizers' scopes: the handler checks the
//! scope, then hands these functions what it may export.
//!
//! CSV rules, for Excel and WPS on Windows, which open a `.csv` by double click:
//! - UTF-8 with a byte-order mark (without it they read the file in the system's code page and
//!   Chinese comes out garbled), CRLF line ends, RFC 4180 quoting (a field with `,`, `"`, CR or
//!   LF is quoted, quotes doubled).
//! - Codes stay text: a [`Cell::Code`] that Excel could read as a number or a date (only digits
//!   and `. e E + -`), and a [`Cell::Text`] of 11 digits or more or with a leading zero, are
//!   written as the formula `="0123"`. Excel and WPS show exactly the digits, as text: no
//!   scientific notation for an 18-digit credit code, no digits lost past the 15th, no leading
//!   zero dropped. The alternative, a leading tab, also keeps the digits but leaves an invisible
//!   tab in the cell that breaks lookups and copies; the formula holds only a quoted literal, so
//!   it cannot compute anything.
//! - Formula injection is neutralized: a text or code cell starting with `=`, `+`, `-`, `@`, tab
//!   or CR (OWASP's list) gets a leading `'`, so a name such as `=HYPERLINK(...)` is shown as
//!   text instead of being evaluated. Numbers are written by us and never prefixed.
//!
//! XLSX needs none of this: strings are typed as strings and numbers as numbers.

use std::error::Error;
use std::io::{self, Seek, SeekFrom, Write};
use std::pin::Pin;

use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use rust_xlsxwriter::{ExcelDateTime, Format, IgnoreError, Workbook, XlsxError};
use safequiz_domain::scope::Scope;
use safequiz_sql::reports::{
    DayFigures, ParticipantFilter, ParticipantSummary, UnitFigure, UnitFigures,
};
use safequiz_sql::{Store, StoreError};
use tokio::io::AsyncReadExt;

/// The size a chunk of a streamed export reaches before it is sent.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Rows in flight between the database and a writer: enough to keep both busy, few enough that
/// memory does not depend on the export's size.
const ROWS_IN_FLIGHT: usize = 256;

/// Excel's last row is 1,048,576 and each sheet repeats the header, so a sheet holds this many
/// rows; more continue on another sheet.
const XLSX_ROWS_PER_SHEET: u32 = 1_048_575;

/// The widest column, in Excel's character units.
const MAX_COLUMN_WIDTH: usize = 50;

/// An error of the rows being exported, whatever produced them.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// One cell of an exported table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// Free text (a name); neutralized against formula injection in CSV.
    Text(String),
    /// A code that must stay text even when it looks like a number: a masked phone, a unit
    /// code, a credit code.
    Code(String),
    /// A whole number.
    Integer(i64),
    /// A number shown with this many decimal places (at most 6).
    Decimal(f64, u8),
    /// A ratio, shown as a percentage with two decimals (0.5 is 50.00%).
    Percent(f64),
    /// A local date and time, shown to the second.
    DateTime(DateTime),
    /// A calendar date.
    Date(Date),
}

impl Cell {
    /// The local time in `tz` of a Unix-ms instant, to the second; empty when out of range.
    pub fn local_time(ms: i64, tz: &TimeZone) -> Cell {
        Timestamp::from_millisecond(ms)
            .map(|at| Cell::DateTime(tz.to_datetime(at)))
            .unwrap_or(Cell::Empty)
    }

    /// The date of a calendar day number (days since 1970-01-01); empty when out of range.
    pub fn day(day: i32) -> Cell {
        jiff::Span::new()
            .try_days(i64::from(day))
            .and_then(|days| Date::constant(1970, 1, 1).checked_add(days))
            .map(Cell::Date)
            .unwrap_or(Cell::Empty)
    }
}

/// One row of cells, in the order of the layout's headers.
pub type Row = Vec<Cell>;

/// What a table looks like: its sheet's name and its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The XLSX sheet's name (at most 31 characters, none of `[]:*?/\`).
    pub sheet: &'static str,
    /// The header of each column, in simplified Chinese.
    pub headers: &'static [&'static str],
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The rows could not be read (the database failed).
    #[error("reading the rows failed: {0}")]
    Rows(BoxError),
    /// `rust_xlsxwriter` refused a cell or could not save.
    #[error("writing the spreadsheet failed: {0}")]
    Xlsx(#[from] XlsxError),
    /// The temporary file failed (disk full).
    #[error("the temporary file failed: {0}")]
    Io(#[from] io::Error),
    /// The blocking writer panicked or was cancelled.
    #[error("the spreadsheet writer stopped unexpectedly")]
    WriterStopped,
}

/// The participants of a scope with their totals.
pub const PARTICIPANTS: Layout = Layout {
    sheet: "参与者",
    headers: &[
        "参与者编号",
        "姓名",
        "手机号",
        "单位",
        "单位代码",
        "参与次数",
        "总分",
        "满分次数",
        "用时(秒)",
        "最近答题时间",
        "注册时间",
    ],
};

/// The children of a scope ranked, then the scope's total.
pub const UNIT_FIGURES: Layout = Layout {
    sheet: "单位统计",
    headers: &[
        "单位代码",
        "单位",
        "参与人数",
        "参与人次",
        "总分",
        "满分次数",
        "平均分",
        "应参与人数",
        "参与率",
    ],
};

/// One row per day of a range.
pub const DAILY_SERIES: Layout = Layout {
    sheet: "每日统计",
    headers: &["日期", "参与人数", "参与人次", "总分", "满分次数"],
};

/// A participant's row of [`PARTICIPANTS`], times in the campaign's zone `tz`.
pub fn participant_row(participant: ParticipantSummary, tz: &TimeZone) -> Row {
    vec![
        Cell::Integer(participant.participant_id),
        Cell::Text(participant.name),
        Cell::Code(participant.phone_masked),
        Cell::Text(participant.unit_name),
        Cell::Code(participant.unit_id),
        Cell::Integer(participant.attempts),
        Cell::Integer(participant.points),
        Cell::Integer(participant.full_marks),
        Cell::Decimal(participant.time_used_ms as f64 / 1000.0, 3),
        participant
            .last_finished_at_ms
            .map_or(Cell::Empty, |ms| Cell::local_time(ms, tz)),
        Cell::local_time(participant.registered_at_ms, tz),
    ]
}

/// The rows of [`UNIT_FIGURES`]: each child in the order given, then the scope's total, named
/// `合计` (with the scope's name when it has one).
pub fn unit_figure_rows(figures: &UnitFigures) -> Vec<Row> {
    let row = |figure: &UnitFigure, code: Cell, name: String| {
        vec![
            code,
            Cell::Text(name),
            Cell::Integer(figure.participants),
            Cell::Integer(figure.attempts),
            Cell::Integer(figure.points),
            Cell::Integer(figure.full_marks),
            figure
                .average_points()
                .map_or(Cell::Empty, |average| Cell::Decimal(average, 2)),
            figure.headcount.map_or(Cell::Empty, Cell::Integer),
            figure
                .participation_rate()
                .map_or(Cell::Empty, Cell::Percent),
        ]
    };
    let mut rows: Vec<Row> = figures
        .children
        .iter()
        .map(|child| row(child, Cell::Code(child.unit_id.clone()), child.name.clone()))
        .collect();
    let total = &figures.total;
    let (code, name) = if total.name.is_empty() {
        (Cell::Empty, "合计".to_owned())
    } else {
        (
            Cell::Code(total.unit_id.clone()),
            format!("合计（{}）", total.name),
        )
    };
    rows.push(row(total, code, name));
    rows
}

/// The rows of [`DAILY_SERIES`].
pub fn daily_rows(series: &[DayFigures]) -> Vec<Row> {
    series
        .iter()
        .map(|day| {
            vec![
                Cell::day(day.day),
                Cell::Integer(day.participants),
                Cell::Integer(day.attempts),
                Cell::Integer(day.points),
                Cell::Integer(day.full_marks),
            ]
        })
        .collect()
}

/// The rows of [`PARTICIPANTS`] for a scope and filter, read from SQL by a task of their own.
///
/// The task sends rows through a bounded channel: when the consumer (an HTTP body, a
/// spreadsheet writer) is slower, sending waits and the database is read no faster; when the
/// consumer is dropped (a cancelled download), sending fails, the task ends and its connection
/// goes back to the pool. The stream is `'static`, as a streaming HTTP body needs.
pub fn participant_rows(
    store: Store,
    campaign_id: String,
    scope: Scope,
    filter: ParticipantFilter,
    tz: TimeZone,
) -> impl Stream<Item = Result<Row, StoreError>> + Send + 'static {
    let (sender, receiver) = tokio::sync::mpsc::channel(ROWS_IN_FLIGHT);
    tokio::spawn(async move {
        let mut participants = store.participant_stream(&campaign_id, &scope, &filter);
        while let Some(participant) = participants.next().await {
            let failed = participant.is_err();
            let row = participant.map(|p| participant_row(p, &tz));
            if sender.send(row).await.is_err() || failed {
                break;
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|row| (row, receiver))
    })
}

/// The CSV of a table as byte chunks of about [`CHUNK_BYTES`], for a streaming HTTP body: the
/// byte-order mark and the header first, then the rows as they come. Only the chunk being filled
/// is held.
///
/// An error of the rows ends the stream with that error (after nothing more), so a streamed
/// response is cut off rather than ending as a complete-looking but truncated file.
pub fn csv_chunks<S, E>(layout: Layout, rows: S) -> impl Stream<Item = Result<Bytes, E>>
where
    S: Stream<Item = Result<Row, E>>,
{
    struct State<S> {
        rows: Pin<Box<S>>,
        buffer: Vec<u8>,
        done: bool,
    }
    let mut buffer = Vec::with_capacity(CHUNK_BYTES + 4096);
    buffer.extend_from_slice(b"\xEF\xBB\xBF");
    write_csv_header(&mut buffer, layout);
    let state = State {
        rows: Box::pin(rows),
        buffer,
        done: false,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        loop {
            match state.rows.next().await {
                Some(Ok(row)) => {
                    write_csv_row(&mut state.buffer, &row);
                    if state.buffer.len() >= CHUNK_BYTES {
                        let full = std::mem::replace(
                            &mut state.buffer,
                            Vec::with_capacity(CHUNK_BYTES + 4096),
                        );
                        return Some((Ok(Bytes::from(full)), state));
                    }
                }
                Some(Err(error)) => {
                    state.done = true;
                    return Some((Err(error), state));
                }
                None => {
                    state.done = true;
                    if state.buffer.is_empty() {
                        return None;
                    }
                    let last = std::mem::take(&mut state.buffer);
                    return Some((Ok(Bytes::from(last)), state));
                }
            }
        }
    })
}

/// Appends the header line of `layout`.
pub fn write_csv_header(out: &mut Vec<u8>, layout: Layout) {
    for (index, header) in layout.headers.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_csv_text(out, header, false);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one row as a CSV line (see the module's rules).
pub fn write_csv_row(out: &mut Vec<u8>, row: &[Cell]) {
    for (index, cell) in row.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        match cell {
            Cell::Empty => {}
            Cell::Text(text) => write_csv_text(out, text, false),
            Cell::Code(code) => write_csv_text(out, code, true),
            Cell::Integer(number) => put(out, format_args!("{number}")),
            Cell::Decimal(number, places) if number.is_finite() => {
                put(
                    out,
                    format_args!("{:.*}", usize::from((*places).min(6)), number),
                );
            }
            Cell::Percent(ratio) if ratio.is_finite() => {
                put(out, format_args!("{:.2}%", ratio * 100.0));
            }
            Cell::Decimal(..) | Cell::Percent(_) => {}
            Cell::DateTime(at) => put(
                out,
                format_args!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    at.year(),
                    at.month(),
                    at.day(),
                    at.hour(),
                    at.minute(),
                    at.second()
                ),
            ),
            Cell::Date(date) => put(
                out,
                format_args!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
            ),
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn put(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    // Writing to a Vec cannot fail.
    let _ = out.write_fmt(args);
}

/// Whether Excel would turn `text` into a number or a date when opening a CSV, losing what the
/// cell says: for codes, anything made of digits and `. e E + -` with at least one digit; for
/// free text, digit strings of 11 or more digits (a phone, a credit code: shown in scientific
/// notation, and wrong past the 15th digit) or with a leading zero (dropped).
fn excel_would_convert(text: &str, code: bool) -> bool {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if code {
        digits > 0
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    } else {
        digits == text.len() && (digits >= 11 || (digits > 1 && text.starts_with('0')))
    }
}

fn write_csv_text(out: &mut Vec<u8>, text: &str, code: bool) {
    if excel_would_convert(text, code) {
        // `="0123"`, quoted for CSV: `"=""0123"""`. The text has no quote to escape.
        out.extend_from_slice(b"\"=\"\"");
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\"\"\"");
        return;
    }
    let neutralize = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = text.contains([',', '"', '\r', '\n']);
    if quote {
        out.push(b'"');
    }
    if neutralize {
        out.push(b'\'');
    }
    for byte in text.bytes() {
        if byte == b'"' {
            out.push(b'"');
        }
        out.push(byte);
    }
    if quote {
        out.push(b'"');
    }
}

/// The width of `text` in Excel's character units: a CJK or full-width character takes two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| if c >= '\u{2E80}' { 2 } else { 1 })
        .sum()
}

fn cell_width(cell: &Cell) -> usize {
    match cell {
        Cell::Empty => 0,
        Cell::Text(text) | Cell::Code(text) => display_width(text),
        Cell::Integer(number) => {
            let mut width = usize::from(*number < 0) + 1;
            let mut rest = number.unsigned_abs() / 10;
            while rest > 0 {
                width += 1;
                rest /= 10;
            }
            width
        }
        Cell::Decimal(number, places) => {
            cell_width(&Cell::Integer(*number as i64)) + 1 + usize::from(*places)
        }
        Cell::Percent(_) => 8,
        Cell::DateTime(_) => 19,
        Cell::Date(_) => 10,
    }
}

/// The number formats of a workbook, made once.
struct Formats {
    header: Format,
    decimals: Vec<Format>,
    percent: Format,
    datetime: Format,
    date: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            header: Format::new().set_bold(),
            decimals: (0..=6)
                .map(|places| {
                    let pattern = if places == 0 {
                        "0".to_owned()
                    } else {
                        format!("0.{}", "0".repeat(places))
                    };
                    Format::new().set_num_format(pattern)
                })
                .collect(),
            percent: Format::new().set_num_format("0.00%"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
        }
    }
}

/// Adds a sheet in constant-memory mode (rows go to a temporary file as soon as the next row
/// starts) with the bold header frozen at the top.
fn add_sheet(
    workbook: &mut Workbook,
    layout: Layout,
    number: usize,
    formats: &Formats,
) -> Result<(), XlsxError> {
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    if number == 0 {
        sheet.set_name(layout.sheet)?;
    } else {
        sheet.set_name(format!("{}{}", layout.sheet, number + 1))?;
    }
    for (column, header) in layout.headers.iter().enumerate() {
        sheet.write_string_with_format(0, column as u16, *header, &formats.header)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Writes a table as an XLSX workbook to `out`, row by row: memory stays bounded whatever the
/// number of rows (one row and the column widths). Returns the number of rows written.
///
/// Blocking: call it on a blocking thread ([`xlsx_file`] does). Codes and text are strings,
/// numbers are numbers, dates and times are Excel dates with a format; columns are as wide as
/// their widest cell (a Chinese character counts two), within limits; past Excel's last row the
/// table continues on another sheet with the same header. The first error of `rows` stops the
/// writing and is returned.
pub fn write_xlsx<I, E, W>(layout: Layout, rows: I, out: W) -> Result<u64, ExportError>
where
    I: IntoIterator<Item = Result<Row, E>>,
    E: Into<BoxError>,
    W: Write + Send,
{
    write_sheets(layout, rows, out, XLSX_ROWS_PER_SHEET)
}

/// [`write_xlsx`] with `rows_per_sheet` rows below each sheet's header.
fn write_sheets<I, E, W>(
    layout: Layout,
    rows: I,
    out: W,
    rows_per_sheet: u32,
) -> Result<u64, ExportError>
where
    I: IntoIterator<Item = Result<Row, E>>,
    E: Into<BoxError>,
    W: Write + Send,
{
    let formats = Formats::new();
    let mut workbook = Workbook::new();
    let mut widths: Vec<usize> = layout.headers.iter().map(|h| display_width(h)).collect();
    let mut sheets = 1;
    add_sheet(&mut workbook, layout, 0, &formats)?;
    let mut row_number: u32 = 0;
    let mut written: u64 = 0;
    for row in rows {
        let row = row.map_err(|error| ExportError::Rows(error.into()))?;
        if row_number == rows_per_sheet {
            add_sheet(&mut workbook, layout, sheets, &formats)?;
            sheets += 1;
            row_number = 0;
        }
        row_number += 1;
        let sheet = workbook.worksheet_from_index(sheets - 1)?;
        for (column, cell) in row.iter().enumerate() {
            let col = column as u16;
            match cell {
                Cell::Empty => {}
                Cell::Text(text) | Cell::Code(text) => {
                    sheet.write_string(row_number, col, text.as_str())?;
                }
                Cell::Integer(number) => {
                    sheet.write_number(row_number, col, *number as f64)?;
                }
                Cell::Decimal(number, places) => {
                    let format = &formats.decimals[usize::from((*places).min(6))];
                    sheet.write_number_with_format(row_number, col, *number, format)?;
                }
                Cell::Percent(ratio) => {
                    sheet.write_number_with_format(row_number, col, *ratio, &formats.percent)?;
                }
                Cell::DateTime(at) => {
                    let excel = excel_date(at.date())?.and_hms(
                        at.hour() as u16,
                        at.minute() as u8,
                        at.second() as u8,
                    )?;
                    sheet.write_datetime_with_format(row_number, col, &excel, &formats.datetime)?;
                }
                Cell::Date(date) => {
                    let excel = excel_date(*date)?;
                    sheet.write_datetime_with_format(row_number, col, &excel, &formats.date)?;
                }
            }
            if let Some(width) = widths.get_mut(column) {
                *width = (*width).max(cell_width(cell));
            }
        }
        written += 1;
    }
    // Column widths and ignored warnings are kept apart from the rows and written when the
    // workbook is saved, so they can be set now that every width is known.
    let columns = layout.headers.len() as u16;
    for index in 0..sheets {
        let sheet = workbook.worksheet_from_index(index)?;
        for (column, width) in widths.iter().enumerate() {
            let width = (width + 2).clamp(8, MAX_COLUMN_WIDTH);
            sheet.set_column_width(column as u16, width as f64)?;
        }
        let last_row = if index + 1 == sheets {
            row_number.max(1)
        } else {
            rows_per_sheet
        };
        // Codes are numbers stored as text on purpose; Excel need not flag every cell.
        sheet.ignore_error_range(
            1,
            0,
            last_row,
            columns.saturating_sub(1),
            IgnoreError::NumberStoredAsText,
        )?;
    }
    workbook.save_to_writer(out)?;
    Ok(written)
}

fn excel_date(date: Date) -> Result<ExcelDateTime, XlsxError> {
    let year =
        u16::try_from(date.year()).map_err(|_| XlsxError::DateTimeRangeError(date.to_string()))?;
    ExcelDateTime::from_ymd(year, date.month() as u8, date.day() as u8)
}

/// Writes a table as XLSX into an unnamed temporary file (gone when closed, even after a crash)
/// and returns it rewound, for [`file_chunks`] to stream, with the number of rows written.
///
/// The rows are consumed here and written by [`write_xlsx`] on a blocking thread; they cross a
/// bounded channel, so when the writer is slower, reading waits, and memory stays bounded
/// whatever the number of rows. When the writer fails it drops the receiver, reading stops, and
/// its error is returned. `rust_xlsxwriter` keeps its own per-sheet temporary files in the same
/// system temporary folder until the workbook is saved.
pub async fn xlsx_file<S, E>(layout: Layout, rows: S) -> Result<(std::fs::File, u64), ExportError>
where
    S: Stream<Item = Result<Row, E>>,
    E: Into<BoxError>,
{
    let (sender, mut receiver) =
        tokio::sync::mpsc::channel::<Result<Row, BoxError>>(ROWS_IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = tempfile::tempfile()?;
        let rows = std::iter::from_fn(|| receiver.blocking_recv());
        let written = write_xlsx(layout, rows, &mut file)?;
        file.flush()?;
        file.seek(SeekFrom::Start(0))?;
        Ok::<_, ExportError>((file, written))
    });
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.next().await {
        let failed = row.is_err();
        // A failed send means the writer has stopped; its result says why.
        if sender.send(row.map_err(Into::into)).await.is_err() || failed {
            break;
        }
    }
    drop(sender);
    writer.await.map_err(|_| ExportError::WriterStopped)?
}

/// A file's content as chunks of at most [`CHUNK_BYTES`] from where it stands, for a streaming
/// HTTP body; the file is closed (and an unnamed temporary file deleted) when the stream ends
/// or is dropped.
pub fn file_chunks(file: std::fs::File) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let file = tokio::fs::File::from_std(file);
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buffer = vec![0; CHUNK_BYTES];
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.truncate(read);
        Ok(Some((Bytes::from(buffer), file)))
    })
}

#[cfg(test)]
mod tests;

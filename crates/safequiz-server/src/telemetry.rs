//! Logging: `tracing` to standard error, filtered by `RUST_LOG` (default `info`), one line per
//! event that no request can forge.
//!
//! Two formats, one escaping: JSON lines in production (`SAFEQUIZ_ENV=production`) for the log
//! pipeline, readable text on a developer's machine; `SAFEQUIZ_LOG_FORMAT=json|text` overrides.
//! Every string that reaches a line (messages, field values, errors, span fields) goes through
//! [`escape`], which writes control characters (newlines included), quotes and backslashes as
//! escapes, so a username holding `\n` stays on its line in both formats.
//!
//! Every line logged while a request is served carries its [`RequestId`] (`request_id`), which
//! also goes back to the client in `X-Request-Id` and in every error body, and, once the
//! request's token was verified, the participant it acts for (`participant`, [`note_participant`]).
//! Both live in a task-local set by the request-id middleware (`http::request_id`), so they cost
//! no span, no allocation and nothing when nothing is logged. The participant's requests have no
//! span of their own for the same reason: a span with a field costs the formatted field, an
//! allocation and the registry's bookkeeping on every request, logged or not (about 1.5 µs for
//! the two a save used to open, docs/performance.md, "Spans off the hot path").
//!
//! Never log phones, names, tokens, usernames or request bodies; log ids as dotted fields
//! (`attempt.id`).

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::future::Future;

use rand::RngExt;
use tokio::task::futures::TaskLocalFuture;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

#[cfg(test)]
mod tests;

tokio::task_local! {
    static CURRENT: RequestScope;
}

/// What every line logged while one request is served carries: its id, and the participant
/// once a token named one.
pub struct RequestScope {
    id: RequestId,
    participant: Cell<Option<u64>>,
}

impl RequestScope {
    fn new(id: RequestId) -> RequestScope {
        RequestScope {
            id,
            participant: Cell::new(None),
        }
    }
}

/// Marks the request being served on this task as acting for `participant`: the lines it logs
/// from now on carry `participant`. Outside a request, nothing.
pub fn note_participant(participant: u64) {
    let _outside_a_request = CURRENT.try_with(|scope| scope.participant.set(Some(participant)));
}

/// The request being served on this task, if any: its id and its participant.
fn current() -> Option<(RequestId, Option<u64>)> {
    CURRENT
        .try_with(|scope| (scope.id, scope.participant.get()))
        .ok()
}

/// The id of one request: at most [`RequestId::MAX_LEN`] bytes of `A-Z a-z 0-9 . _ : -`, held
/// inline so that making one allocates nothing.
#[derive(Clone, Copy)]
pub struct RequestId {
    bytes: [u8; RequestId::MAX_LEN],
    len: u8,
}

impl RequestId {
    /// The longest id accepted from a proxy.
    pub const MAX_LEN: usize = 64;

    /// A new random id: 128 bits as 32 lowercase hex digits (unique across replicas without
    /// coordination).
    pub fn generate() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let random: u128 = rand::rng().random();
        let mut bytes = [0u8; RequestId::MAX_LEN];
        for (index, byte) in bytes[..32].iter_mut().enumerate() {
            *byte = HEX[((random >> (index * 4)) & 0xf) as usize];
        }
        RequestId { bytes, len: 32 }
    }

    /// An id a trusted proxy sent, when it is sane: 1 to [`RequestId::MAX_LEN`] bytes of
    /// letters, digits and `. _ : -` (enough for UUIDs and nginx's `$request_id`).
    pub fn parse(text: &[u8]) -> Option<RequestId> {
        let sane = !text.is_empty()
            && text.len() <= RequestId::MAX_LEN
            && text
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        sane.then(|| {
            let mut bytes = [0u8; RequestId::MAX_LEN];
            bytes[..text.len()].copy_from_slice(text);
            RequestId {
                bytes,
                // At most 64: fits.
                len: text.len() as u8,
            }
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (`generate` and `parse`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The id of the request being served on this task, if any.
    pub fn current() -> Option<RequestId> {
        CURRENT.try_with(|scope| scope.id).ok()
    }

    /// Runs `future` as part of this request: its log lines and error bodies carry the id.
    pub fn scope<F: Future>(self, future: F) -> TaskLocalFuture<RequestScope, F> {
        CURRENT.scope(RequestScope::new(self), future)
    }

    /// Runs `f` as part of this request (the synchronous part of a service call).
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(RequestScope::new(self), f)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: `timestamp`, `level`, `target`, `request_id`, `message`, then
    /// the event's and its spans' fields.
    Json,
    /// `timestamp LEVEL target: message key="value" request_id=…`, for people.
    Text,
}

impl LogFormat {
    /// `SAFEQUIZ_LOG_FORMAT` (`json` or `text`) when set, else JSON in production
    /// (`SAFEQUIZ_ENV=production`) and text elsewhere.
    pub fn from_env() -> LogFormat {
        match std::env::var("SAFEQUIZ_LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            Ok("text") => LogFormat::Text,
            _ if std::env::var("SAFEQUIZ_ENV").as_deref() == Ok("production") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Installs the global subscriber once; later calls (several tests in one process) do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _already_installed = builder(LogFormat::from_env(), filter, std::io::stderr).try_init();
}

/// The subscriber [`init`] installs, writing `format` lines to `writer` (tests give a buffer).
pub fn subscriber<W>(format: LogFormat, filter: &str, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    builder(format, EnvFilter::new(filter), writer).finish()
}

fn builder<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<LineFields, LineFormat, EnvFilter, W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .fmt_fields(LineFields(format))
        .event_format(LineFormat(format))
}

/// Writes `text` with every character that could end a line, move the cursor, start a terminal
/// escape or end a quoted value escaped: `\n`, `\r`, `\t`, `\"`, `\\`, and `\u00XX` for the other
/// C0 controls, DEL and the C1 controls. The result is valid inside a JSON string and stays on
/// one line in the text format.
pub fn escape(out: &mut dyn fmt::Write, text: &str) -> fmt::Result {
    let mut start = 0;
    for (index, c) in text.char_indices() {
        let escaped = match c {
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '"' => "\\\"",
            '\\' => "\\\\",
            c if c.is_control() => "",
            // Line and paragraph separators end a line in some viewers.
            '\u{2028}' | '\u{2029}' => "",
            _ => continue,
        };
        out.write_str(&text[start..index])?;
        if escaped.is_empty() {
            write!(out, "\\u{:04x}", u32::from(c))?;
        } else {
            out.write_str(escaped)?;
        }
        start = index + c.len_utf8();
    }
    out.write_str(&text[start..])
}

/// A `fmt::Write` that escapes everything written through it (for `Debug` and `Display`
/// values, which arrive in pieces).
struct Escaping<'a>(&'a mut dyn fmt::Write);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        escape(self.0, text)
    }
}

/// Writes fields: `,"key":value` (JSON) or ` key="value"` (text), `message` bare in text.
struct Visitor<'a> {
    out: &'a mut dyn fmt::Write,
    format: LogFormat,
    result: fmt::Result,
}

impl Visitor<'_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        match self.format {
            LogFormat::Json => write!(self.out, ",\"{name}\":"),
            LogFormat::Text if name == "message" => self.out.write_char(' '),
            LogFormat::Text => write!(self.out, " {name}="),
        }
    }

    /// A string value: quoted and escaped (bare but escaped for a text message).
    fn text(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let quoted = self.format == LogFormat::Json || field.name() != "message";
        self.result = self.key(field).and_then(|()| {
            if quoted {
                self.out.write_char('"')?;
            }
            Escaping(&mut *self.out).write_fmt(value)?;
            if quoted {
                self.out.write_char('"')?;
            }
            Ok(())
        });
    }

    /// A number or boolean: as it is.
    fn plain(&mut self, field: &Field, value: &dyn fmt::Display) {
        if self.result.is_err() {
            return;
        }
        self.result = self.key(field).and_then(|()| write!(self.out, "{value}"));
    }
}

impl Visit for Visitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.plain(field, &value);
        } else {
            self.text(field, format_args!("{value}"));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, format_args!("{value}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format_args!("{value:?}"));
    }
}

/// The field formatter of both formats (events and the spans they are in).
#[derive(Clone, Copy, Debug)]
pub struct LineFields(LogFormat);

impl<'w> FormatFields<'w> for LineFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            out: &mut writer,
            format: self.0,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        // Every field starts with its own separator, so nothing goes between.
        self.format_fields(current.as_writer(), fields)
    }
}

/// The line formatter of both formats.
#[derive(Clone, Copy, Debug)]
pub struct LineFormat(LogFormat);

impl<S> FormatEvent<S, LineFields> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, LineFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let now = jiff::Timestamp::now();
        let request = current();
        match self.0 {
            LogFormat::Json => {
                write!(
                    writer,
                    "{{\"timestamp\":\"{now}\",\"level\":\"{}\",\"target\":\"",
                    metadata.level()
                )?;
                escape(&mut writer, metadata.target())?;
                writer.write_char('"')?;
                if let Some((id, participant)) = request {
                    write!(writer, ",\"request_id\":\"{id}\"")?;
                    if let Some(participant) = participant {
                        write!(writer, ",\"participant\":{participant}")?;
                    }
                }
            }
            LogFormat::Text => {
                write!(writer, "{now} {:>5} ", metadata.level())?;
                escape(&mut writer, metadata.target())?;
                writer.write_char(':')?;
            }
        }
        let mut visitor = Visitor {
            out: &mut writer,
            format: self.0,
            result: Ok(()),
        };
        event.record(&mut visitor);
        visitor.result?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<LineFields>>() {
                    // Written by `LineFields`, so already escaped and separated.
                    writer.write_str(fields)?;
                }
            }
        }
        match (self.0, request) {
            (LogFormat::Json, _) => writer.write_str("}\n"),
            (LogFormat::Text, Some((id, Some(participant)))) => {
                writeln!(writer, " request_id={id} participant={participant}")
            }
            (LogFormat::Text, Some((id, None))) => writeln!(writer, " request_id={id}"),
            (LogFormat::Text, None) => writer.write_char('\n'),
        }
    }
}

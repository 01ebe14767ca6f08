//! Lines cannot be forged in either format, JSON lines parse, and the request id is on them.

use std::io;
use std::sync::{Arc, Mutex};

use super::{LogFormat, RequestId, escape, note_participant, subscriber};

/// A log destination the test reads back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("buffer").clone()).expect("UTF-8 lines")
    }
}

/// The lines `format` writes for what `log` logs.
fn lines(format: LogFormat, log: impl FnOnce()) -> Vec<String> {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing::subscriber::with_default(subscriber(format, "info", move || writer.clone()), log);
    buffer.text().lines().map(str::to_owned).collect()
}

const FORGED: &str = "alice\n2026-06-01T00:00:00Z  INFO safequiz: organizer logged in\r\u{1b}[2J\u{85}\u{2028}\"}{\\";

fn log_forged() {
    let username = FORGED;
    tracing::info!(username = %username, other = username, debug = ?username, "refused {username}");
    tracing::warn!(
        count = 3_u64,
        signed = -2_i64,
        ok = true,
        ratio = 0.5,
        "plain values"
    );
}

#[test]
fn the_text_format_keeps_every_event_on_one_line_with_control_characters_escaped() {
    let lines = lines(LogFormat::Text, log_forged);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let first = &lines[0];
    assert!(
        first.contains(" INFO safequiz_server::telemetry::tests: refused alice\\n2026"),
        "{first}"
    );
    assert!(
        first.contains("username=\"alice\\n2026-06-01T00:00:00Z  INFO"),
        "{first}"
    );
    for raw in ['\r', '\u{1b}', '\u{85}', '\u{2028}'] {
        assert!(!first.contains(raw), "{raw:?} is escaped: {first}");
    }
    assert!(
        first.contains("\\r\\u001b[2J\\u0085\\u2028\\\"}{\\\\"),
        "{first}"
    );
    assert!(
        lines[1].ends_with("plain values count=3 signed=-2 ok=true ratio=0.5"),
        "{}",
        lines[1]
    );
}

#[test]
fn json_lines_parse_and_give_back_the_exact_strings_with_the_request_id() {
    let id = RequestId::parse(b"edge-7f3a.1").expect("a sane id");
    let lines = lines(LogFormat::Json, || {
        let span = tracing::info_span!("organizer", unit = "110101\nx");
        let _entered = span.enter();
        id.sync_scope(log_forged);
        tracing::info!("outside any request");
    });
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let first = &events[0];
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["request_id"], "edge-7f3a.1");
    assert_eq!(first["username"], FORGED);
    assert_eq!(first["other"], FORGED);
    assert_eq!(first["debug"], format!("{FORGED:?}"));
    assert_eq!(first["message"], format!("refused {FORGED}"));
    assert_eq!(first["unit"], "110101\nx", "span fields are on the line");
    assert_eq!(events[1]["count"], 3);
    assert_eq!(events[1]["signed"], -2);
    assert_eq!(events[1]["ok"], true);
    assert_eq!(events[1]["ratio"], 0.5);
    assert!(events[2].get("request_id").is_none(), "{}", lines[2]);
}

#[test]
fn request_ids_are_generated_fresh_and_taken_only_when_sane() {
    let (a, b) = (RequestId::generate(), RequestId::generate());
    assert_eq!(a.as_str().len(), 32);
    assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(a.as_str(), b.as_str());
    for good in ["0d9c1f0e-5b7a-4c1e-9e39-1d2c3b4a5f60", "a", &"x".repeat(64)] {
        assert_eq!(
            RequestId::parse(good.as_bytes()).map(|id| id.to_string()),
            Some(good.to_owned())
        );
    }
    for bad in ["", "a b", "a\nb", "a\"b", "编号", &"x".repeat(65)] {
        assert!(RequestId::parse(bad.as_bytes()).is_none(), "{bad:?}");
    }
    assert!(RequestId::current().is_none());
    assert_eq!(
        a.sync_scope(|| RequestId::current().map(|id| id.to_string())),
        Some(a.to_string())
    );
}

#[test]
fn escape_leaves_ordinary_text_alone() {
    let mut out = String::new();
    escape(&mut out, "张三 organizer-1 o'k").expect("write");
    assert_eq!(out, "张三 organizer-1 o'k");
}

#[test]
fn lines_name_the_participant_once_the_request_noted_it() {
    let id = RequestId::parse(b"req-1").expect("a sane id");
    let log = || {
        note_participant(7);
        tracing::warn!("outside any request");
        id.sync_scope(|| {
            tracing::warn!("before the token");
            note_participant(42);
            tracing::warn!("after the token");
        });
        tracing::warn!("after the request");
    };
    let json: Vec<serde_json::Value> = lines(LogFormat::Json, log)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let participants: Vec<_> = json.iter().map(|event| event.get("participant")).collect();
    assert_eq!(
        participants,
        [None, None, Some(&serde_json::json!(42)), None],
        "{json:#?}"
    );
    assert_eq!(json[2]["request_id"], "req-1");

    let text = lines(LogFormat::Text, log);
    assert_eq!(text.len(), 4, "{text:#?}");
    assert!(
        text[2].ends_with(" request_id=req-1 participant=42"),
        "{}",
        text[2]
    );
    for line in [&text[0], &text[1], &text[3]] {
        assert!(!line.contains("participant="), "{line}");
    }
}

//! JSON written by hand, for the bodies the participant's hot path answers with most: an
//! attempt open (every start) and final (every submit).
//!
//! Why: such a body is mostly text that is JSON already (the question texts, escaped once when
//! the banks are loaded, `QuestionTexts`) between about a hundred field names that never need
//! escaping, and `serde_json`'s derived serializers spent their time on the machinery around
//! them: each field name escaped as a map key, `#[serde(flatten)]` through a map serializer.
//! Measured with `cargo bench -p safequiz-server --bench hot_path -- render` (docs/performance.md,
//! "Attempt bodies written by hand").
//!
//! How: a type that is answered this way implements [`WriteJson`], writing its fields in the
//! order of its declaration, and keeps its serde derive as the definition of its shape: the
//! OpenAPI document is generated from that derive, and a test (`http::attempts::tests`) holds
//! every writer byte-equal to `serde_json`'s output for the same values, so the two cannot drift.

use std::collections::BTreeMap;
use std::io::Write as _;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use jiff::Timestamp;
use serde_json::value::RawValue;

/// A type written as JSON by hand, with the same bytes `serde_json` writes for it.
pub(crate) trait WriteJson {
    /// Appends the value's JSON to `out`.
    fn write_json(&self, out: &mut JsonWriter);
}

impl WriteJson for str {
    /// Escaped as `serde_json` escapes a string. The strings of these bodies (ids, a ticket)
    /// never need it, and are copied as they are.
    fn write_json(&self, out: &mut JsonWriter) {
        out.separate();
        if self.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            out.out.push(b'"');
            out.out.extend_from_slice(self.as_bytes());
            out.out.push(b'"');
        } else {
            // Writing to a Vec cannot fail, and a string always serializes.
            let _ = serde_json::to_writer(&mut out.out, self);
        }
    }
}

impl WriteJson for String {
    #[inline]
    fn write_json(&self, out: &mut JsonWriter) {
        self.as_str().write_json(out);
    }
}

/// A one-character string: an option's display key.
impl WriteJson for char {
    #[inline]
    fn write_json(&self, out: &mut JsonWriter) {
        if self.is_ascii_alphanumeric() {
            out.value(&[b'"', *self as u8, b'"']);
        } else {
            self.encode_utf8(&mut [0; 4]).write_json(out);
        }
    }
}

/// JSON that is already written (a text escaped once, at load).
impl WriteJson for RawValue {
    #[inline]
    fn write_json(&self, out: &mut JsonWriter) {
        out.value(self.get().as_bytes());
    }
}

impl WriteJson for bool {
    #[inline]
    fn write_json(&self, out: &mut JsonWriter) {
        out.value(if *self { b"true" } else { b"false" });
    }
}

/// Integers, in decimal.
macro_rules! integers {
    ($($integer:ty),*) => {$(
        impl WriteJson for $integer {
            #[inline]
            fn write_json(&self, out: &mut JsonWriter) {
                out.value(itoa::Buffer::new().format(*self).as_bytes());
            }
        }
    )*};
}

integers!(u32, usize, i64);

/// An instant as jiff serializes it: its RFC 3339 text, as a string.
impl WriteJson for Timestamp {
    fn write_json(&self, out: &mut JsonWriter) {
        out.separate();
        out.out.push(b'"');
        // Writing to a Vec cannot fail.
        let _ = write!(out.out, "{self}");
        out.out.push(b'"');
    }
}

impl<T: WriteJson> WriteJson for [T] {
    fn write_json(&self, out: &mut JsonWriter) {
        out.begin_array();
        for value in self {
            value.write_json(out);
        }
        out.end_array();
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    #[inline]
    fn write_json(&self, out: &mut JsonWriter) {
        self.as_slice().write_json(out);
    }
}

/// A map by number, as `serde_json` writes one: an object whose keys are the numbers as text.
impl<T: WriteJson> WriteJson for BTreeMap<usize, T> {
    fn write_json(&self, out: &mut JsonWriter) {
        out.object(|out| {
            for (&key, value) in self {
                out.key_number(key);
                value.write_json(out);
            }
        });
    }
}

/// `value` as a JSON response with `status`; `capacity` is the body's expected length.
pub(crate) fn json_response<T: WriteJson>(
    status: StatusCode,
    value: &T,
    capacity: usize,
) -> HttpResponse {
    let mut out = JsonWriter::with_capacity(capacity);
    value.write_json(&mut out);
    HttpResponse::build(status)
        .insert_header(ContentType::json())
        .body(out.into_bytes())
}

/// A JSON text being written: values, and objects and arrays opened and closed around them.
/// Separators are written by the writer: a value or key that follows another in the same
/// object or array gets its comma.
pub(crate) struct JsonWriter {
    out: Vec<u8>,
}

impl JsonWriter {
    /// An empty text with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> JsonWriter {
        JsonWriter {
            out: Vec::with_capacity(capacity),
        }
    }

    /// The text written.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// The comma before a value or key that is not the first of its object or array.
    #[inline]
    fn separate(&mut self) {
        if let Some(&last) = self.out.last()
            && !matches!(last, b'{' | b'[' | b':')
        {
            self.out.push(b',');
        }
    }

    #[inline]
    fn begin_object(&mut self) {
        self.separate();
        self.out.push(b'{');
    }

    #[inline]
    fn end_object(&mut self) {
        self.out.push(b'}');
    }

    #[inline]
    fn begin_array(&mut self) {
        self.separate();
        self.out.push(b'[');
    }

    #[inline]
    fn end_array(&mut self) {
        self.out.push(b']');
    }

    /// An array of `values` as an iterator yields them: nothing is collected first.
    pub(crate) fn array<T: WriteJson>(&mut self, values: impl IntoIterator<Item = T>) {
        self.begin_array();
        for value in values {
            value.write_json(self);
        }
        self.end_array();
    }

    /// A field name: a Rust identifier, which JSON never escapes.
    #[inline]
    fn key(&mut self, name: &'static str) {
        debug_assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{name} is not a plain field name"
        );
        self.separate();
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// A map key that is a number, written as `serde_json` writes one: a string.
    fn key_number(&mut self, key: usize) {
        self.separate();
        self.out.push(b'"');
        self.out
            .extend_from_slice(itoa::Buffer::new().format(key).as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// A value whose JSON is `bytes`.
    #[inline]
    fn value(&mut self, bytes: &[u8]) {
        self.separate();
        self.out.extend_from_slice(bytes);
    }

    /// A field of an object: its name, then its value.
    #[inline]
    pub(crate) fn field<T: WriteJson + ?Sized>(&mut self, name: &'static str, value: &T) {
        self.key(name);
        value.write_json(self);
    }

    /// An object whose fields `fields` writes.
    #[inline]
    pub(crate) fn object(&mut self, fields: impl FnOnce(&mut JsonWriter)) {
        self.begin_object();
        fields(self);
        self.end_object();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut JsonWriter)) -> String {
        let mut out = JsonWriter::with_capacity(0);
        write(&mut out);
        String::from_utf8(out.into_bytes()).expect("the writer writes UTF-8")
    }

    #[test]
    fn values_are_separated_within_objects_and_arrays_only() {
        let text = written(|out| {
            out.object(|out| {
                out.key("a");
                out.begin_array();
                1u32.write_json(out);
                (-2i64).write_json(out);
                out.object(|_| {});
                <[u32]>::write_json(&[], out);
                out.end_array();
                out.field("b", &false);
                out.key_number(7);
                ['A', 'T'].write_json(out);
                out.field("c", "文");
            });
        });
        assert_eq!(
            text,
            r#"{"a":[1,-2,{},[]],"b":false,"7":["A","T"],"c":"文"}"#
        );
    }

    #[test]
    fn strings_and_instants_are_written_as_serde_json_writes_them() {
        let odd = "引号\"、反斜杠\\、换行\n和\u{1}";
        let instant = Timestamp::from_millisecond(1_780_000_000_123).expect("in range");
        let whole = Timestamp::from_second(1_780_000_000).expect("in range");
        let text = written(|out| {
            out.begin_array();
            odd.write_json(out);
            '"'.write_json(out);
            instant.write_json(out);
            whole.write_json(out);
            out.end_array();
        });
        let expected = serde_json::to_string(&(odd, '"', instant, whole)).expect("serializes");
        assert_eq!(text, expected);
    }
}

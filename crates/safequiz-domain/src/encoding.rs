//! The text encodings of spreadsheets organizers save as CSV.
//!
//! Excel and WPS on a Chinese Windows save "CSV (逗号分隔)" in the system's code page, GB18030
//! (of which GBK and GB2312 are subsets); "CSV UTF-8" adds a byte-order mark; other tools write
//! plain UTF-8. [`decode_csv`] turns any of these into text, so the bank import of the CLI and
//! the headcount upload of the server read the same files the same way. Decoding only: callers
//! read the bytes and parse the text.

use std::borrow::Cow;

/// The UTF-8 byte-order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// CSV bytes as text: UTF-8 (without its byte-order mark) when the bytes are valid UTF-8, else
/// GB18030, which is what Excel on a Chinese Windows writes.
///
/// GB18030 decodes every byte sequence (a malformed one as U+FFFD), so this never fails; a
/// file in yet another encoding comes out garbled and is refused by whoever parses the text.
/// Text that is both valid UTF-8 and valid GB18030 (pure ASCII) means the same in both.
pub fn decode_csv(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => encoding_rs::GB18030.decode_without_bom_handling(bytes).0,
    }
}

#[cfg(test)]
mod tests;

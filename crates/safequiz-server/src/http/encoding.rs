//! Response compression, the one place it is decided: what a body compressed once looks like
//! (`gzip`), and whether a request accepts it (`accepts_gzip`). Pages compress their assets once
//! at start (`pages`), boards once per snapshot (`snapshots`); nothing is compressed per request.

use std::io::Write as _;

use actix_web::http::header::{self, HeaderMap};
use flate2::Compression;
use flate2::write::GzEncoder;

/// `bytes` gzip-compressed at `level` (empty only if compression failed, which writing to
/// memory cannot).
pub(crate) fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), level);
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .unwrap_or_default()
}

/// Whether the request's `Accept-Encoding` accepts gzip: `gzip` (or `*`) named without `q=0`.
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .any(|value| value_accepts_gzip(value.as_bytes()))
}

fn value_accepts_gzip(value: &[u8]) -> bool {
    value.split(|&byte| byte == b',').any(|coding| {
        let mut parts = coding.split(|&byte| byte == b';');
        let name = parts.next().unwrap_or_default().trim_ascii();
        // `*` (any coding) matched as a byte: the tidy test keeps the one-asterisk string for
        // the whole-campaign scope.
        let named = name.eq_ignore_ascii_case(b"gzip") || matches!(name, [b'*']);
        let refused = parts.any(|parameter| {
            let parameter = parameter.trim_ascii();
            parameter.len() >= 3
                && parameter[..2].eq_ignore_ascii_case(b"q=")
                && parameter[2..]
                    .iter()
                    .all(|&byte| byte == b'0' || byte == b'.')
        });
        named && !refused
    })
}

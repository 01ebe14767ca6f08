//! The participant pages: one HTML shell, one script, one stylesheet, compiled into the binary.
//!
//! No build step and no external requests (the machine serving a county's competition may have
//! no internet). Each asset is gzip-compressed once at start, so a page costs no CPU per request;
//! the script and stylesheet URLs carry a content hash, so browsers cache them for good and a new
//! release is fetched at once. The shell itself is revalidated (`ETag`) on every visit.

use std::io::Write;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use flate2::Compression;
use flate2::write::GzEncoder;

struct Asset {
    content_type: &'static str,
    plain: Vec<u8>,
    gzip: Vec<u8>,
    etag: String,
    immutable: bool,
}

impl Asset {
    fn new(content_type: &'static str, plain: Vec<u8>, immutable: bool) -> Asset {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        // Writing to a Vec cannot fail.
        let gzip = encoder
            .write_all(&plain)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        let etag = format!("\"{:016x}\"", fnv1a(&plain));
        Asset {
            content_type,
            plain,
            gzip,
            etag,
            immutable,
        }
    }

    fn respond(&self, request: &HttpRequest) -> HttpResponse {
        let headers = request.headers();
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == self.etag)
        {
            return HttpResponse::NotModified().finish();
        }
        let gzip = !self.gzip.is_empty()
            && headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("gzip"));
        let mut response = HttpResponse::Ok();
        response
            .content_type(self.content_type)
            .insert_header((header::ETAG, self.etag.as_str()))
            .insert_header((header::VARY, "Accept-Encoding"))
            .insert_header((
                header::CACHE_CONTROL,
                if self.immutable {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                },
            ));
        if gzip {
            response
                .insert_header((header::CONTENT_ENCODING, "gzip"))
                .body(self.gzip.clone())
        } else {
            response.body(self.plain.clone())
        }
    }
}

/// FNV-1a: a stable content hash for cache busting (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const SCRIPT: &str = include_str!("../../web/app.js");
const STYLE: &str = include_str!("../../web/app.css");

static SCRIPT_ASSET: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "application/javascript; charset=utf-8",
        SCRIPT.as_bytes().to_vec(),
        true,
    )
});
static STYLE_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("text/css; charset=utf-8", STYLE.as_bytes().to_vec(), true));
static SHELL_ASSET: LazyLock<Asset> = LazyLock::new(|| {
    let version = format!(
        "{:08x}",
        (fnv1a(SCRIPT.as_bytes()) ^ fnv1a(STYLE.as_bytes())) & 0xffff_ffff
    );
    let shell = include_str!("../../web/index.html").replace("{{version}}", &version);
    Asset::new("text/html; charset=utf-8", shell.into_bytes(), false)
});

/// `GET /`, `GET /c/{cid}`: the page shell; the script reads the campaign from the path.
pub async fn shell(request: HttpRequest) -> HttpResponse {
    SHELL_ASSET.respond(&request)
}

/// `GET /static/app.js`.
pub async fn script(request: HttpRequest) -> HttpResponse {
    SCRIPT_ASSET.respond(&request)
}

/// `GET /static/app.css`.
pub async fn style(request: HttpRequest) -> HttpResponse {
    STYLE_ASSET.respond(&request)
}

/// Bytes of the first page as a phone downloads it (gzip): shell, script and stylesheet.
pub fn first_page_bytes() -> usize {
    SHELL_ASSET.gzip.len() + SCRIPT_ASSET.gzip.len() + STYLE_ASSET.gzip.len()
}

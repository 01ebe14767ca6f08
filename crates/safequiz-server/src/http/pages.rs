//! The web pages, participant's and organizer's: each one HTML shell, one script and one
//! stylesheet, compiled into the binary.
//!
//! No build step and no external requests (the machine serving a county's competition may have
//! no internet). Each asset is gzip-compressed once at start, so a page costs no CPU per request;
//! the script and stylesheet URLs carry a content hash, so browsers cache them for good and a new
//! release is fetched at once. The shell itself is revalidated (`ETag`) on every visit.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::Compression;

use super::encoding::{accepts_gzip, gzip};
use super::error::ApiError;

struct Asset {
    content_type: &'static str,
    plain: Vec<u8>,
    gzip: Vec<u8>,
    etag: String,
}

impl Asset {
    fn new(content_type: &'static str, plain: Vec<u8>) -> Asset {
        let gzip = gzip(&plain, Compression::best());
        let etag = format!("\"{:016x}\"", fnv1a(&plain));
        Asset {
            content_type,
            plain,
            gzip,
            etag,
        }
    }

    /// The asset, cached by browsers for good when `immutable` (its URL names its content), else
    /// revalidated on every use.
    fn respond(&self, request: &HttpRequest, immutable: bool) -> HttpResponse {
        let headers = request.headers();
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == self.etag)
        {
            return HttpResponse::NotModified().finish();
        }
        let gzip = !self.gzip.is_empty() && accepts_gzip(headers);
        let mut response = HttpResponse::Ok();
        response
            .content_type(self.content_type)
            .insert_header((header::ETAG, self.etag.as_str()))
            .insert_header((header::VARY, "Accept-Encoding"))
            .insert_header((
                header::CACHE_CONTROL,
                if immutable {
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

/// FNV-1a: a stable hash, the same in every process and version (not for security): the
/// assets' cache busting, and a flusher's own place among the shards (`workers::flusher`).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const COMMON_SCRIPT: &str = include_str!("../../web/common.js");
const BASE_STYLE: &str = include_str!("../../web/app.css");

/// One page: its HTML shell and its one script and one stylesheet, each put together from the
/// shared parts (`common.js`, `app.css`) and the page's own at start.
struct Page {
    shell: Asset,
    script: Asset,
    style: Asset,
    /// The hash of script and stylesheet that the shell puts in their URLs (`?v=`).
    version: String,
}

impl Page {
    /// `shell` names its assets with `{{version}}`, a hash of both, so a release busts caches.
    fn new(shell: &str, scripts: &[&str], styles: &[&str]) -> Page {
        let script = without_line_comments(&scripts.concat());
        let style = without_block_comments(&styles.concat());
        let version = format!(
            "{:08x}",
            (fnv1a(script.as_bytes()) ^ fnv1a(style.as_bytes())) & 0xffff_ffff
        );
        let shell = shell.replace("{{version}}", &version);
        Page {
            shell: Asset::new("text/html; charset=utf-8", shell.into_bytes()),
            script: Asset::new("application/javascript; charset=utf-8", script.into_bytes()),
            style: Asset::new("text/css; charset=utf-8", style.into_bytes()),
            version,
        }
    }
}

/// A script without its whole-line `//` comments and its lines' indentation: the comments say
/// why the code is as it is, for the people who read `web/`, and with the stylesheet's were
/// 3.2 KB of the first page's 22.1 KB (gzip), over its 20 KiB budget (`tests/it/pages.rs`); the
/// indentation was about 800 B more. No template literal or string in `web/` spans lines, so a
/// line starting with `//` is always a comment and leading blanks are never content.
fn without_line_comments(script: &str) -> String {
    script
        .lines()
        .map(str::trim_start)
        .filter(|line| !line.starts_with("//"))
        .flat_map(|line| [line, "\n"])
        .collect()
}

/// A stylesheet without its `/* */` comments (no string in `web/`'s CSS holds `/*`).
fn without_block_comments(style: &str) -> String {
    let mut out = String::with_capacity(style.len());
    let mut rest = style;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// The participant's pages: landing, registration, attempt, result, rankings, big screen.
static PARTICIPANT: LazyLock<Page> = LazyLock::new(|| {
    Page::new(
        include_str!("../../web/index.html"),
        &[COMMON_SCRIPT, include_str!("../../web/app.js")],
        &[BASE_STYLE],
    )
});

/// The organizer's pages: login, live progress, participants, reports, questions, headcounts.
static ORGANIZER: LazyLock<Page> = LazyLock::new(|| {
    Page::new(
        include_str!("../../web/organizer.html"),
        &[COMMON_SCRIPT, include_str!("../../web/organizer.js")],
        &[BASE_STYLE, include_str!("../../web/organizer.css")],
    )
});

/// `GET /`, `GET /c/{cid}`: the page shell; the script reads the campaign from the path.
#[utoipa::path(
    get,
    path = "/",
    tag = "pages",
    summary = "The participant's pages (HTML shell; also `/c/{cid}`)",
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
    ),
)]
pub async fn shell(request: HttpRequest) -> HttpResponse {
    PARTICIPANT.shell.respond(&request, false)
}

/// `GET /organizer/`: the organizer's page shell. It may not be framed by another site (a
/// logged-in organizer's clicks must not be borrowed), and it loads nothing from elsewhere.
#[utoipa::path(
    get,
    path = "/organizer/",
    tag = "pages",
    summary = "The organizer's pages (HTML shell; also `/organizer`)",
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
    ),
)]
pub async fn organizer_shell(request: HttpRequest) -> HttpResponse {
    let mut response = ORGANIZER.shell.respond(&request, false);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    response
}

/// `GET /static/{file}?v=`: the pages' scripts and stylesheets. Cached for good only when `v`
/// is this release's version: during a rolling deploy a new shell may reach an old replica,
/// whose older script must not be kept a year under the new version's URL.
#[utoipa::path(
    get,
    path = "/static/{file}",
    tag = "pages",
    summary = "The pages' scripts and stylesheets",
    params(
        ("file" = String, Path, description = "`app.js`, `app.css`, `organizer.js` or `organizer.css`"),
        ("v" = Option<String>, Query, description = "The release's version: cached for good when it matches"),
    ),
    responses(
        (status = 200, description = "The asset", content(
            (String = "application/javascript"),
            (String = "text/css"),
        )),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
        (status = 404, description = "`not_found`: no such asset", body = super::error::ErrorBody<'_>),
    ),
)]
pub async fn asset(
    request: HttpRequest,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (page, asset) = match file.as_str() {
        "app.js" => (&*PARTICIPANT, &PARTICIPANT.script),
        "app.css" => (&*PARTICIPANT, &PARTICIPANT.style),
        "organizer.js" => (&*ORGANIZER, &ORGANIZER.script),
        "organizer.css" => (&*ORGANIZER, &ORGANIZER.style),
        _ => return Err(ApiError::NotFound("no such resource")),
    };
    let current = request
        .query_string()
        .split('&')
        .any(|pair| pair.strip_prefix("v=") == Some(page.version.as_str()));
    Ok(asset.respond(&request, current))
}

/// Bytes of the participant's first page as a phone downloads it (gzip): shell, script and
/// stylesheet.
pub fn first_page_bytes() -> usize {
    PARTICIPANT.shell.gzip.len() + PARTICIPANT.script.gzip.len() + PARTICIPANT.style.gzip.len()
}

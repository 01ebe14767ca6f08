//! The study-hour certificate as a PDF (学时证明, issue 18; docs/design.md §3.9).
//!
//! One A4 landscape page: the title, the facts (name, organization, score, hours, campaign,
//! date, serial) and a QR code of the public verification page. The PDF objects are written
//! directly (`pdf-writer`); the Chinese text uses a CJK TrueType font installed by a Debian
//! package ([`FONT_CANDIDATES`]; `tests/run` installs `fonts-wqy-microhei`), cut down to the
//! glyphs the page uses (`subsetter`, about a hundred glyphs) and embedded, so the file
//! renders the same everywhere and stays small (about 40 kB, far below the 200 kB asked).
//! Nothing is fetched from a network and no font is kept in the repository.
//!
//! The font is read and parsed once per process ([`CertificateFont::installed`]); each PDF
//! then costs one subset and two deflates (a few milliseconds).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// The CJK fonts tried, in order: TrueType outlines (`glyf`), which a PDF embeds as a
/// `CIDFontType2`. The first is Debian's `fonts-wqy-microhei`; `SAFEQUIZ_CERTIFICATE_FONT`
/// names another file (a `.ttf` or the first face of a `.ttc`) before them.
pub const FONT_CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
];

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// No usable CJK font is installed.
    #[error("no CJK TrueType font found (install fonts-wqy-microhei; tried {0})")]
    NoFont(String),
    /// The font could not be cut down.
    #[error("the font could not be subset: {0}")]
    Subset(String),
    /// The QR code could not hold the URL.
    #[error("the verification URL does not fit a QR code: {0}")]
    Qr(String),
}

/// A parsed CJK font file, shared by every certificate of the process.
pub struct CertificateFont {
    path: PathBuf,
    data: Vec<u8>,
    index: u32,
}

impl CertificateFont {
    /// The first usable font of `SAFEQUIZ_CERTIFICATE_FONT` and [`FONT_CANDIDATES`], read once.
    pub fn installed() -> Result<Arc<CertificateFont>, CertificateError> {
        static FONT: OnceLock<Result<Arc<CertificateFont>, String>> = OnceLock::new();
        FONT.get_or_init(|| {
            let mut tried = Vec::new();
            let configured = std::env::var_os("SAFEQUIZ_CERTIFICATE_FONT").map(PathBuf::from);
            for path in configured
                .into_iter()
                .chain(FONT_CANDIDATES.iter().map(PathBuf::from))
            {
                if let Some(font) = CertificateFont::open(&path) {
                    return Ok(Arc::new(font));
                }
                tried.push(path.display().to_string());
            }
            Err(tried.join(", "))
        })
        .clone()
        .map_err(CertificateError::NoFont)
    }

    /// The font at `path` when it is a TrueType-outline font with CJK glyphs.
    pub fn open(path: &Path) -> Option<CertificateFont> {
        let data = std::fs::read(path).ok()?;
        let usable = {
            let face = ttf_parser::Face::parse(&data, 0).ok()?;
            face.tables().glyf.is_some() && face.glyph_index('证').is_some()
        };
        usable.then(|| CertificateFont {
            path: path.to_owned(),
            data,
            index: 0,
        })
    }

    /// The file the font was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a certificate states; the verification page shows the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// The participant's name as registered.
    pub name: String,
    /// Their unit's name.
    pub organization: String,
    /// The counted score.
    pub score: i64,
    /// The threshold it reached.
    pub min_score: u32,
    /// Study hours granted.
    pub hours: u32,
    /// The campaign's title.
    pub campaign: String,
    /// The date of the certificate (the campaign's closing day in its zone), `2026年7月1日`.
    pub date: String,
    /// The serial.
    pub serial: String,
}

// A4 landscape, in points.
const WIDTH: f32 = 842.0;
const HEIGHT: f32 = 595.0;
const LEFT: f32 = 110.0;
const QR_SIZE: f32 = 130.0;
const QR_X: f32 = WIDTH - 80.0 - QR_SIZE;
const QR_Y: f32 = 80.0;

/// One line of text at a place: font size, x (or centered) and baseline.
struct Line {
    text: String,
    size: f32,
    x: Option<f32>,
    y: f32,
}

/// The certificate of `facts` as a PDF whose QR code opens `verify_url`.
pub fn render(
    font: &CertificateFont,
    facts: &Facts,
    verify_url: &str,
) -> Result<Vec<u8>, CertificateError> {
    let face = ttf_parser::Face::parse(&font.data, font.index)
        .map_err(|error| CertificateError::Subset(error.to_string()))?;
    let em = f32::from(face.units_per_em());
    let advance = |c: char| -> f32 {
        face.glyph_index(c)
            .and_then(|glyph| face.glyph_hor_advance(glyph))
            .map_or(500.0, |units| f32::from(units) * 1000.0 / em)
    };
    let width_of =
        |text: &str, size: f32| -> f32 { text.chars().map(|c| advance(c) * size / 1000.0).sum() };

    let lines = layout(facts, verify_url, &width_of);

    // The glyphs used, each given a CID (its glyph id in the subset); CID 0 is .notdef.
    let mut remapper = subsetter::GlyphRemapper::new();
    remapper.remap(0);
    let mut cids: BTreeMap<char, u16> = BTreeMap::new();
    for line in &lines {
        for c in line.text.chars() {
            if let Some(glyph) = face.glyph_index(c) {
                cids.insert(c, remapper.remap(glyph.0));
            }
        }
    }
    let subset = subsetter::subset(&font.data, font.index, &remapper)
        .map_err(|error| CertificateError::Subset(format!("{error:?}")))?;

    let catalog = Ref::new(1);
    let pages = Ref::new(2);
    let page = Ref::new(3);
    let type0 = Ref::new(4);
    let cid_font = Ref::new(5);
    let descriptor = Ref::new(6);
    let font_file = Ref::new(7);
    let to_unicode = Ref::new(8);
    let content = Ref::new(9);
    let info = Ref::new(10);
    let font_name = Name(b"F1");
    let base_font = Name(b"SQCERT+CJK");

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    let mut page_writer = pdf.page(page);
    page_writer
        .media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
        .parent(pages)
        .contents(content);
    page_writer.resources().fonts().pair(font_name, type0);
    page_writer.finish();
    pdf.document_info(info)
        .title(TextStr("学时证明"))
        .producer(TextStr("safequiz"));

    pdf.type0_font(type0)
        .base_font(base_font)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font)
        .to_unicode(to_unicode);
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let mut cid = pdf.cid_font(cid_font);
    cid.subtype(CidFontType::Type2)
        .base_font(base_font)
        .system_info(system_info)
        .font_descriptor(descriptor)
        .default_width(1000.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    {
        let mut widths = cid.widths();
        for (c, id) in &cids {
            widths.consecutive(*id, [advance(*c)]);
        }
    }
    cid.finish();
    let scale = |units: i16| f32::from(units) * 1000.0 / em;
    let bbox = face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(base_font)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            scale(bbox.x_min),
            scale(bbox.y_min),
            scale(bbox.x_max),
            scale(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(scale(face.ascender()))
        .descent(scale(face.descender()))
        .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(80.0)
        .font_file2(font_file);
    let compressed_font = deflate(&subset);
    pdf.stream(font_file, &compressed_font)
        .filter(Filter::FlateDecode)
        .pair(
            Name(b"Length1"),
            i32::try_from(subset.len()).unwrap_or(i32::MAX),
        );

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
    for (c, id) in &cids {
        cmap.pair(*id, *c);
    }
    let cmap = cmap.finish();
    pdf.stream(to_unicode, &cmap);

    let mut ops = Content::new();
    // A frame in the colour of a seal.
    ops.set_stroke_rgb(0.62, 0.11, 0.11)
        .set_line_width(3.0)
        .rect(30.0, 30.0, WIDTH - 60.0, HEIGHT - 60.0)
        .stroke()
        .set_line_width(0.8)
        .rect(38.0, 38.0, WIDTH - 76.0, HEIGHT - 76.0)
        .stroke();
    ops.set_fill_gray(0.0);
    for line in &lines {
        let x = line
            .x
            .unwrap_or_else(|| (WIDTH - width_of(&line.text, line.size)) / 2.0);
        let encoded: Vec<u8> = line
            .text
            .chars()
            .flat_map(|c| cids.get(&c).copied().unwrap_or(0).to_be_bytes())
            .collect();
        ops.begin_text()
            .set_font(font_name, line.size)
            .next_line(x, line.y)
            .show(Str(&encoded))
            .end_text();
    }
    draw_qr(&mut ops, verify_url)?;
    let ops = deflate(&ops.finish());
    pdf.stream(content, &ops).filter(Filter::FlateDecode);
    Ok(pdf.finish())
}

/// The page's lines: the title, the statement, the facts (a long title wraps), the serial, the
/// URL and the QR caption.
fn layout(facts: &Facts, verify_url: &str, width_of: &dyn Fn(&str, f32) -> f32) -> Vec<Line> {
    let mut lines = vec![Line {
        text: "学时证明".to_owned(),
        size: 36.0,
        x: None,
        y: 470.0,
    }];
    lines.push(Line {
        text: format!(
            "兹证明下列人员参加本次竞赛，计分成绩达到 {} 分以上，记 {} 学时。",
            facts.min_score, facts.hours
        ),
        size: 14.0,
        x: Some(LEFT),
        y: 415.0,
    });
    let rows = [
        ("姓　　名：", facts.name.clone()),
        ("单　　位：", facts.organization.clone()),
        ("竞赛活动：", facts.campaign.clone()),
        ("成　　绩：", format!("{} 分", facts.score)),
        ("学　　时：", format!("{} 学时", facts.hours)),
        ("日　　期：", facts.date.clone()),
    ];
    let mut y = 375.0;
    let size = 16.0;
    let room = QR_X - 20.0 - LEFT;
    for (label, value) in rows {
        let mut text = label.to_owned();
        for c in value.chars() {
            text.push(c);
            if width_of(&text, size) > room {
                text.pop();
                lines.push(Line {
                    text,
                    size,
                    x: Some(LEFT),
                    y,
                });
                y -= 24.0;
                text = format!("　　　　　{c}");
            }
        }
        lines.push(Line {
            text,
            size,
            x: Some(LEFT),
            y,
        });
        y -= 34.0;
    }
    lines.push(Line {
        text: format!("证书编号：{}", facts.serial),
        size: 11.0,
        x: Some(LEFT),
        y: 95.0,
    });
    lines.push(Line {
        text: format!("核验地址：{verify_url}"),
        size: 9.0,
        x: Some(LEFT),
        y: 78.0,
    });
    lines.push(Line {
        text: "扫码核验".to_owned(),
        size: 11.0,
        x: Some(QR_X + QR_SIZE / 2.0 - width_of("扫码核验", 11.0) / 2.0),
        y: QR_Y - 16.0,
    });
    lines
}

/// The QR code of `url` at the bottom right: each run of dark modules in a row is one rectangle.
fn draw_qr(ops: &mut Content, url: &str) -> Result<(), CertificateError> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|error| CertificateError::Qr(error.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    // Four modules of quiet zone on every side.
    let module = QR_SIZE / (width as f32 + 8.0);
    ops.set_fill_gray(1.0)
        .rect(QR_X, QR_Y, QR_SIZE, QR_SIZE)
        .fill_nonzero()
        .set_fill_gray(0.0);
    for row in 0..width {
        let mut column = 0;
        while column < width {
            if colors[row * width + column] == qrcode::Color::Dark {
                let start = column;
                while column < width && colors[row * width + column] == qrcode::Color::Dark {
                    column += 1;
                }
                let x = QR_X + (start as f32 + 4.0) * module;
                let y = QR_Y + QR_SIZE - (row as f32 + 5.0) * module;
                ops.rect(x, y, (column - start) as f32 * module, module);
            } else {
                column += 1;
            }
        }
    }
    ops.fill_nonzero();
    Ok(())
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
    // Writing to a Vec cannot fail.
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            name: "张三丰".to_owned(),
            organization: "某某水利工程建设管理局第三分局".to_owned(),
            score: 92,
            min_score: 85,
            hours: 4,
            campaign:
                "水利工程建设安全生产风险管控“六项机制”知识竞赛（演示，一个很长的标题用来折行）"
                    .to_owned(),
            date: "2026年7月1日".to_owned(),
            serial: "water-six.42.0123456789abcdef0123".to_owned(),
        }
    }

    #[test]
    fn a_certificate_is_a_small_pdf_with_the_font_subset_embedded() {
        let font = CertificateFont::installed().expect("tests/run installs fonts-wqy-microhei");
        let pdf = render(
            &font,
            &facts(),
            "http://127.0.0.1:8080/verify/water-six.42.0123456789abcdef0123",
        )
        .expect("renders");
        if let Some(path) = std::env::var_os("CERTIFICATE_SAMPLE") {
            std::fs::write(path, &pdf).expect("writes the sample");
        }
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        assert!(pdf.len() < 200_000, "{} bytes", pdf.len());
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/FontFile2"), "the font is embedded");
        assert!(text.contains("/Identity-H"));
        // The subset holds the page's glyphs, not the 30,000 of the font.
        assert!(pdf.len() < 100_000, "{} bytes", pdf.len());
    }
}

